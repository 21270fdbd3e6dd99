import type { Cluster, Redis } from 'ioredis';
import { CacheOptionError } from '../api/errors.js';
import { Capabilities } from './capabilities.js';
import { ReadBatch } from './read-batch.js';
import { bulkReply, hashTag, integerReply, isBulk, leaseState, toBuffer } from './redis-replies.js';
import { deleteMatchingOn, scanNodes } from './redis-scan.js';
import { subscribeOn } from './redis-subscribe.js';
import {
  INDEX_ADD,
  LEASE_ACQUIRE,
  LEASE_ACQUIRE_READ,
  LEASE_RELEASE,
  LEASE_RENEW,
  READ_OR_LEASE,
  REPLACE_HEAD,
  WRITE_FILL,
} from './scripts.js';
import {
  type CacheStore,
  type FillWrite,
  type LeaseState,
  type StatsReport,
  type Subscription,
  UNCACHEABLE_MARKER,
  UnexpectedReplyError,
} from './types.js';

/**
 * An ioredis client: a single-node (or Sentinel-managed) `Redis`, or a `Cluster`. Declared by the members
 * the cache recognises one by, so that the published types do not need ioredis (a memory-store user need
 * not install it); every ioredis `Redis` and `Cluster` is one.
 */
export interface IORedisClient {
  /** The connection state (`ready`, `connecting`, `reconnecting`, `end`, …). */
  readonly status: string;
  getBuffer(key: string): Promise<Buffer | null>;
  evalsha(...args: any[]): Promise<unknown>;
}

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

/** After a write whose announcement nobody received, announcements are left out for this long. */
const QUIET_PUBLISH_MS = 1000;

/** True for objects that look like an ioredis `Redis` or `Cluster` client. */
export function isIORedisClient(value: unknown): value is IORedisClient {
  const candidate = value as Partial<Redis> | null;
  return (
    typeof candidate === 'object' &&
    candidate !== null &&
    typeof candidate.getBuffer === 'function' &&
    typeof candidate.evalsha === 'function' &&
    typeof candidate.status === 'string'
  );
}

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
  private readonly cluster: boolean;
  /** Reads waiting for the end of the tick (`null`: every read is its own GET). */
  private readonly reads: ReadBatch | null;
  /** The connection whose writes are held until the end of this tick, if any (see {@link beforeWrite}). */
  private held: { uncork(): void } | null = null;
  /** What the server lets these credentials do (scripting, writes, publish), learnt from its errors. */
  private readonly capabilities = new Capabilities();
  /** Whether the client has been ready once (before that, "not ready" means starting, not lost). */
  private everReady: boolean;
  private starting: Promise<void> | null = null;
  /** Until when writes leave the announcement out: the last one reached no listener. */
  private quietUntil = 0;

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
    this.client = client;
    this.redis = client as unknown as Redis | Cluster;
    this.scanCount = scanCount;
    this.cluster = (client as { isCluster?: boolean }).isCluster === true;
    const batchReads = options.batchReads ?? true;
    if (typeof batchReads !== 'boolean') throw new CacheOptionError('batchReads', batchReads, 'a boolean');
    this.reads = batchReads && !this.cluster ? new ReadBatch(this.redis as Redis) : null;
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
    const writes = this.capabilities.allows('writes');
    return feature === 'writes' ? writes : writes && this.capabilities.allows('scripting');
  }

  /**
   * Learn from a command's failure what the server refuses, then fail as before, the error marked with the
   * refused feature (`refused`, and `refusedNews` for the first): a refusal is the server's configuration,
   * not a sign of a sick store — the cache reports it once and it does not count towards the breakers.
   */
  private readonly learn = (error: unknown): never => {
    const refused = this.capabilities.learn(error);
    if (refused && typeof error === 'object' && error !== null) {
      Object.assign(error, { refused: refused.feature, refusedNews: refused.news });
    }
    throw error;
  };

  /** Before any command other than a read: send the queued reads first, so that order is kept. */
  private beforeCommand(): void {
    this.reads?.flush();
  }

  /**
   * Before a lease call or a write: as {@link beforeCommand}, then hold the commands of this tick in the
   * connection's buffer and send them in one socket write at the end of the tick, as the read batch does
   * for reads: 64 concurrent misses then cost a few writes instead of 128. Order is unchanged. Single-node
   * clients only (a Cluster has one connection per node, and ioredis picks it per command).
   */
  private beforeWrite(): void {
    this.beforeCommand();
    if (this.held || !this.reads) return;
    const stream = (this.redis as Redis).stream as (Redis['stream'] & { cork?: () => void }) | undefined;
    if (!stream || typeof stream.cork !== 'function' || !stream.writable) return;
    stream.cork();
    this.held = stream as { uncork(): void };
    process.nextTick(this.releaseWrites);
  }

  private readonly releaseWrites = (): void => {
    const stream = this.held;
    this.held = null;
    stream?.uncork();
  };

  isReady(): boolean {
    return this.redis.status === 'ready';
  }

  state(): string {
    return this.redis.status;
  }

  get(key: string): Promise<Uint8Array | null> {
    return this.reads ? this.reads.get(key) : this.redis.getBuffer(key).then(bulkReply('GET'));
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
    return this.writeFill({ key, value, ttlMs, indexes });
  }

  async delete(keys: readonly string[]): Promise<number> {
    this.beforeCommand();
    if (keys.length === 0) return 0;
    if (this.cluster) {
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
    this.beforeCommand();
    const members = new Set<string>();
    for (const index of indexKeys) {
      for (const member of await this.redis.zrange(index, 0, -1)) members.add(member);
    }
    const removed = await this.delete([...members]);
    await this.delete(indexKeys);
    return removed;
  }

  scan(pattern: string): AsyncIterable<string[]> {
    this.beforeCommand();
    return scanNodes(this.masters(), pattern, this.scanCount);
  }

  /** The nodes that hold keys: every master of a Cluster, or the one client. */
  private masters(): Redis[] {
    return this.cluster ? (this.redis as Cluster).nodes('master') : [this.redis as Redis];
  }

  async recordStats(report: StatsReport): Promise<void> {
    this.beforeWrite();
    // Both keys carry the `{stats}` hash tag: one slot, one pipeline, one round trip.
    const pipeline = this.redis.pipeline();
    for (const [name, delta] of Object.entries(report.deltas)) pipeline.hincrby(report.countersKey, name, delta);
    pipeline.set(report.instanceKey, report.instance, 'PX', Math.max(1, Math.ceil(report.ttlMs)));
    for (const [error] of (await pipeline.exec()) ?? []) if (error) this.learn(error);
  }

  async readStats(
    countersKey: string,
    instancePattern: string,
  ): Promise<{ counters: Record<string, string>; instances: string[] }> {
    this.beforeCommand();
    const counters = await this.redis.hgetall(countersKey);
    const instances: string[] = [];
    for await (const keys of this.scan(instancePattern)) {
      for (const value of await Promise.all(keys.map((key) => this.redis.get(key)))) if (value) instances.push(value);
    }
    return { counters, instances };
  }

  async deleteMatching(pattern: string, filter?: (key: string) => boolean): Promise<number> {
    this.beforeCommand();
    const counts = await Promise.all(
      this.masters().map((node) => deleteMatchingOn(node, pattern, this.scanCount, this.cluster, filter)),
    );
    return counts.reduce((sum, n) => sum + n, 0);
  }

  async acquireLeaseAndGet(
    leaseKey: string,
    token: string,
    ttlMs: number,
    entryKey: string,
  ): Promise<{ lease: LeaseState; value: Uint8Array | null }> {
    this.beforeWrite();
    const answer = (await LEASE_ACQUIRE_READ.runBuffer(
      this.redis,
      [leaseKey, entryKey],
      [token, Math.max(1, Math.ceil(ttlMs)), UNCACHEABLE_MARKER],
    ).catch(this.learn)) as unknown;
    if (!Array.isArray(answer) || answer.length !== 2 || !isBulk(answer[1])) {
      throw new UnexpectedReplyError('LEASE_ACQUIRE_READ', answer);
    }
    return { lease: leaseState('LEASE_ACQUIRE_READ', answer[0]), value: answer[1] ?? null };
  }

  async getOrAcquireLease(
    entryKey: string,
    leaseKey: string,
    token: string,
    ttlMs: number,
  ): Promise<{ value: Uint8Array | null; lease: LeaseState | null }> {
    this.beforeWrite();
    const answer = (await READ_OR_LEASE.runBuffer(
      this.redis,
      [entryKey, leaseKey],
      [token, Math.max(1, Math.ceil(ttlMs)), UNCACHEABLE_MARKER],
    ).catch(this.learn)) as unknown;
    if (Array.isArray(answer) && answer.length === 1 && Buffer.isBuffer(answer[0])) {
      return { value: answer[0], lease: null };
    }
    if (!Array.isArray(answer) || answer.length !== 2 || answer[0] !== null) {
      throw new UnexpectedReplyError('READ_OR_LEASE', answer);
    }
    return { value: null, lease: leaseState('READ_OR_LEASE', answer[1]) };
  }

  async writeFill(write: FillWrite): Promise<void> {
    this.beforeWrite();
    const { key, value, indexes, lease } = write;
    this.reads?.wrote(value.byteLength);
    const ttl = Math.max(1, Math.ceil(write.ttlMs));
    // Announcements go out only while someone listens (the last write reached a listener, or a second
    // has passed since one reached none) and while the server lets us publish.
    const now = Date.now();
    const announce = now >= this.quietUntil && this.capabilities.allows('publish') ? write.announce : undefined;
    if (!this.capabilities.allows('scripting')) return this.writePlain(key, value, ttl, indexes, announce);
    const tag = hashTag(key);
    const sameSlot = indexes.filter((index) => tag !== null && hashTag(index) === tag);
    // The lease shares the entry's hash tag; without one, pass the entry key as a harmless placeholder.
    const leaseKey = lease && hashTag(lease.key) === tag ? lease.key : key;
    const writes: Promise<unknown>[] = [
      WRITE_FILL.run(
        this.redis,
        [key, leaseKey, ...sameSlot],
        [
          toBuffer(value),
          ttl,
          leaseKey === key ? '' : (lease?.token ?? ''),
          announce?.channel ?? '',
          announce?.message ?? '',
        ],
      )
        .then(integerReply('WRITE_FILL', 1, Number.MAX_SAFE_INTEGER))
        .then((written) => {
          if (announce && written === 1) this.quietUntil = Date.now() + QUIET_PUBLISH_MS;
        }, this.learn),
    ];
    for (const index of indexes)
      if (!sameSlot.includes(index))
        writes.push(INDEX_ADD.run(this.redis, [index], [key, ttl]).then(integerReply('INDEX_ADD', 1, 1), this.learn));
    // A lease in another slot (not one of ours) is released by its own call, after the write.
    if (lease && leaseKey === key)
      writes.push(
        LEASE_RELEASE.run(this.redis, [lease.key], [lease.token, 0, UNCACHEABLE_MARKER]).then(
          integerReply('LEASE_RELEASE', 0, 1),
          this.learn,
        ),
      );
    await Promise.all(writes);
  }

  /**
   * A write without scripting (the server refuses EVAL): the entry with `SET … PX`, each index kept with
   * `ZREMRANGEBYSCORE` + `ZADD` + `PEXPIRE … GT` (the same rules as the script, not atomic), and the
   * announcement with `PUBLISH`. No lease is involved: without scripting the fleet takes none.
   */
  private async writePlain(
    key: string,
    value: Uint8Array,
    ttl: number,
    indexes: readonly string[],
    announce: FillWrite['announce'],
  ): Promise<void> {
    const now = Date.now();
    const writes: Promise<unknown>[] = [this.redis.set(key, toBuffer(value), 'PX', ttl).catch(this.learn)];
    for (const index of indexes) {
      writes.push(
        this.redis.zremrangebyscore(index, '-inf', now).catch(this.learn),
        this.redis.zadd(index, now + ttl, key).catch(this.learn),
        this.redis.pexpire(index, ttl, 'GT').catch(this.learn),
      );
    }
    await Promise.all(writes);
    // The announcement is best effort: a refused PUBLISH does not undo the write (it is learnt, and left out).
    if (announce)
      await this.redis.publish(announce.channel, announce.message).catch((error: unknown) => {
        this.capabilities.learn(error);
      });
  }

  async replaceHead(
    key: string,
    oldHead: Uint8Array,
    newHead: Uint8Array,
    ttlMs: number,
    lease?: { key: string; token: string },
  ): Promise<boolean> {
    this.beforeWrite();
    this.reads?.wrote(newHead.byteLength);
    // The lease shares the entry's hash tag; without one, pass the entry key and no token.
    const sameSlot = lease !== undefined && hashTag(lease.key) === hashTag(key) && hashTag(key) !== null;
    const replaced = integerReply(
      'REPLACE_HEAD',
      0,
      1,
    )(
      await REPLACE_HEAD.run(
        this.redis,
        [key, sameSlot ? lease.key : key],
        [toBuffer(oldHead), toBuffer(newHead), Math.max(1, Math.ceil(ttlMs)), sameSlot ? lease.token : ''],
      ).catch(this.learn),
    );
    if (lease && !sameSlot) await this.releaseLease(lease.key, lease.token);
    return replaced === 1;
  }

  async renewLease(key: string, token: string, ttlMs: number): Promise<void> {
    this.beforeWrite();
    integerReply(
      'LEASE_RENEW',
      0,
      1,
    )(await LEASE_RENEW.run(this.redis, [key], [token, Math.max(1, Math.ceil(ttlMs))]).catch(this.learn));
  }

  async publish(channel: string, message: string): Promise<void> {
    this.beforeCommand();
    if (!this.capabilities.allows('publish')) return;
    await this.redis.publish(channel, message).catch(this.learn);
  }

  subscribe(channel: string, onMessage: (message: string) => void, listening: (up: boolean) => void): Subscription {
    return subscribeOn(this.redis, channel, onMessage, listening);
  }

  async acquireLease(key: string, token: string, ttlMs: number): Promise<LeaseState> {
    this.beforeWrite();
    const answer = await LEASE_ACQUIRE.run(
      this.redis,
      [key],
      [token, Math.max(1, Math.ceil(ttlMs)), UNCACHEABLE_MARKER],
    ).catch(this.learn);
    return leaseState('LEASE_ACQUIRE', answer);
  }

  async releaseLease(key: string, token: string, uncacheableMs = 0): Promise<void> {
    this.beforeWrite();
    integerReply(
      'LEASE_RELEASE',
      0,
      1,
    )(await LEASE_RELEASE.run(this.redis, [key], [token, Math.max(0, Math.ceil(uncacheableMs)), UNCACHEABLE_MARKER]));
  }
}
