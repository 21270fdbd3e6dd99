import { performance } from 'node:perf_hooks';

/**
 * How long a store call may wait (see `StoreGuard`). A call fails once this process has spent
 * `storeTimeout` ms waiting for it with nothing else to do (its event loop idle). Time the process spends
 * busy does not count: a reply that is already in the socket while the process parses the replies queued
 * before it (large values, 64 requests in flight) is not the store's delay. The budget grows with the bytes
 * the store delivers to earlier calls while this one waits (one more ms per {@link READ_BYTES_PER_MS}): a
 * store streaming the large values queued ahead (64 reads of 500 KB: 32 MB) is busy with our own queue, not
 * failing. Replies that carry nothing extend nothing: a store that answers, but slower than the budget
 * (every reply 60 ms late, small values), has its calls cut at the budget — whose failures then open the
 * breaker — however many earlier replies keep arriving. Three more limits: a call that a later call
 * overtook (answered first: another Cluster node, a lost reply) fails as soon as its own budget is up; no
 * call waits more than {@link STALL_FACTOR} × `storeTimeout` of wall-clock time while the store answers
 * nothing at all, however busy this process; and none more than {@link QUEUED_WAIT_FACTOR} × in all.
 */

/**
 * Bytes of replies to earlier calls that buy a waiting call one more ms (32 MB/s, a third of what a
 * loaded 2-core host parsed: a 1 MB GET took 9–12 ms there).
 */
export const READ_BYTES_PER_MS = 32 * 1024;

/**
 * How many times `storeTimeout` of wall-clock time a call may wait while the store answers nothing at all,
 * however busy this process is: the bound a stalled (paused, unreachable, silent) store adds to a call.
 */
export const STALL_FACTOR = 4;

/**
 * How many times `storeTimeout` a call may wait in all, in wall-clock time, while the store keeps answering
 * the calls queued before it (64 reads of 500 KB in flight): the bound for a store that is busy, not stalled.
 */
export const QUEUED_WAIT_FACTOR = 40;

/** Milliseconds this process's event loop has spent idle (waiting for I/O) since it started. */
export const loopIdleMs: () => number =
  typeof performance.nodeTiming?.idleTime === 'number' ? () => performance.nodeTiming.idleTime : () => Number.NaN;

/** One pending call: its number (calls are numbered in the order they start), and when it started. */
export interface CallStart {
  readonly id: number;
  readonly startedAt: number;
  /** {@link loopIdleMs} when it started. */
  readonly idleAtStart: number;
  /** {@link StoreProgress.bytes} when it started. */
  readonly bytesAtStart: number;
}

/** What the store has answered so far. */
export interface StoreProgress {
  /** The highest-numbered call that has succeeded. */
  readonly lastDone: number;
  /** Bytes of every reply so far (values read): what the store delivered. */
  readonly bytes: number;
  /** When the store last answered a call within its budget (a success or an error; a late answer is not progress). */
  readonly lastAnswerAt: number;
}

/** How many ms `call` may still wait, at `now`; 0 or less once its budget is spent. */
export function timeLeft(call: CallStart, progress: StoreProgress, budgetMs: number, now: number): number {
  // A later call was answered first: this one's own budget is all it gets.
  if (progress.lastDone >= call.id) return 0;
  // Busy time does not count; bytes delivered to earlier calls meanwhile extend the budget.
  const credit = (progress.bytes - call.bytesAtStart) / READ_BYTES_PER_MS;
  const idleLeft = budgetMs + credit - (loopIdleMs() - call.idleAtStart);
  // Wall-clock bounds: STALL_FACTOR × budget since the store last answered a call in time or since the call
  // began, however busy this process; QUEUED_WAIT_FACTOR × budget in all.
  const stallLeft = budgetMs * STALL_FACTOR - (now - Math.max(call.startedAt, progress.lastAnswerAt));
  const totalLeft = budgetMs * QUEUED_WAIT_FACTOR - (now - call.startedAt);
  return Math.min(idleLeft, stallLeft, totalLeft);
}
