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

/** Everything a fill writes, for stores that can do it in one call ({@link CacheStore.writeFill}). */
export interface FillWrite {
  key: string;
  value: Uint8Array;
  ttlMs: number;
  indexes: readonly string[];
  /** Release this lease (compare-and-delete) once the entry is stored. */
  lease?: { key: string; token: string };
  /** Publish this message once the entry is stored. */
  announce?: { channel: string; message: string };
}

export interface CacheStore {
  /** The stored bytes, or `null` when the key does not exist (or has expired). */
  get(key: string): Promise<Uint8Array | null>;

  /**
   * Store `value` under `key` for `ttlMs` milliseconds, overwriting whatever is there (of any type),
   * and add `key` to every index in `indexes`. An index must not outlive its longest-lived member and
   * must forget members whose entries have expired.
   */
  set(key: string, value: Uint8Array, ttlMs: number, indexes: readonly string[]): Promise<void>;

  /** Delete these keys; resolves to how many existed. */
  delete(keys: readonly string[]): Promise<number>;

  /** Delete every live key listed in these indexes, and the indexes; resolves to how many keys existed. */
  deleteIndexed(indexKeys: readonly string[]): Promise<number>;

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

  /** A short state name for diagnostics (e.g. the ioredis client status). */
  state?(): string;

  /**
   * While the store makes its first connection (or has not started one: a lazy client, which this call
   * connects), a promise that settles once it is ready; `null` otherwise (then "not ready" means a
   * connection was lost, and calls fail at once). The cache waits for it within `storeTimeout`.
   */
  whenStarted?(): Promise<void> | null;

  /** Call `listener` each time the store becomes ready again (after a reconnect): the cache probes at once. */
  onReady?(listener: () => void): void;

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
   * call. Without it, the two calls are sent back to back.
   */
  acquireLeaseAndGet?(
    leaseKey: string,
    token: string,
    ttlMs: number,
    entryKey: string,
  ): Promise<{ lease: LeaseState; value: Uint8Array | null }>;

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
  ): Promise<{ value: Uint8Array | null; lease: LeaseState | null }>;

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
    lease?: { key: string; token: string },
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
  /** Broadcast `message` on `channel` to every process (Redis `PUBLISH`). Optional: used by `l1`. */
  publish?(channel: string, message: string): Promise<void>;

  /**
   * Listen to `channel` on a dedicated connection. `listening(false)` whenever messages may be missed
   * (connecting, reconnecting), `listening(true)` once subscribed again. Optional: without it, `l1`
   * entries are only bounded by `l1.ttl` across processes.
   */
  subscribe?(channel: string, onMessage: (message: string) => void, listening: (up: boolean) => void): Subscription;
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

/** A live subscription; `close()` ends its connection. */
export interface Subscription {
  close(): Promise<void>;
}
