import { type FillWrite, type IndexRef, indexKey, longestLeaseMs, UNCACHEABLE_MARKER_MS } from '../types.js';
import { type RedisConnection, wholeMs } from './connection.js';
import type { RedisDriver } from './driver.js';
import { releaseLease } from './leases.js';
import { hashTag, integerReply, toBuffer } from './replies.js';
import { INDEX_ADD, REPLACE_HEAD, WRITE_FILL } from './scripts.js';

/** After a write whose announcement nobody received, announcements are left out for this long. */
const QUIET_PUBLISH_MS = 1000;

/**
 * The largest entry a fill's notice carries to the processes waiting on it (they then answer without a
 * read); a larger one is announced as written, and read. Redis copies a message to each subscriber.
 */
export const NOTICE_VALUE_BYTES = 64 * 1024;

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
    const sameSlot = indexes.filter((index) => tag !== null && hashTag(indexKey(index)) === tag);
    // The lease shares the entry's hash tag; without one, pass the entry key as a harmless placeholder.
    const leaseKey = lease && hashTag(lease.key) === tag ? lease.key : key;
    const { driver, learn } = connection;
    const notify = connection.notifyCommand();
    const writes: Promise<unknown>[] = [
      WRITE_FILL.run(
        driver,
        [key, leaseKey, ...sameSlot.map(indexKey)],
        [
          toBuffer(value),
          `${ttl} ${now} ${longestLeaseMs(lease?.ttlMs ?? UNCACHEABLE_MARKER_MS)} ${NOTICE_VALUE_BYTES} ${notify || '-'} ${
            leaseKey === key ? '-' : lease?.token || '-'
          }`,
          ...sameSlot.map((index) => memberOf(index) || '-'),
          ...(announce ? [announce.channel, announce.message] : []),
        ],
      )
        .then(integerReply('WRITE_FILL', 1, Number.MAX_SAFE_INTEGER))
        .then(
          (written) => {
            if (announce && written === 1) this.quietUntil = Date.now() + QUIET_PUBLISH_MS;
          },
          // A command refused inside the script: its PUBLISH when it carried an announcement or may tell
          // the lease's waiters.
          (error: unknown) => connection.learnIn(announce || notify ? 'publish' : 'scripting', error),
        ),
    ];
    for (const index of indexes)
      if (!sameSlot.includes(index))
        writes.push(
          INDEX_ADD.run(driver, [indexKey(index)], [memberOf(index) || key, ttl, now]).then(
            integerReply('INDEX_ADD', 1, 1),
            learn,
          ),
        );
    // A lease in another slot (not one of ours) is released by its own call, after the write.
    if (lease && leaseKey === key) writes.push(releaseLease(connection, lease.key, lease.token, 0, notify));
    // A fill's write tells the processes waiting on it: it leaves before this process delivers its own
    // answers (the callbacks that follow), not at the end of the tick; the writes of the other requests
    // of the same run of callbacks still leave with it, in one socket write.
    if (lease) driver.sendHeldWrites();
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
    indexes: readonly IndexRef[],
    announce: FillWrite['announce'],
  ): Promise<void> {
    const { driver, learn, capabilities } = this.connection;
    const now = Date.now();
    const writes: Promise<unknown>[] = [driver.send(key, ['SET', key, toBuffer(value), 'PX', ttl]).catch(learn)];
    for (const ref of indexes) {
      const index = indexKey(ref);
      writes.push(
        driver.send(index, ['ZREMRANGEBYSCORE', index, '-inf', now]).catch(learn),
        driver.send(index, ['ZADD', index, now + ttl, memberOf(ref) || key]).catch(learn),
        keepIndexAlive(driver, index, ttl).catch(learn),
      );
    }
    await Promise.all(writes);
    // The announcement is best effort: a refused PUBLISH does not undo the write (it is learnt, and left out).
    if (announce)
      await driver.send(undefined, ['PUBLISH', announce.channel, announce.message]).catch((error: unknown) => {
        capabilities.learn(error);
      });
  }

  /** Replace the head of `key` if it is still `oldHead` (see `CacheStore.replaceHead`). */
  async replaceHead(
    key: string,
    oldHead: Uint8Array,
    newHead: Uint8Array,
    ttlMs: number,
    lease?: { key: string; token: string; ttlMs?: number },
  ): Promise<boolean> {
    const { connection } = this;
    connection.beforeWrite();
    connection.reads?.wrote(newHead.byteLength);
    // The lease shares the entry's hash tag; without one, pass the entry key and no token.
    const sameSlot = lease !== undefined && hashTag(lease.key) === hashTag(key) && hashTag(key) !== null;
    const notify = connection.notifyCommand();
    const replaced = integerReply(
      'REPLACE_HEAD',
      0,
      1,
    )(
      await REPLACE_HEAD.run(
        connection.driver,
        [key, sameSlot ? lease.key : key],
        [
          toBuffer(oldHead),
          toBuffer(newHead),
          wholeMs(ttlMs),
          sameSlot ? lease.token : '',
          notify,
          longestLeaseMs(lease?.ttlMs ?? UNCACHEABLE_MARKER_MS),
        ],
      ).catch((error: unknown) => connection.learnIn(sameSlot && notify ? 'publish' : 'scripting', error)),
    );
    if (lease && !sameSlot) await releaseLease(connection, lease.key, lease.token, 0, notify);
    return replaced === 1;
  }
}

/** The member an index reference names: `''` for the entry's own key. */
function memberOf(index: IndexRef): string {
  return typeof index === 'string' ? '' : index.member;
}

/**
 * Give an index at least `ttl` ms to live, never less than it has: `PEXPIRE … NX`, then `… GT` (Redis 7). A
 * server before 7.0 answers those options with an error (an arity error on 6.x): then the same with `PTTL`
 * and a plain `PEXPIRE` (not atomic, like the rest of the path without scripting).
 */
async function keepIndexAlive(driver: RedisDriver, index: string, ttl: number): Promise<void> {
  const answers = await Promise.allSettled([
    driver.send(index, ['PEXPIRE', index, ttl, 'NX']),
    driver.send(index, ['PEXPIRE', index, ttl, 'GT']),
  ]);
  const refused = answers.find((answer): answer is PromiseRejectedResult => answer.status === 'rejected');
  if (!refused) return;
  if (!OPTIONS_UNKNOWN.test(String((refused.reason as Error | undefined)?.message))) throw refused.reason;
  const left = Number(await driver.send(index, ['PTTL', index]));
  // -1: no expiry yet; -2: gone meanwhile (PEXPIRE then does nothing).
  if (left < ttl) await driver.send(index, ['PEXPIRE', index, ttl]);
}

/** How a Redis before 7.0 answers `PEXPIRE key ms NX | GT` (and how 7 answers an option it does not know). */
const OPTIONS_UNKNOWN = /wrong number of arguments|syntax error|unsupported option/i;
