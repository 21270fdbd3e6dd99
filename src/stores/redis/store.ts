import type { Cluster, Redis } from 'ioredis';
import { CacheOptionError } from '../../api/errors.js';
import type { CacheStore, FillWrite, LeaseState, StatsReport, Subscription } from '../types.js';
import { type IORedisClient, isIORedisClient, RedisConnection } from './connection.js';
import * as leases from './leases.js';
import { bulkReply } from './replies.js';
import { deleteMatchingOn, scanNodes } from './scan.js';
import { readStats, recordStats } from './stats.js';
import { subscribeOn } from './subscribe.js';
import { RedisWrites } from './writes.js';

export { type IORedisClient, isIORedisClient } from './connection.js';

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

/** The client events that end a first connection attempt, one way or the other. */
const STARTUP_OUTCOMES = ['ready', 'close', 'end', 'error'] as const;

/**
 * A {@link CacheStore} on an ioredis client you own (the cache never connects, quits or reconfigures it).
 * Commands are only sent while the client is `ready`, so nothing piles up in ioredis' offline queue while
 * Redis is away. Works with `Redis` (single node, Sentinel) and `Cluster`: every multi-key operation only
 * touches keys that share one hash tag, and pattern deletes SCAN every master.
 */
export class RedisStore implements CacheStore {
  /** The client you gave (the cache never connects, quits or reconfigures it). */
  readonly client: IORedisClient;
  /** The same client, as the ioredis type it is. */
  private readonly redis: Redis | Cluster;
  /** Each read is a new Buffer from the connection's parser: nothing else holds it. */
  readonly freshReads = true;
  private readonly scanCount: number;
  /** Every command goes through it: ordering, one socket write per tick, refusals learnt. */
  private readonly connection: RedisConnection;
  private readonly writes: RedisWrites;
  /** Whether the client has been ready once (before that, "not ready" means starting, not lost). */
  private everReady: boolean;
  private starting: Promise<void> | null = null;

  constructor(client: IORedisClient, options: RedisStoreOptions = {}) {
    if (!isIORedisClient(client)) throw new CacheOptionError('store', client, 'an ioredis Redis or Cluster client');
    const keyPrefix = (client as { options?: { keyPrefix?: string } }).options?.keyPrefix;
    if (keyPrefix) {
      throw new CacheOptionError(
        'store',
        `ioredis client with keyPrefix ${JSON.stringify(keyPrefix)}`,
        'a client without keyPrefix (use the cache option "prefix" instead)',
      );
    }
    const scanCount = options.scanCount ?? 1000;
    if (!Number.isInteger(scanCount) || scanCount < 1) {
      throw new CacheOptionError('scanCount', scanCount, 'a positive integer');
    }
    const batchReads = options.batchReads ?? true;
    if (typeof batchReads !== 'boolean') throw new CacheOptionError('batchReads', batchReads, 'a boolean');
    this.client = client;
    this.redis = client as unknown as Redis | Cluster;
    this.scanCount = scanCount;
    this.connection = new RedisConnection(
      this.redis,
      (client as { isCluster?: boolean }).isCluster === true,
      batchReads,
    );
    this.writes = new RedisWrites(this.connection);
    this.everReady = this.redis.status === 'ready';
    this.redis.on?.('ready', () => {
      this.everReady = true;
    });
  }

  whenStarted(): Promise<void> | null {
    const status = this.redis.status;
    if (this.everReady || (status !== 'wait' && status !== 'connecting' && status !== 'connect')) return null;
    // A lazyConnect client waits for a first command, which the cache never sends while it is not ready.
    if (status === 'wait') this.redis.connect().catch(() => {});
    // Settled by whatever comes first — ready, or the attempt failing — so that the calls waiting on it
    // (each races it against its budget) never hold on to a promise that stays pending.
    this.starting ??= new Promise<void>((resolve) => {
      const settle = () => {
        for (const event of STARTUP_OUTCOMES) this.redis.off?.(event, settle);
        this.starting = null;
        resolve();
      };
      for (const event of STARTUP_OUTCOMES) this.redis.on?.(event, settle);
    });
    return this.starting;
  }

  onReady(listener: () => void): void {
    this.redis.on?.('ready', listener);
  }

  supports(feature: 'leases' | 'writes'): boolean {
    const { capabilities } = this.connection;
    const writes = capabilities.allows('writes');
    return feature === 'writes' ? writes : writes && capabilities.allows('scripting');
  }

  isReady(): boolean {
    return this.redis.status === 'ready';
  }

  state(): string {
    return this.redis.status;
  }

  get(key: string): Promise<Uint8Array | null> {
    const { reads } = this.connection;
    return reads ? reads.get(key) : this.redis.getBuffer(key).then(bulkReply('GET'));
  }

  /**
   * A reply could not belong to its command: drop the connection and reconnect (ioredis `disconnect(true)`;
   * the commands still waiting on it fail, and are misses). This is the one thing the cache does to the
   * client you own besides sending commands.
   */
  distrust(): void {
    this.redis.disconnect(true);
  }

  set(key: string, value: Uint8Array, ttlMs: number, indexes: readonly string[]): Promise<void> {
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
    lease?: { key: string; token: string },
  ): Promise<boolean> {
    return this.writes.replaceHead(key, oldHead, newHead, ttlMs, lease);
  }

  async delete(keys: readonly string[]): Promise<number> {
    this.connection.beforeCommand();
    if (keys.length === 0) return 0;
    if (this.connection.cluster) {
      const counts = await Promise.all(keys.map((key) => this.redis.unlink(key)));
      return counts.reduce((sum, n) => sum + n, 0);
    }
    let removed = 0;
    for (let i = 0; i < keys.length; i += DELETE_BATCH) {
      removed += await this.redis.unlink(...keys.slice(i, i + DELETE_BATCH));
    }
    return removed;
  }

  async deleteIndexed(indexKeys: readonly string[]): Promise<number> {
    this.connection.beforeCommand();
    const members = new Set<string>();
    for (const index of indexKeys) {
      for (const member of await this.redis.zrange(index, 0, -1)) members.add(member);
    }
    const removed = await this.delete([...members]);
    await this.delete(indexKeys);
    return removed;
  }

  scan(pattern: string): AsyncIterable<string[]> {
    this.connection.beforeCommand();
    return scanNodes(this.connection.masters(), pattern, this.scanCount);
  }

  async deleteMatching(pattern: string, filter?: (key: string) => boolean): Promise<number> {
    const { connection } = this;
    connection.beforeCommand();
    const counts = await Promise.all(
      connection.masters().map((node) => deleteMatchingOn(node, pattern, this.scanCount, connection.cluster, filter)),
    );
    return counts.reduce((sum, n) => sum + n, 0);
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
    await this.redis.publish(channel, message).catch(connection.learn);
  }

  subscribe(channel: string, onMessage: (message: string) => void, listening: (up: boolean) => void): Subscription {
    return subscribeOn(this.redis, channel, onMessage, listening);
  }

  acquireLeaseAndGet(
    leaseKey: string,
    token: string,
    ttlMs: number,
    entryKey: string,
  ): Promise<{ lease: LeaseState; value: Uint8Array | null }> {
    return leases.acquireLeaseAndGet(this.connection, leaseKey, token, ttlMs, entryKey);
  }

  getOrAcquireLease(
    entryKey: string,
    leaseKey: string,
    token: string,
    ttlMs: number,
  ): Promise<{ value: Uint8Array | null; lease: LeaseState | null }> {
    return leases.getOrAcquireLease(this.connection, entryKey, leaseKey, token, ttlMs);
  }

  acquireLease(key: string, token: string, ttlMs: number): Promise<LeaseState> {
    return leases.acquireLease(this.connection, key, token, ttlMs);
  }

  renewLease(key: string, token: string, ttlMs: number): Promise<void> {
    return leases.renewLease(this.connection, key, token, ttlMs);
  }

  releaseLease(key: string, token: string, uncacheableMs = 0): Promise<void> {
    return leases.releaseLease(this.connection, key, token, uncacheableMs);
  }
}
