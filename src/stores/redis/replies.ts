import type { LeaseState } from '../types.js';
import { UnexpectedReplyError } from '../types.js';

/** Checks of Redis replies against the command that got them, and small key helpers. */

/**
 * Replies are checked against what their command can answer: one that cannot belong to it means the
 * connection is out of step (a stray reply shifted every later one), and the call rejects with an
 * {@link UnexpectedReplyError}, after which the cache drops the connection.
 */
export function isBulk(value: unknown): value is Buffer | null {
  return value === null || Buffer.isBuffer(value);
}

export function bulkReply(command: string): (reply: unknown) => Buffer | null {
  return (reply) => {
    if (!isBulk(reply)) throw new UnexpectedReplyError(command, reply);
    return reply;
  };
}

export function integerReply(command: string, min: number, max: number): (reply: unknown) => number {
  return (reply) => {
    if (typeof reply !== 'number' || reply < min || reply > max) throw new UnexpectedReplyError(command, reply);
    return reply;
  };
}

const LEASE_STATES: ReadonlySet<string> = new Set(['acquired', 'held', 'uncacheable']);

export function leaseState(command: string, reply: unknown): LeaseState {
  const state = Buffer.isBuffer(reply) ? reply.toString() : reply;
  if (typeof state !== 'string' || !LEASE_STATES.has(state)) throw new UnexpectedReplyError(command, reply);
  return state as LeaseState;
}

/** The Redis Cluster hash tag of a key (what decides its slot), or `null` when it has none. */
export function hashTag(key: string): string | null {
  const open = key.indexOf('{');
  if (open === -1) return null;
  const close = key.indexOf('}', open + 1);
  return close > open + 1 ? key.slice(open + 1, close) : null;
}

export function toBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}
