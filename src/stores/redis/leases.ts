import {
  type LeaseAnswerOf,
  type LeaseState,
  longestLeaseMs,
  UNCACHEABLE_MARKER,
  UnexpectedReplyError,
} from '../types.js';
import { type RedisConnection, wholeMs } from './connection.js';
import { integerReply, isBulk, leaseState } from './replies.js';
import { LEASE_ACQUIRE, LEASE_ACQUIRE_READ, LEASE_RELEASE, LEASE_RENEW, leaseArgs, READ_OR_LEASE } from './scripts.js';

/**
 * The fill leases of the fleet protocol on Redis, one Lua script each (see `scripts.ts`). `watch`: mark a
 * held lease as watched, so that its holder publishes when it writes or lets go (the caller is, or is
 * about to be, subscribed to the lease's channel).
 */

/** Take the lease if free, and read the entry, in one call. */
export async function acquireLeaseAndGet(
  connection: RedisConnection,
  leaseKey: string,
  token: string,
  ttlMs: number,
  entryKey: string,
  watch: boolean,
): Promise<LeaseAnswerOf<{ lease: LeaseState; value: Uint8Array | null }>> {
  connection.beforeWrite();
  const answer = (await LEASE_ACQUIRE_READ.run(
    connection.driver,
    [leaseKey, entryKey],
    [leaseArgs(token, wholeMs(ttlMs), longestLeaseMs(ttlMs), watch)],
  ).catch(connection.learn)) as unknown;
  // { state, entry or nil, holder or nil, ms left } (Lua's false is a nil reply).
  if (!Array.isArray(answer) || answer.length !== 4 || !isBulk(answer[1])) {
    throw new UnexpectedReplyError('LEASE_ACQUIRE_READ', answer);
  }
  const lease = leaseState('LEASE_ACQUIRE_READ', answer[0]);
  return held('LEASE_ACQUIRE_READ', { lease, value: answer[1] }, lease, answer[2], answer[3]);
}

/**
 * Add what a lease answer says of a held lease: the holder's token (only when held by another, and then
 * a string) and the ms it has left (an integer no longer than a live lease can have).
 */
function held<T extends object>(
  command: string,
  answer: T,
  lease: LeaseState | null,
  holder: unknown,
  left: unknown,
): LeaseAnswerOf<T> {
  if (typeof left !== 'number' || left < 0) throw new UnexpectedReplyError(command, left);
  if (holder === null) return answer;
  if (lease !== 'held' || !Buffer.isBuffer(holder)) throw new UnexpectedReplyError(command, holder);
  return { ...answer, holder: holder.toString(), leaseMs: left };
}

/** Read the entry; only when there is none, take the lease (or learn who holds it), in one call. */
export async function getOrAcquireLease(
  connection: RedisConnection,
  entryKey: string,
  leaseKey: string,
  token: string,
  ttlMs: number,
  watch: boolean,
): Promise<LeaseAnswerOf<{ value: Uint8Array | null; lease: LeaseState | null }>> {
  connection.beforeWrite();
  const answer = (await READ_OR_LEASE.run(
    connection.driver,
    [entryKey, leaseKey],
    [leaseArgs(token, wholeMs(ttlMs), longestLeaseMs(ttlMs), watch)],
  ).catch(connection.learn)) as unknown;
  if (Array.isArray(answer) && answer.length === 1 && Buffer.isBuffer(answer[0])) {
    return { value: answer[0], lease: null };
  }
  if (!Array.isArray(answer) || answer.length !== 4 || answer[0] !== null) {
    throw new UnexpectedReplyError('READ_OR_LEASE', answer);
  }
  const lease = leaseState('READ_OR_LEASE', answer[1]);
  return held('READ_OR_LEASE', { value: null, lease }, lease, answer[2], answer[3]);
}

export async function acquireLease(
  connection: RedisConnection,
  key: string,
  token: string,
  ttlMs: number,
): Promise<LeaseState> {
  connection.beforeWrite();
  const answer = await LEASE_ACQUIRE.run(
    connection.driver,
    [key],
    [leaseArgs(token, wholeMs(ttlMs), longestLeaseMs(ttlMs), false)],
  ).catch(connection.learn);
  return leaseState('LEASE_ACQUIRE', answer);
}

/** Extend a lease this holder still owns (a no-op once it is another's). */
export async function renewLease(
  connection: RedisConnection,
  key: string,
  token: string,
  ttlMs: number,
): Promise<void> {
  connection.beforeWrite();
  integerReply(
    'LEASE_RENEW',
    0,
    1,
  )(await LEASE_RENEW.run(connection.driver, [key], [token, wholeMs(ttlMs)]).catch(connection.learn));
}

/**
 * Release a lease this holder owns; with `uncacheableMs`, leave the "uncacheable" marker for that long.
 * `publish`: the command that tells its waiters (`PUBLISH`, `SPUBLISH`), or `''`.
 */
export async function releaseLease(
  connection: RedisConnection,
  key: string,
  token: string,
  uncacheableMs: number,
  publish: string,
): Promise<void> {
  connection.beforeWrite();
  integerReply(
    'LEASE_RELEASE',
    0,
    1,
  )(
    await LEASE_RELEASE.run(
      connection.driver,
      [key],
      [token, Math.max(0, Math.ceil(uncacheableMs)), UNCACHEABLE_MARKER, publish],
    ).catch((error: unknown) => connection.learnIn(publish === '' ? 'scripting' : 'publish', error)),
  );
}
