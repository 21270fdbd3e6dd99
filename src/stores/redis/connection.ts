import { Capabilities, type Feature } from './capabilities.js';
import type { RedisDriver, RedisNode } from './driver.js';
import { ReadBatch } from './read-batch.js';

/** A positive whole number of milliseconds, as `PX` and the scripts take it. */
export function wholeMs(ms: number): number {
  return Math.max(1, Math.ceil(ms));
}

/**
 * The client as every `RedisStore` command goes through it, keeping three rules: commands go out in the
 * order they are made (reads queued for the tick's `MGET` are sent before any other command); the lease
 * calls and writes of one round of I/O leave in one socket write where the client library lets us hold
 * them; and
 * what the server refuses (scripting, writes, publish) is learnt from its errors, so that the store does
 * without it from then on. The client library itself is behind `driver` (ioredis or node-redis).
 */
export class RedisConnection {
  /** Reads waiting for the end of the tick (`null`: every read is its own GET). */
  readonly reads: ReadBatch | null;
  /** What the server lets these credentials do (scripting, writes, publish), learnt from its errors. */
  readonly capabilities = new Capabilities();
  readonly cluster: boolean;

  constructor(
    readonly driver: RedisDriver,
    batchReads: boolean,
  ) {
    this.cluster = driver.topology === 'cluster';
    this.reads = batchReads && !this.cluster ? new ReadBatch(driver) : null;
  }

  /** Before any command other than a read: send the queued reads first, so that order is kept. */
  beforeCommand(): void {
    this.reads?.flush();
  }

  /**
   * Before a lease call or a write: as {@link beforeCommand}, then let the commands of this round of I/O
   * leave in one socket write (ioredis: held in the socket until the event loop's check phase,
   * `setImmediate` — upstream answers that arrive together each end in a write, in their own callbacks,
   * and these then share one socket write, as node-redis does by itself; a fill's write goes sooner: see
   * `sendHeldWrites`). Measured: misses at 64 in flight +11 % against holding until the end of the tick
   * only. Order is unchanged. Single-node clients only (a Cluster has one connection per node).
   */
  beforeWrite(): void {
    this.beforeCommand();
    if (this.reads) this.driver.holdWrites();
  }

  /**
   * Learn from a command's failure what the server refuses, then fail as before, the error marked with the
   * refused feature (`refused`, and `refusedNews` for the first): a refusal is the server's configuration,
   * not a sign of a sick store — the cache reports it once and it does not count towards the breakers.
   */
  readonly learn = (error: unknown): never => this.learnIn('scripting', error);

  /** As {@link learn}, for a script whose refused command would be `feature` (see `Capabilities.learn`). */
  learnIn(feature: Feature, error: unknown): never {
    const refused = this.capabilities.learn(error, feature);
    if (refused && typeof error === 'object' && error !== null) {
      Object.assign(error, { refused: refused.feature, refusedNews: refused.news });
    }
    throw error;
  }

  /**
   * The command that tells a lease's waiters it changed hands, inside the lease scripts: `PUBLISH` on the
   * lease key's name, `SPUBLISH` on a Cluster (sharded: the message stays on the slot's node); `''` while
   * the server refuses it (an ACL without it, a Redis without sharded pub/sub).
   */
  notifyCommand(): string {
    if (!this.capabilities.allows('publish')) return '';
    return this.cluster ? 'SPUBLISH' : 'PUBLISH';
  }

  /** The nodes that hold keys: every master of a Cluster, or the one server. */
  masters(): Promise<RedisNode[]> {
    return this.driver.masters();
  }
}
