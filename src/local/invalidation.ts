import type { CacheState } from '../api/state.js';

/**
 * Messages are `<instance id>\n<keys>`: the entry keys that changed, one per line (a line `^<prefix>`
 * stands for every key that starts with the prefix: all variants of one request; it may be followed by a
 * tab and the request's label, for readers such as the CLI's `tail`), or {@link DROP_ALL} for bulk
 * evictions (tags, patterns, clearCache), which drop every in-process entry.
 */
export const DROP_ALL = '*';

/** The pub/sub channel on which the processes sharing a prefix announce overwrites and evictions. */
export function invalidationChannel(prefix: string): string {
  return `${prefix}invalidate`;
}

/**
 * Tell every process (and this one) that these entry keys changed or went away, so that no in-process
 * layer keeps serving them. Best effort: a failed publish is reported; other processes then keep their
 * copy for at most `l1.ttl`.
 */
export async function announce(state: CacheState, keys: string): Promise<void> {
  dropLocal(state, keys);
  const store = state.guard.store;
  if (!store.publish) return;
  const { channel, message } = announcement(state, keys);
  await state.guard.call('publish', undefined, (s) => s.publish!(channel, message));
}

/** The channel and message announcing these keys (for stores that publish as part of a write). */
export function announcement(state: CacheState, keys: string): { channel: string; message: string } {
  return { channel: invalidationChannel(state.options.prefix), message: `${state.instanceId}\n${keys}` };
}

/** Apply an invalidation message from the channel (our own announcements are already applied). */
export function receiveInvalidation(state: CacheState, message: string): void {
  const newline = message.indexOf('\n');
  if (newline === -1 || message.slice(0, newline) === state.instanceId) return;
  dropLocal(state, message.slice(newline + 1));
}

/** Drop these keys (or all, for DROP_ALL) from this instance's in-process layer. */
export function dropLocal(state: CacheState, keys: string): void {
  if (!state.l1) return;
  if (keys === DROP_ALL) state.l1.clear();
  else
    for (const key of keys.split('\n')) {
      if (key.startsWith('^')) {
        const tab = key.indexOf('\t');
        state.l1.deletePrefix(tab === -1 ? key.slice(1) : key.slice(1, tab));
      } else state.l1.delete(key);
    }
}
