import type { Cluster, Redis } from 'ioredis';
import { Capabilities } from './capabilities.js';
import { ReadBatch } from './read-batch.js';

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

/** A positive whole number of milliseconds, as `PX` and the scripts take it. */
export function wholeMs(ms: number): number {
  return Math.max(1, Math.ceil(ms));
}

/**
 * The client as every `RedisStore` command goes through it, keeping three rules: commands go out in the
 * order they are made (reads queued for the tick's `MGET` are sent before any other command); the lease
 * calls and writes of one tick leave in one socket write; and what the server refuses (scripting, writes,
 * publish) is learnt from its errors, so that the store does without it from then on.
 */
export class RedisConnection {
  /** Reads waiting for the end of the tick (`null`: every read is its own GET). */
  readonly reads: ReadBatch | null;
  /** What the server lets these credentials do (scripting, writes, publish), learnt from its errors. */
  readonly capabilities = new Capabilities();
  /** The connection whose writes are held until the end of this tick, if any (see {@link beforeWrite}). */
  private held: { uncork(): void } | null = null;

  constructor(
    readonly redis: Redis | Cluster,
    readonly cluster: boolean,
    batchReads: boolean,
  ) {
    this.reads = batchReads && !cluster ? new ReadBatch(redis as Redis) : null;
  }

  /** Before any command other than a read: send the queued reads first, so that order is kept. */
  beforeCommand(): void {
    this.reads?.flush();
  }

  /**
   * Before a lease call or a write: as {@link beforeCommand}, then hold the commands of this tick in the
   * connection's buffer and send them in one socket write at the end of the tick, as the read batch does
   * for reads: 64 concurrent misses then cost a few writes instead of 128. Order is unchanged. Single-node
   * clients only (a Cluster has one connection per node, and ioredis picks it per command).
   */
  beforeWrite(): void {
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

  /**
   * Learn from a command's failure what the server refuses, then fail as before, the error marked with the
   * refused feature (`refused`, and `refusedNews` for the first): a refusal is the server's configuration,
   * not a sign of a sick store — the cache reports it once and it does not count towards the breakers.
   */
  readonly learn = (error: unknown): never => {
    const refused = this.capabilities.learn(error);
    if (refused && typeof error === 'object' && error !== null) {
      Object.assign(error, { refused: refused.feature, refusedNews: refused.news });
    }
    throw error;
  };

  /** The nodes that hold keys: every master of a Cluster, or the one client. */
  masters(): Redis[] {
    return this.cluster ? (this.redis as Cluster).nodes('master') : [this.redis as Redis];
  }
}
