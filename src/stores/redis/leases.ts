import { type LeaseState, UNCACHEABLE_MARKER, UnexpectedReplyError } from '../types.js';
import { type RedisConnection, wholeMs } from './connection.js';
import { integerReply, isBulk, leaseState } from './replies.js';
import { LEASE_ACQUIRE, LEASE_ACQUIRE_READ, LEASE_RELEASE, LEASE_RENEW, READ_OR_LEASE } from './scripts.js';

/** The fill leases of the fleet protocol on Redis, one Lua script each (see `scripts.ts`). */

/** Take the lease if free, and read the entry, in one call. */
export async function acquireLeaseAndGet(
  connection: RedisConnection,
  leaseKey: string,
  token: string,
  ttlMs: number,
  entryKey: string,
): Promise<{ lease: LeaseState; value: Uint8Array | null }> {
  connection.beforeWrite();
  const answer = (await LEASE_ACQUIRE_READ.runBuffer(
    connection.redis,
    [leaseKey, entryKey],
    [token, wholeMs(ttlMs), UNCACHEABLE_MARKER],
  ).catch(connection.learn)) as unknown;
  if (!Array.isArray(answer) || answer.length !== 2 || !isBulk(answer[1])) {
    throw new UnexpectedReplyError('LEASE_ACQUIRE_READ', answer);
  }
  return { lease: leaseState('LEASE_ACQUIRE_READ', answer[0]), value: answer[1] ?? null };
}

/** Read the entry; only when there is none, take the lease (or learn who holds it), in one call. */
export async function getOrAcquireLease(
  connection: RedisConnection,
  entryKey: string,
  leaseKey: string,
  token: string,
  ttlMs: number,
): Promise<{ value: Uint8Array | null; lease: LeaseState | null }> {
  connection.beforeWrite();
  const answer = (await READ_OR_LEASE.runBuffer(
    connection.redis,
    [entryKey, leaseKey],
    [token, wholeMs(ttlMs), UNCACHEABLE_MARKER],
  ).catch(connection.learn)) as unknown;
  if (Array.isArray(answer) && answer.length === 1 && Buffer.isBuffer(answer[0])) {
    return { value: answer[0], lease: null };
  }
  if (!Array.isArray(answer) || answer.length !== 2 || answer[0] !== null) {
    throw new UnexpectedReplyError('READ_OR_LEASE', answer);
  }
  return { value: null, lease: leaseState('READ_OR_LEASE', answer[1]) };
}

export async function acquireLease(
  connection: RedisConnection,
  key: string,
  token: string,
  ttlMs: number,
): Promise<LeaseState> {
  connection.beforeWrite();
  const answer = await LEASE_ACQUIRE.run(connection.redis, [key], [token, wholeMs(ttlMs), UNCACHEABLE_MARKER]).catch(
    connection.learn,
  );
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
  )(await LEASE_RENEW.run(connection.redis, [key], [token, wholeMs(ttlMs)]).catch(connection.learn));
}

/** Release a lease this holder owns; with `uncacheableMs`, leave the "uncacheable" marker for that long. */
export async function releaseLease(
  connection: RedisConnection,
  key: string,
  token: string,
  uncacheableMs = 0,
): Promise<void> {
  connection.beforeWrite();
  integerReply(
    'LEASE_RELEASE',
    0,
    1,
  )(
    await LEASE_RELEASE.run(
      connection.redis,
      [key],
      [token, Math.max(0, Math.ceil(uncacheableMs)), UNCACHEABLE_MARKER],
    ),
  );
}
