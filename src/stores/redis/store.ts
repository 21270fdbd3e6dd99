import { CacheOptionError } from '../../api/errors.js';
import type {
  CacheStore,
  FillWrite,
  IndexRef,
  LeaseAnswerOf,
  LeaseState,
  LeaseWatch,
  StatsReport,
  Subscription,
} from '../types.js';
import { type Registry, shareOnClient } from './client-hooks.js';
import { RedisConnection } from './connection.js';
import type { RedisDriver } from './driver.js';
import { text } from './driver.js';
import { driverFor, type RedisClient } from './drivers/index.js';
import * as leases from './leases.js';
import { FillNotifications } from './notifications.js';
import { bulkReply, integerReply } from './replies.js';
import { deleteMatchingOn, scanNodes } from './scan.js';
import { MARK_STALE } from './scripts.js';
import { batchesBySlot } from './slots.js';
import { readStats, recordStats } from './stats.js';
import { RedisWrites } from './writes.js';

export {
  type IORedisClient,
  isIORedisClient,
  isNodeRedisClient,
  isRedisClient,
  type NodeRedisClient,
  type RedisClient,
} from './drivers/index.js';

/** Options of {@link RedisStore}. */
export interface RedisStoreOptions {
  /**
   * Keys fetched per SCAN step when deleting by pattern (`clearCache`, `evict` with a pattern).
   * @default 1000
   */
  scanCount?: number;
  /**
   * Send the reads made in one tick as one `MGET` (see "Performance" in the README). Single-node and
   * Sentinel clients only; a Cluster client always reads key by key.
   * @default true
   */
  batchReads?: boolean;
}

const DELETE_BATCH = 500;
/** Keys marked stale per script call (a Cluster: per slot). */
const MARK_BATCH = 500;

/** Fill notifications, one per client: shared by every store on it (one pub/sub connection, not one each). */
const NOTIFICATIONS: Registry<FillNotifications> = new WeakMap();

/**
 * A {@link CacheStore} on a Redis client you own — ioredis (`Redis`, `Cluster`, Sentinel) or node-redis
 * 5 and 6 (`createClient()`, `createCluster()`, `createSentinel()`); the cache never quits or
 * reconfigures it. Commands are only sent while the client is ready, so nothing piles up in its offline
 * queue while Redis is away. Every multi-key operation only touches keys that share one hash tag, and
 * pattern deletes SCAN every master. What differs between the libraries is in `drivers/`.
 */
export class RedisStore implements CacheStore {
  /** The client you gave (the cache never quits or reconfigures it). */
  readonly client: RedisClient;
  /** Each read is a new Buffer from the connection's parser: nothing else holds it. */
  readonly freshReads = true;
  private readonly scanCount: number;
  /** What differs between client libraries: commands, connection state, topology, subscriptions. */
  private readonly driver: RedisDriver;
  /** Every command goes through it: ordering, one socket write per tick, refusals learnt. */
  private readonly connection: RedisConnection;
  private readonly writes: RedisWrites;
  /** Whether the client has been ready once (before that, "not ready" means starting, not lost). */
  private everReady: boolean;
  /** Waiters for another process's fill are told when it is written (see `notifications.ts`). */
  private readonly notifications: { hook: FillNotifications; release: () => void };

  constructor(client: RedisClient, options: RedisStoreOptions = {}) {
    const scanCount = options.scanCount ?? 1000;
    if (!Number.isInteger(scanCount) || scanCount < 1) {
      throw new CacheOptionError('scanCount', scanCount, 'a positive integer');
    }
    const batchReads = options.batchReads ?? true;
    if (typeof batchReads !== 'boolean') throw new CacheOptionError('batchReads', batchReads, 'a boolean');
    this.driver = driverFor(client);
    this.client = client;
    this.scanCount = scanCount;
    this.connection = new RedisConnection(this.driver, batchReads);
    this.writes = new RedisWrites(this.connection);
    // Learnt from the state each call checks (`isReady`), not from a listener left on your client.
    this.everReady = this.driver.isReady();
    // No connection until the first wait.
    const driver = this.driver;
    this.notifications = shareOnClient(NOTIFICATIONS, client, () => new FillNotifications(driver));
  }

  /** `ioredis` or `node-redis`: the library of the client. */
  get library(): 'ioredis' | 'node-redis' {
    return this.driver.library;
  }

  /**
   * Take back what this store added to your client (its listeners: see "When Redis fails" in the README).
   * `closeCache` calls it for a store it made from your client; call it yourself for a `RedisStore` you
   * made, once no cached instance uses it.
   */
  close(): void {
    this.notifications.release();
    this.driver.release();
  }

  lastError(): unknown {
    return this.driver.lastError();
  }

  /** The master serving a key's slot on a Cluster (`undefined` on a single node: one set of breakers). */
  nodeOf(key: string): string | undefined {
    return this.driver.nodeOf(key);
  }

  whenStarted(): Promise<void> | null {
    return this.everReady ? null : this.driver.starting();
  }

  onReady(listener: () => void): () => void {
    return this.driver.onReady(listener);
  }

  supports(feature: 'leases' | 'writes'): boolean {
    const { capabilities } = this.connection;
    const writes = capabilities.allows('writes');
    return feature === 'writes' ? writes : writes && capabilities.allows('scripting');
  }

  isReady(): boolean {
    if (!this.driver.isReady()) return false;
    this.everReady = true;
    return true;
  }

  state(): string {
    return this.driver.state();
  }

  get(key: string): Promise<Uint8Array | null> {
    const { reads } = this.connection;
    return reads ? reads.get(key) : this.driver.get(key).then(bulkReply('GET'));
  }

  /**
   * A reply could not belong to its command: drop the connection and reconnect (ioredis
   * `disconnect(true)`, node-redis 6 its own desync reset; the commands still waiting on it fail, and are
   * misses). Besides sending commands and its listeners, this is the one thing the cache does to the
   * client you own.
   */
  distrust(): void {
    this.driver.distrust();
  }

  set(key: string, value: Uint8Array, ttlMs: number, indexes: readonly IndexRef[]): Promise<void> {
    return this.writes.fill({ key, value, ttlMs, indexes });
  }

  writeFill(write: FillWrite): Promise<void> {
    return this.writes.fill(write);
  }

  replaceHead(
    key: string,
    oldHead: Uint8Array,
    newHead: Uint8Array,
    ttlMs: number,
    lease?: { key: string; token: string; ttlMs?: number },
  ): Promise<boolean> {
    return this.writes.replaceHead(key, oldHead, newHead, ttlMs, lease);
  }

  async delete(keys: readonly string[]): Promise<number> {
    this.connection.beforeCommand();
    if (keys.length === 0) return 0;
    const { driver } = this;
    if (this.connection.cluster) {
      const counts = await Promise.all(keys.map((key) => driver.send(key, ['UNLINK', key])));
      return counts.reduce((sum: number, n) => sum + Number(n), 0);
    }
    let removed = 0;
    for (let i = 0; i < keys.length; i += DELETE_BATCH) {
      const batch = keys.slice(i, i + DELETE_BATCH);
      removed += Number(await driver.send(batch[0], ['UNLINK', ...batch]));
    }
    return removed;
  }

  async deleteIndexed(indexKeys: readonly string[]): Promise<number> {
    const removed = await this.delete(await this.indexMembers(indexKeys));
    await this.delete(indexKeys);
    return removed;
  }

  async indexMembers(indexKeys: readonly string[]): Promise<string[]> {
    this.connection.beforeCommand();
    const members = new Set<string>();
    for (const index of indexKeys) {
      // A value of another type under an index's name fails the eviction (WRONGTYPE): the entries it should
      // list cannot be found, and an eviction that silently did nothing would be a wrong answer.
      const listed = await this.driver.send(index, ['ZRANGE', index, 0, -1]);
      if (!Array.isArray(listed)) throw new Error(`unexpected reply to ZRANGE: ${typeof listed}`);
      for (const member of listed) {
        const key = text(member);
        if (key !== null) members.add(key);
      }
    }
    return [...members];
  }

  /**
   * Mark entries stale in place (`MARK_STALE`: one script per batch of keys of one slot — on a single
   * node, up to 500 keys a call), in parallel.
   */
  async markStale(keys: readonly string[], staleAt: number, graceMs: number, header: Uint8Array): Promise<number> {
    const { connection } = this;
    connection.beforeCommand();
    const batches = batchesBySlot(keys, connection.cluster, MARK_BATCH);
    const headerArg = Buffer.from(header);
    const counts = await Promise.all(
      batches.map((batch) =>
        MARK_STALE.run(this.driver, batch, [Math.floor(staleAt), Math.max(0, Math.floor(graceMs)), headerArg])
          .catch(connection.learn)
          .then(integerReply('MARK_STALE', 0, batch.length)),
      ),
    );
    return counts.reduce((sum, n) => sum + n, 0);
  }

  scan(pattern: string): AsyncIterable<string[]> {
    this.connection.beforeCommand();
    return scanNodes(this.connection.masters(), pattern, this.scanCount);
  }

  async deleteMatching(pattern: string, filter?: (key: string) => boolean): Promise<number> {
    const { connection } = this;
    connection.beforeCommand();
    const nodes = await connection.masters();
    const counts = await Promise.all(
      nodes.map((node) => deleteMatchingOn(node, pattern, this.scanCount, connection.cluster, filter)),
    );
    return counts.reduce((sum, n) => sum + n, 0);
  }

  /** Operator tooling (the CLI's `stats`): each key's `MEMORY USAGE` in bytes, `null` where it is refused. */
  memoryUsage(keys: readonly string[]): Promise<(number | null)[]> {
    return Promise.all(
      keys.map((key) =>
        this.driver.send(key, ['MEMORY', 'USAGE', key]).then(
          (reply) => (typeof reply === 'number' ? reply : null),
          () => null,
        ),
      ),
    );
  }

  recordStats(report: StatsReport): Promise<void> {
    return recordStats(this.connection, report);
  }

  readStats(
    countersKey: string,
    instancePattern: string,
  ): Promise<{ counters: Record<string, string>; instances: string[] }> {
    return readStats(this.connection, countersKey, instancePattern, this.scanCount);
  }

  async publish(channel: string, message: string): Promise<void> {
    const { connection } = this;
    connection.beforeCommand();
    if (!connection.capabilities.allows('publish')) return;
    await this.driver.send(undefined, ['PUBLISH', channel, message]).catch(connection.learn);
  }

  subscribe(channel: string, onMessage: (message: string) => void, listening: (up: boolean) => void): Subscription {
    return this.driver.subscribe(channel, onMessage, listening);
  }

  acquireLeaseAndGet(
    leaseKey: string,
    token: string,
    ttlMs: number,
    entryKey: string,
  ): Promise<LeaseAnswerOf<{ lease: LeaseState; value: Uint8Array | null }>> {
    return leases.acquireLeaseAndGet(this.connection, leaseKey, token, ttlMs, entryKey, this.notifying());
  }

  getOrAcquireLease(
    entryKey: string,
    leaseKey: string,
    token: string,
    ttlMs: number,
  ): Promise<LeaseAnswerOf<{ value: Uint8Array | null; lease: LeaseState | null }>> {
    return leases.getOrAcquireLease(this.connection, entryKey, leaseKey, token, ttlMs, this.notifying());
  }

  acquireLease(key: string, token: string, ttlMs: number): Promise<LeaseState> {
    return leases.acquireLease(this.connection, key, token, ttlMs);
  }

  renewLease(key: string, token: string, ttlMs: number): Promise<void> {
    return leases.renewLease(this.connection, key, token, ttlMs);
  }

  releaseLease(key: string, token: string, uncacheableMs = 0): Promise<void> {
    return leases.releaseLease(this.connection, key, token, uncacheableMs, this.connection.notifyCommand());
  }

  /**
   * Be told when another process's fill of this lease is written or let go: a subscription to the lease
   * key's channel on the store's pub/sub connection (see `notifications.ts`); `null` while refused.
   */
  watchLease(leaseKey: string): LeaseWatch | null {
    return this.notifying() ? this.notifications.hook.watch(leaseKey) : null;
  }

  /** Whether a held lease is worth marking as watched: holders can publish, waiters can subscribe. */
  private notifying(): boolean {
    return this.connection.notifyCommand() !== '' && this.notifications.hook.usable();
  }
}
