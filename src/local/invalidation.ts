import type { StoreGuard } from '../stores/guard/guard.js';
import type { Subscription } from '../stores/types.js';
import type { LocalLayer } from './l1.js';

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
 * One instance's side of the fleet's invalidations: it announces the keys it overwrites or evicts, and —
 * with `l1` — follows the others' announcements, dropping those keys from its in-process layer.
 */
export class Invalidations {
  private readonly channel: string;
  /** The subscription behind `l1`, when the store has pub/sub and {@link listen} was called. */
  private subscription: Subscription | null = null;

  constructor(
    private readonly guard: StoreGuard,
    prefix: string,
    /** Identifies this instance's own messages (which it has applied already). */
    private readonly instanceId: string,
    private readonly l1: LocalLayer | null,
  ) {
    this.channel = invalidationChannel(prefix);
  }

  /**
   * With `l1`: follow the fleet's invalidations. The layer serves only while the subscription is live; when
   * it comes (back) up, everything learnt before is dropped, since messages may have been missed. A store
   * without pub/sub (MemoryStore: one process) keeps the layer usable, bounded by `l1.ttl`.
   */
  listen(): void {
    const { l1 } = this;
    if (!l1) return;
    const store = this.guard.store;
    if (!store.subscribe) {
      l1.usable = true;
      return;
    }
    this.subscription = store.subscribe(
      this.channel,
      (message) => this.receive(message),
      (up) => {
        // Down: nothing is served as fresh from here (copies are kept, for `l1.grace` only). Up: what was
        // learnt before is dropped, grace copies included — messages may have been missed meanwhile.
        if (up) l1.clear();
        l1.usable = up;
      },
    );
  }

  /** Stop following: the in-process layer serves nothing from now on, and the subscription is closed. */
  async close(): Promise<void> {
    if (this.l1) {
      this.l1.usable = false;
      this.l1.clear();
    }
    const subscription = this.subscription;
    this.subscription = null;
    await subscription?.close();
  }

  /**
   * Tell every process (and this one) that these entry keys changed or went away, so that no in-process
   * layer keeps serving them. Best effort: a failed publish is reported; other processes then keep their
   * copy for at most `l1.ttl`.
   */
  async announce(keys: string): Promise<void> {
    this.dropLocal(keys);
    if (!this.guard.store.publish) return;
    const { channel, message } = this.announcement(keys);
    await this.guard.call('publish', undefined, (s) => s.publish!(channel, message));
  }

  /** The channel and message announcing these keys (for stores that publish as part of a write). */
  announcement(keys: string): { channel: string; message: string } {
    return { channel: this.channel, message: `${this.instanceId}\n${keys}` };
  }

  /** Apply an invalidation message from the channel (our own announcements are already applied). */
  receive(message: string): void {
    const newline = message.indexOf('\n');
    if (newline === -1 || message.slice(0, newline) === this.instanceId) return;
    this.dropLocal(message.slice(newline + 1));
  }

  /** Drop these keys (or all, for DROP_ALL) from this instance's in-process layer. */
  dropLocal(keys: string): void {
    const { l1 } = this;
    if (!l1) return;
    if (keys === DROP_ALL) l1.clear();
    else
      for (const key of keys.split('\n')) {
        if (key.startsWith('^')) {
          const tab = key.indexOf('\t');
          l1.deletePrefix(tab === -1 ? key.slice(1) : key.slice(1, tab));
        } else l1.delete(key);
      }
  }
}
