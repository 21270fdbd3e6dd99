import { type FillWrite, UNCACHEABLE_MARKER } from '../types.js';
import { type RedisConnection, wholeMs } from './connection.js';
import { releaseLease } from './leases.js';
import { hashTag, integerReply, toBuffer } from './replies.js';
import { INDEX_ADD, LEASE_RELEASE, REPLACE_HEAD, WRITE_FILL } from './scripts.js';

/** After a write whose announcement nobody received, announcements are left out for this long. */
const QUIET_PUBLISH_MS = 1000;

/**
 * How `RedisStore` writes entries: a fill (entry, indexes, announcement and lease release in one script
 * where the slots allow), the same without scripting, and a head replaced after a `304`.
 */
export class RedisWrites {
  /** Until when writes leave the announcement out: the last one reached no listener. */
  private quietUntil = 0;

  constructor(private readonly connection: RedisConnection) {}

  async fill(write: FillWrite): Promise<void> {
    const { connection } = this;
    connection.beforeWrite();
    const { key, value, indexes, lease } = write;
    connection.reads?.wrote(value.byteLength);
    const ttl = wholeMs(write.ttlMs);
    // Announcements go out only while someone listens (the last write reached a listener, or a second
    // has passed since one reached none) and while the server lets us publish.
    const now = Date.now();
    const capabilities = connection.capabilities;
    const announce = now >= this.quietUntil && capabilities.allows('publish') ? write.announce : undefined;
    if (!capabilities.allows('scripting')) return this.plain(key, value, ttl, indexes, announce);
    const tag = hashTag(key);
    const sameSlot = indexes.filter((index) => tag !== null && hashTag(index) === tag);
    // The lease shares the entry's hash tag; without one, pass the entry key as a harmless placeholder.
    const leaseKey = lease && hashTag(lease.key) === tag ? lease.key : key;
    const { redis, learn } = connection;
    const writes: Promise<unknown>[] = [
      WRITE_FILL.run(
        redis,
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
        }, learn),
    ];
    for (const index of indexes)
      if (!sameSlot.includes(index))
        writes.push(INDEX_ADD.run(redis, [index], [key, ttl]).then(integerReply('INDEX_ADD', 1, 1), learn));
    // A lease in another slot (not one of ours) is released by its own call, after the write.
    if (lease && leaseKey === key)
      writes.push(
        LEASE_RELEASE.run(redis, [lease.key], [lease.token, 0, UNCACHEABLE_MARKER]).then(
          integerReply('LEASE_RELEASE', 0, 1),
          learn,
        ),
      );
    await Promise.all(writes);
  }

  /**
   * A write without scripting (the server refuses EVAL): the entry with `SET … PX`, each index kept with
   * `ZREMRANGEBYSCORE` + `ZADD` + `PEXPIRE … GT` (the same rules as the script, not atomic), and the
   * announcement with `PUBLISH`. No lease is involved: without scripting the fleet takes none.
   */
  private async plain(
    key: string,
    value: Uint8Array,
    ttl: number,
    indexes: readonly string[],
    announce: FillWrite['announce'],
  ): Promise<void> {
    const { redis, learn, capabilities } = this.connection;
    const now = Date.now();
    const writes: Promise<unknown>[] = [redis.set(key, toBuffer(value), 'PX', ttl).catch(learn)];
    for (const index of indexes) {
      writes.push(
        redis.zremrangebyscore(index, '-inf', now).catch(learn),
        redis.zadd(index, now + ttl, key).catch(learn),
        redis.pexpire(index, ttl, 'GT').catch(learn),
      );
    }
    await Promise.all(writes);
    // The announcement is best effort: a refused PUBLISH does not undo the write (it is learnt, and left out).
    if (announce)
      await redis.publish(announce.channel, announce.message).catch((error: unknown) => {
        capabilities.learn(error);
      });
  }

  /** Replace the head of `key` if it is still `oldHead` (see `CacheStore.replaceHead`). */
  async replaceHead(
    key: string,
    oldHead: Uint8Array,
    newHead: Uint8Array,
    ttlMs: number,
    lease?: { key: string; token: string },
  ): Promise<boolean> {
    const { connection } = this;
    connection.beforeWrite();
    connection.reads?.wrote(newHead.byteLength);
    // The lease shares the entry's hash tag; without one, pass the entry key and no token.
    const sameSlot = lease !== undefined && hashTag(lease.key) === hashTag(key) && hashTag(key) !== null;
    const replaced = integerReply(
      'REPLACE_HEAD',
      0,
      1,
    )(
      await REPLACE_HEAD.run(
        connection.redis,
        [key, sameSlot ? lease.key : key],
        [toBuffer(oldHead), toBuffer(newHead), wholeMs(ttlMs), sameSlot ? lease.token : ''],
      ).catch(connection.learn),
    );
    if (lease && !sameSlot) await releaseLease(connection, lease.key, lease.token);
    return replaced === 1;
  }
}
