import { createInterface } from 'node:readline/promises';
import axios from 'axios';
import { clearCache, DEFAULT_GRACE_SECONDS, evict, evictTags } from '../api/evict.js';
import type { EvictOptions } from '../api/types.js';
import { closeCache, withCache } from '../api/with-cache.js';
import { readFleetStats } from '../fleet/counters.js';
import { DROP_ALL, invalidationChannel } from '../local/invalidation.js';
import { inspectEntry, labelOf, listEntries } from '../operate/entries.js';
import { escapeGlob } from '../stores/glob.js';
import { type RedisClient, RedisStore } from '../stores/redis/store.js';
import { CliError } from './connect.js';
import { safe, safeJson } from './escape.js';
import { formatDetails, formatList, formatStats, type StatsView } from './format.js';

/** What a command needs: the connection, the prefix, how to print. Resolves to the exit code (0 or 1). */
export interface Context {
  client: RedisClient;
  prefix: string;
  json: boolean;
  limit: number;
  yes: boolean;
  /** `--soft` (with `--grace`): evictions mark stale instead of deleting; `null` for hard ones. */
  soft: EvictOptions | null;
  timeoutMs: number;
  out: (text: string) => void;
}

const EXIT_DONE = 0;
const EXIT_NOTHING = 1;

function print(ctx: Context, value: unknown, text: string): void {
  ctx.out(ctx.json ? safeJson(value) : text);
}

export async function stats(ctx: Context): Promise<number> {
  const store = new RedisStore(ctx.client);
  const fleet = await readFleetStats(store, ctx.prefix);
  let entries = 0;
  let memory = 0;
  let measured = true;
  for await (const keys of store.scan(`${escapeGlob(ctx.prefix)}*`)) {
    entries += keys.filter(isEntryKey).length;
    const usage = await store.memoryUsage(keys);
    for (const n of usage) {
      if (typeof n === 'number') memory += n;
      else measured = false;
    }
  }
  const view: StatsView = { prefix: ctx.prefix, ...fleet, entries, memoryBytes: measured ? memory : null };
  print(ctx, view, formatStats(view));
  return EXIT_DONE;
}

/** Entry keys are `<prefix>{rid}:<vid>:<label>`; leases, indexes and the counters are not entries. */
function isEntryKey(key: string): boolean {
  const tail = key.slice(key.indexOf('}:') + 2);
  return key.includes('}:') && tail.includes(':') && !tail.endsWith(':lease') && !key.includes('{stats}');
}

export async function ls(ctx: Context, pattern: string | undefined): Promise<number> {
  const options = { prefix: ctx.prefix, limit: ctx.limit, ...(pattern ? { match: pattern } : {}) };
  const { entries, more } = await listEntries(ctx.client, options);
  print(ctx, { entries, more }, formatList(entries, more));
  return entries.length === 0 ? EXIT_NOTHING : EXIT_DONE;
}

export async function inspect(ctx: Context, target: string | undefined): Promise<number> {
  if (!target) throw new CliError('inspect needs a URL (https://host/path) or an entry key');
  if (!target.startsWith(ctx.prefix) && !/^[a-z][a-z0-9+.-]*:\/\//i.test(target)) {
    throw new CliError(
      `inspect ${JSON.stringify(target)}: expected an absolute URL or a key starting with ${ctx.prefix}`,
    );
  }
  const entries = await inspectEntry(ctx.client, target, { prefix: ctx.prefix });
  print(ctx, entries, entries.length === 0 ? `nothing stored for ${safe(target)}` : formatDetails(entries));
  return entries.length === 0 ? EXIT_NOTHING : EXIT_DONE;
}

/** What an eviction did, as the CLI says it. */
function verb(ctx: Context): string {
  if (!ctx.soft) return 'evicted';
  return `marked stale (grace ${ctx.soft.grace ?? DEFAULT_GRACE_SECONDS} s)`;
}

/** A cached instance on the connection, for the library's own eviction functions. */
function evictor(ctx: Context) {
  return withCache(axios.create(), {
    store: ctx.client,
    prefix: ctx.prefix,
    fleetStats: false,
    evictTimeout: ctx.timeoutMs,
  });
}

export async function evictCommand(ctx: Context, target: string | undefined): Promise<number> {
  if (!target) throw new CliError('evict needs a URL or a URL pattern with * (https://host/path/*)');
  const api = evictor(ctx);
  try {
    const removed = await evict(api, target, ctx.soft ?? undefined);
    print(ctx, { removed, soft: ctx.soft !== null }, `${verb(ctx)} ${removed} entr${removed === 1 ? 'y' : 'ies'}`);
    return removed === 0 ? EXIT_NOTHING : EXIT_DONE;
  } finally {
    await closeCache(api);
  }
}

export async function evictTagCommand(ctx: Context, tags: string[]): Promise<number> {
  if (tags.length === 0) throw new CliError('evict-tag needs at least one tag');
  const api = evictor(ctx);
  try {
    const removed = await evictTags(api, tags, ctx.soft ?? undefined);
    print(
      ctx,
      { removed, soft: ctx.soft !== null },
      `${verb(ctx)} ${removed} entr${removed === 1 ? 'y' : 'ies'} tagged ${tags.map(safe).join(', ')}`,
    );
    return removed === 0 ? EXIT_NOTHING : EXIT_DONE;
  } finally {
    await closeCache(api);
  }
}

export async function clear(ctx: Context): Promise<number> {
  if (ctx.soft) {
    // Nothing is deleted: no confirmation asked.
    const api = evictor(ctx);
    try {
      const marked = await clearCache(api, ctx.soft);
      print(
        ctx,
        { removed: marked, soft: true },
        `${verb(ctx)} ${marked} entr${marked === 1 ? 'y' : 'ies'} under ${ctx.prefix}`,
      );
      return marked === 0 ? EXIT_NOTHING : EXIT_DONE;
    } finally {
      await closeCache(api);
    }
  }
  if (!ctx.yes) {
    if (!process.stdin.isTTY)
      throw new CliError(`clear deletes every cached key under ${ctx.prefix}: confirm with --yes`);
    const prompt = createInterface({ input: process.stdin, output: process.stderr });
    const answer = await prompt.question(
      `Delete every cached key under ${ctx.prefix} (the fleet counters stay)? Type the prefix to confirm: `,
    );
    prompt.close();
    if (answer.trim() !== ctx.prefix) {
      ctx.out('not confirmed: nothing deleted');
      return EXIT_NOTHING;
    }
  }
  const api = evictor(ctx);
  try {
    const removed = await clearCache(api);
    print(ctx, { removed }, `deleted ${removed} key${removed === 1 ? '' : 's'} under ${ctx.prefix}`);
    return removed === 0 ? EXIT_NOTHING : EXIT_DONE;
  } finally {
    await closeCache(api);
  }
}

/**
 * Print every overwrite and eviction announced under the prefix, until interrupted (or `forMs` passes).
 * Writes are announced while someone listens: this subscription counts.
 */
export async function tail(ctx: Context, forMs: number | null): Promise<number> {
  const store = new RedisStore(ctx.client);
  const channel = invalidationChannel(ctx.prefix);
  const onMessage = (message: string) => {
    const newline = message.indexOf('\n');
    const instance = message.slice(0, newline);
    const at = new Date().toISOString();
    for (const line of message.slice(newline + 1).split('\n')) {
      const what =
        line === DROP_ALL
          ? { change: 'bulk', target: '(tags, pattern or clear: every in-process copy dropped)' }
          : line.startsWith('^')
            ? { change: 'evict', target: line.includes('\t') ? line.slice(line.indexOf('\t') + 1) : line.slice(1) }
            : { change: 'write', target: described(line) };
      print(ctx, { at, instance, ...what }, `${at}  ${safe(instance)}  ${what.change.padEnd(5)}  ${safe(what.target)}`);
    }
  };
  // The store's own subscription (a connection of its own, on either client library).
  let subscribed: () => void = () => {};
  const up = new Promise<void>((resolve) => {
    subscribed = resolve;
  });
  const subscription = store.subscribe(channel, onMessage, (listening) => {
    if (listening) subscribed();
  });
  await Promise.race([up, new Promise((resolve) => setTimeout(resolve, ctx.timeoutMs))]);
  if (!ctx.json) ctx.out(`listening on ${channel} (Ctrl-C to stop)`);
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
    if (forMs !== null) setTimeout(resolve, forMs);
  });
  await subscription.close();
  store.close();
  return EXIT_DONE;
}

/** The method and URL an entry key names (as `ls` shows them). */
function described(key: string): string {
  const { method, url } = labelOf(key);
  return `${method} ${url}`;
}
