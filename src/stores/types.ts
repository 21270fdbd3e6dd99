/**
 * The storage contract. A store keeps opaque byte values with an expiry, plus "indexes": named sets of
 * value keys (the variants of one request, the entries carrying one tag) that can be deleted together.
 *
 * Implementations: {@link RedisStore} (ioredis `Redis` or `Cluster`) and {@link MemoryStore}. Any object
 * with these methods can be passed as `store`. Calls on the keys of one request are applied in the order
 * they are made (true of one Redis connection, and of one Cluster slot): the fleet coordination sends a
 * lease call and a read back to back and relies on the read seeing everything before the lease call. Methods may reject; the cache treats every rejection as a
 * miss (reads) or a dropped write, bounds every call by `storeTimeout`, and reports it to `onError`.
 */
/** The answer of {@link CacheStore.acquireLease}. */
export type LeaseState = 'acquired' | 'held' | 'uncacheable';

/** The value a lease key holds after a fill whose answer could not be stored ("hit-for-miss"). */
export const UNCACHEABLE_MARKER = '!uncacheable';

/** How long a hit-for-miss marker tells waiters "go upstream yourselves" after an unstorable answer. */
export const UNCACHEABLE_MARKER_MS = 1000;

/**
 * The longest a live lease (or marker) taken with `ttlMs` can have left: a holder renews its lease to
 * `ttlMs`, a marker lasts {@link UNCACHEABLE_MARKER_MS}. A lease key with more, or with no expiry, is not
 * a live holder's (a foreign or planted value): stores take it over rather than wait on it.
 */
export function longestLeaseMs(ttlMs: number): number {
  return Math.ceil(Math.max(ttlMs, UNCACHEABLE_MARKER_MS)) + 50;
}

/**
 * An index an entry is added to: its key, or its key and the member that stands for the entry there (by
 * default the entry's own key). The cache passes the object form only to stores with `indexMembers`.
 */
export type IndexRef = string | { readonly key: string; readonly member: string };

/** The key of an index reference. */
export function indexKey(index: IndexRef): string {
  return typeof index === 'string' ? index : index.key;
}

/** Everything a fill writes, for stores that can do it in one call ({@link CacheStore.writeFill}). */
export interface FillWrite {
  key: string;
  value: Uint8Array;
  ttlMs: number;
  indexes: readonly IndexRef[];
  /**
   * Release this lease (compare-and-delete) once the entry is stored. `ttlMs`: the lease's own TTL
   * (`lockTtl`), the most another holder's lease found there is given back if it is not ours.
   */
  lease?: { key: string; token: string; ttlMs?: number };
  /** Publish this message once the entry is stored. */
  announce?: { channel: string; message: string };
}

export interface CacheStore {
  /** The stored bytes, or `null` when the key does not exist (or has expired). */
  get(key: string): Promise<Uint8Array | null>;

  /**
   * Store `value` under `key` for `ttlMs` milliseconds, overwriting whatever is there (of any type),
   * and add `key` (or the member an {@link IndexRef} names) to every index in `indexes`. An index must not
   * outlive its longest-lived member and must forget members whose entries have expired.
   */
  set(key: string, value: Uint8Array, ttlMs: number, indexes: readonly IndexRef[]): Promise<void>;

  /** Delete these keys; resolves to how many existed. */
  delete(keys: readonly string[]): Promise<number>;

  /** Delete every live key listed in these indexes, and the indexes; resolves to how many keys existed. */
  deleteIndexed(indexKeys: readonly string[]): Promise<number>;

  /**
   * Optional (soft eviction): mark these entries stale from `staleAt` (ms since epoch), to be served stale
   * — while one refresh runs — until `staleAt + graceMs` at the latest: write the stamp of `stamp.ts` in
   * place, into each value that starts with `header` (the entry format's magic and version), without
   * reading or moving it. An entry marked before keeps its earlier times; a key whose value does not start
   * with `header` is left alone. Resolves to how many were marked.
   */
  markStale?(keys: readonly string[], staleAt: number, graceMs: number, header: Uint8Array): Promise<number>;

  /**
   * Optional: the members these indexes list (entry keys, or the members {@link IndexRef}s named). With it,
   * the cache indexes a request's variants by their short id, and only the variants that need it.
   */
  indexMembers?(indexKeys: readonly string[]): Promise<string[]>;

  /**
   * Delete every key matching a Redis glob pattern (`*`, `?`, `[…]`, `\` escapes), incrementally
   * (SCAN, never KEYS), and accepted by `filter` when one is given; resolves to how many were deleted.
   */
  deleteMatching(pattern: string, filter?: (key: string) => boolean): Promise<number>;

  /**
   * Try to take the fill lease `key` for `ttlMs` (`SET key token NX PX ttlMs`). Resolves `'acquired'`
   * when taken, `'held'` when another caller holds it, `'uncacheable'` when the key holds the
   * {@link UNCACHEABLE_MARKER} left by a holder whose answer could not be stored. Optional: a store
   * without leases gets in-process coalescing only.
   */
  acquireLease?(key: string, token: string, ttlMs: number): Promise<LeaseState>;

  /**
   * Release a lease only if `token` still owns it (compare-and-delete). With `uncacheableMs > 0`, replace
   * it by the {@link UNCACHEABLE_MARKER} for that long instead, so that waiters stop waiting at once.
   */
  releaseLease?(key: string, token: string, uncacheableMs?: number): Promise<void>;

  /**
   * `true` when every read resolves to bytes that nothing else holds (a fresh buffer per call, as from a
   * Redis connection): the first caller of a hit then gets a binary body without a copy. Omitted means
   * reads may return shared bytes (as `MemoryStore` does), and every caller gets a copy.
   */
  readonly freshReads?: boolean;

  /**
   * `false` while the store cannot serve (e.g. the Redis client is reconnecting): calls are then not
   * attempted at all, so nothing queues behind a dead connection. Omitted means always ready.
   */
  isReady?(): boolean;

  /**
   * Optional: the node that holds `key` (a Redis Cluster master, `host:port`), or `undefined` when not known
   * yet. The cache keeps a read and a write breaker per node: a dead or slow node skips only its own keys.
   */
  nodeOf?(key: string): string | undefined;

  /** A short state name for diagnostics (e.g. the ioredis client status). */
  state?(): string;

  /**
   * Optional: why the store is not ready, as its client said — its last connection error since it was last
   * ready (`NOAUTH`, `WRONGPASS`, `ECONNREFUSED`, a TLS error), or `undefined`. The cause of the
   * `CacheStoreUnavailableError`s the cache reports meanwhile.
   */
  lastError?(): unknown;

  /**
   * While the store makes its first connection (or has not started one: a lazy client, which this call
   * connects), a promise that settles once it is ready; `null` otherwise (then "not ready" means a
   * connection was lost, and calls fail at once). The cache waits for it within `storeTimeout`.
   */
  whenStarted?(): Promise<void> | null;

  /**
   * Call `listener` each time the store becomes ready again (after a reconnect): the cache probes at once.
   * Returns a function that removes the listener (called by `closeCache`: nothing is left on a client).
   */
  // biome-ignore lint/suspicious/noConfusingVoidType: a custom store's onReady may return nothing (void), or a remover.
  onReady?(listener: () => void): (() => void) | void;

  /**
   * Whether a feature works with this server and these credentials, as far as the store has found out:
   * `leases` (scripting and writes: fill leases and the folded read-or-lease), `writes`. A store that
   * finds a feature refused (an ACL without EVAL, a read-only replica, `maxmemory` reached) falls back to
   * what works and says so here; the cache then skips the calls that need it. Omitted means all work.
   */
  supports?(feature: 'leases' | 'writes'): boolean;

  /**
   * Optional: extend a held lease (`PEXPIRE` only if `token` still owns it) while its fetch runs, so that a
   * short lease outlives a slow upstream and a dead holder's lease expires soon.
   */
  renewLease?(key: string, token: string, ttlMs: number): Promise<void>;

  /**
   * A reply could not belong to the command it answered (another key's entry, a reply of the wrong type):
   * drop the connection and make a new one, so that replies meant for other commands stop being taken as
   * answers. Optional; the cache calls it at most once a second. A call that gets a reply of the wrong type
   * should reject with an error whose `desync` property is `true` (see {@link UnexpectedReplyError}).
   */
  distrust?(): void;

  /**
   * Optional fast path: take the lease (as {@link acquireLease}) and read `entryKey`, atomically, in one
   * call. Without it, the two calls are sent back to back. `holder`: the token of whoever holds the lease,
   * when it is `held` and the store can tell (waiters see a successor take over from a holder that died).
   */
  acquireLeaseAndGet?(
    leaseKey: string,
    token: string,
    ttlMs: number,
    entryKey: string,
  ): Promise<LeaseAnswerOf<{ lease: LeaseState; value: Uint8Array | null }>>;

  /**
   * Optional fast path for a read that will probably miss: read `entryKey` and, only when it is absent,
   * take the lease (as {@link acquireLease}), atomically, in one call. `lease` is `null` when the entry was
   * found (no lease was tried). Without it, a miss costs a read and then a lease call.
   */
  getOrAcquireLease?(
    entryKey: string,
    leaseKey: string,
    token: string,
    ttlMs: number,
  ): Promise<LeaseAnswerOf<{ value: Uint8Array | null; lease: LeaseState | null }>>;

  /**
   * Optional: be told when the fill lease `leaseKey` changes hands — its holder wrote the entry, released
   * the lease, or left the "uncacheable" marker — instead of polling for it. The store's lease calls made
   * after this (while the watch is open) ask the holder to say so (`acquireLeaseAndGet`,
   * `getOrAcquireLease`). `null` when the store cannot notify now (refused, no subscription connection):
   * the cache polls. Close the watch when done waiting.
   */
  watchLease?(leaseKey: string): LeaseWatch | null;

  /**
   * Optional fast path: `set` plus lease release plus announcement in one call. Without it, `set`,
   * `releaseLease` and `publish` are called separately.
   */
  writeFill?(write: FillWrite): Promise<void>;

  /**
   * Optional: after a revalidation (`304`), replace the head of a stored entry (everything before its
   * body) by `newHead` and set its TTL to `ttlMs`, only if the value still starts with `oldHead` (nobody
   * stored another answer meanwhile); then release `lease` (compare-and-delete) if given. Resolves `true`
   * when replaced. The body never travels: a revalidation costs one small write. Without it, the cache
   * writes the whole entry with `set`.
   */
  replaceHead?(
    key: string,
    oldHead: Uint8Array,
    newHead: Uint8Array,
    ttlMs: number,
    lease?: { key: string; token: string; ttlMs?: number },
  ): Promise<boolean>;
  /**
   * Optional: the live keys matching a Redis glob pattern, in batches, incrementally (SCAN, never KEYS):
   * what `listEntries`, `inspectEntry` and the CLI walk.
   */
  scan?(pattern: string): AsyncIterable<string[]>;
  /**
   * Optional: add `deltas` to the counters hash `countersKey` (`HINCRBY` each) and store `instance` under
   * `instanceKey` for `ttlMs`, in one round trip (the fleet-wide counters: see `fleetStats`).
   */
  recordStats?(report: StatsReport): Promise<void>;
  /** Optional: the counters hash, and the values of the live keys matching `instancePattern` (a glob). */
  readStats?(
    countersKey: string,
    instancePattern: string,
  ): Promise<{ counters: Record<string, string>; instances: string[] }>;
  /**
   * Optional: take back what the store added to resources it does not own (listeners on your client).
   * `closeCache` calls it for a store `withCache` made from a client you passed.
   */
  close?(): void;
  /** Broadcast `message` on `channel` to every process (Redis `PUBLISH`). Optional: used by `l1`. */
  publish?(channel: string, message: string): Promise<void>;

  /**
   * Listen to `channel` on a dedicated connection. `listening(false)` whenever messages may be missed
   * (connecting, reconnecting), `listening(true)` once subscribed again. Optional: without it, `l1`
   * entries are only bounded by `l1.ttl` across processes.
   */
  subscribe?(channel: string, onMessage: (message: string) => void, listening: (up: boolean) => void): Subscription;
}

/**
 * What a lease answer may add when the lease is `held`: `holder`, the holder's token (waiters see a
 * successor take over from a holder that died), and `leaseMs`, how long the lease has left (a waiter's
 * slow fallback poll is timed to its lapse).
 */
export type LeaseAnswerOf<T> = T & { holder?: string; leaseMs?: number };

/** What a {@link LeaseWatch} says happened to the lease it watches. */
export type LeaseEvent =
  /** The holder wrote the entry (or renewed it after a `304`). */
  | 'filled'
  /** The holder let the lease go without an entry (it gave up, or its callers left). */
  | 'released'
  /** The holder's answer could not be stored: go upstream. */
  | 'uncacheable'
  /** Notifications stopped (the subscription's connection dropped): poll from now on. */
  | 'lost'
  /** Nothing was said within the time given. */
  | 'timeout';

/** One notification of a {@link LeaseWatch}. */
export interface LeaseNotice {
  event: LeaseEvent;
  /**
   * With `'filled'`, when the entry was small enough to travel with the notice: its bytes (a copy of the
   * caller's own, to check like any stored value), and the token of the holder that wrote it.
   */
  value?: Uint8Array;
  holder?: string;
}

/** A subscription to one fill lease's notifications ({@link CacheStore.watchLease}). */
export interface LeaseWatch {
  /** Resolves `true` once the server confirmed the subscription, `false` when it cannot be had now. */
  readonly ready: Promise<boolean>;
  /**
   * The next notification since the last call (one that arrived meanwhile is not lost), `'lost'` when the
   * subscription dropped, or `'timeout'` after `ms`.
   */
  next(ms: number): Promise<LeaseNotice>;
  /** Stop watching (the store unsubscribes once no watch of this lease is left). */
  close(): void;
}

/** One instance's report for the fleet-wide counters ({@link CacheStore.recordStats}). */
export interface StatsReport {
  countersKey: string;
  deltas: Readonly<Record<string, number>>;
  instanceKey: string;
  /** The instance's own state, as JSON. */
  instance: string;
  ttlMs: number;
}

/** A reply that cannot be the answer to the command that got it: the connection may be out of step. */
export class UnexpectedReplyError extends Error {
  readonly desync = true;
  constructor(command: string, reply: unknown) {
    super(`unexpected reply to ${command}: ${describeReply(reply)}`);
    this.name = 'UnexpectedReplyError';
  }
}

function describeReply(reply: unknown): string {
  if (reply === null) return 'null';
  if (Buffer.isBuffer(reply)) return `${reply.length} bytes`;
  if (Array.isArray(reply)) return `an array of ${reply.length}`;
  return typeof reply === 'string' ? JSON.stringify(reply.slice(0, 40)) : typeof reply;
}

/**
 * Whether a store call failed on a value of another type under its key — Redis' `WRONGTYPE …`, or an error
 * whose `foreign` property is `true` — a foreign or planted value, not a sick store: the cache treats it
 * as a miss for that request alone (its fill overwrites the key) and the breakers do not count it.
 */
export function isForeignValue(error: unknown): boolean {
  if (typeof error !== 'object' || error === null) return false;
  if ((error as { foreign?: unknown }).foreign === true) return true;
  return error instanceof Error && error.message.startsWith('WRONGTYPE');
}

/** A live subscription; `close()` ends its connection. */
export interface Subscription {
  close(): Promise<void>;
}
