import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  type CallStart,
  loopIdleMs,
  QUEUED_WAIT_FACTOR,
  READ_BYTES_PER_MS,
  STALL_FACTOR,
  timeLeft,
} from '../../src/stores/guard/budget.js';
import { MAX_UNANSWERED, SILENCE_MS, SilenceWatch } from '../../src/stores/guard/health.js';

const BUDGET = 100;
/** A call numbered `id` that started `agoMs` ago, with `idleSinceMs` of idle loop time spent since. */
function callStarted(now: number, agoMs: number, idleSinceMs = 0, id = 10): CallStart {
  return { id, startedAt: now - agoMs, idleAtStart: loopIdleMs() - idleSinceMs, bytesAtStart: 0 };
}

describe('a store call’s budget (timeLeft)', () => {
  it('is the whole budget for a call that just started', () => {
    const now = Date.now();
    const left = timeLeft(callStarted(now, 0), { lastDone: 0, bytes: 0, lastAnswerAt: now }, BUDGET, now);
    expect(left).toBeGreaterThan(BUDGET - 20);
    expect(left).toBeLessThanOrEqual(BUDGET);
  });

  it('is spent once the loop has idled for the budget while nothing came back', () => {
    const now = Date.now();
    const call = callStarted(now, BUDGET + 1, BUDGET + 1);
    expect(timeLeft(call, { lastDone: 0, bytes: 0, lastAnswerAt: 0 }, BUDGET, now)).toBeLessThanOrEqual(0);
  });

  it('does not count time this process spent busy (no idle time passed)', () => {
    const now = Date.now();
    // Two budgets of wall-clock time, none of it idle, and the store answered a moment ago.
    const call = callStarted(now, 2 * BUDGET, 0);
    const left = timeLeft(call, { lastDone: 0, bytes: 0, lastAnswerAt: now - 5 }, BUDGET, now);
    expect(left).toBeGreaterThan(0);
  });

  it('grows with the bytes the store delivers to earlier calls while this one waits (a queue of large values)', () => {
    const now = Date.now();
    // The call has idled for three budgets while 32 MB of earlier replies streamed in.
    const call = callStarted(now, 3 * BUDGET, 3 * BUDGET);
    const progress = { lastDone: call.id - 1, bytes: 32 * 1024 * 1024, lastAnswerAt: now };
    expect(timeLeft(call, progress, BUDGET, now)).toBeGreaterThan(0);
  });

  it('is not extended by replies that carry nothing: a slow store’s calls are cut at the budget', () => {
    const now = Date.now();
    // Earlier calls keep being answered (a store 60 ms late on every small reply), 64 replies of 0.5 KB.
    const call = callStarted(now, BUDGET + 1, BUDGET + 1);
    const progress = { lastDone: call.id - 1, bytes: 64 * 512, lastAnswerAt: now };
    expect(timeLeft(call, progress, BUDGET, now)).toBeLessThanOrEqual((64 * 512) / READ_BYTES_PER_MS);
  });

  it('is over at once for a call that a later call overtook', () => {
    const now = Date.now();
    const call = callStarted(now, 0);
    const progress = { lastDone: call.id + 1, bytes: 0, lastAnswerAt: now };
    expect(timeLeft(call, progress, BUDGET, now)).toBe(0);
  });

  it(`ends after ${STALL_FACTOR} budgets of a silent store, however busy the process`, () => {
    const now = Date.now();
    const call = callStarted(now, STALL_FACTOR * BUDGET + 1, 0);
    const progress = { lastDone: 0, bytes: 0, lastAnswerAt: now - STALL_FACTOR * BUDGET - 1 };
    expect(timeLeft(call, progress, BUDGET, now)).toBeLessThanOrEqual(0);
    // The same wall-clock time with the store answering other calls is not a stall.
    expect(timeLeft(call, { ...progress, lastAnswerAt: now }, BUDGET, now)).toBeGreaterThan(0);
  });

  it(`ends after ${QUEUED_WAIT_FACTOR} budgets in all, even while the store keeps answering`, () => {
    const now = Date.now();
    const call = callStarted(now, QUEUED_WAIT_FACTOR * BUDGET + 1, 0);
    const progress = { lastDone: call.id - 1, bytes: 1e12, lastAnswerAt: now };
    expect(timeLeft(call, progress, BUDGET, now)).toBeLessThanOrEqual(0);
  });
});

describe('the silence watch (a connection that answers nothing while calls wait)', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('reports a silent connection once per silence, and not while it answers', () => {
    vi.useFakeTimers();
    const silences: string[] = [];
    const watch = new SilenceWatch(10, (reason) => silences.push(reason));
    watch.sent();
    vi.advanceTimersByTime(SILENCE_MS - 300);
    expect(silences).toHaveLength(0);
    vi.advanceTimersByTime(600);
    expect(silences).toHaveLength(1);
    expect(silences[0]).toMatch(/no reply for \d+ ms while calls wait/);
    // The new connection gets its own time before it is judged.
    vi.advanceTimersByTime(SILENCE_MS / 2);
    expect(silences).toHaveLength(1);
    vi.advanceTimersByTime(SILENCE_MS);
    expect(silences).toHaveLength(2);
    // Answered: nothing waits, so nothing is silent, and the timer stops.
    watch.answered();
    vi.advanceTimersByTime(10 * SILENCE_MS);
    expect(silences).toHaveLength(2);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('allows 20 × storeTimeout of silence when that is longer than SILENCE_MS', () => {
    vi.useFakeTimers();
    let silences = 0;
    const watch = new SilenceWatch(200, () => silences++);
    watch.sent();
    vi.advanceTimersByTime(3000);
    expect(silences).toBe(0);
    vi.advanceTimersByTime(2000);
    expect(silences).toBe(1);
  });

  it(`is saturated at ${MAX_UNANSWERED} unanswered calls`, () => {
    vi.useFakeTimers();
    const watch = new SilenceWatch(10, () => {});
    for (let i = 0; i < MAX_UNANSWERED - 1; i++) watch.sent();
    expect(watch.saturated).toBe(false);
    watch.sent();
    expect(watch.saturated).toBe(true);
    watch.answered();
    expect(watch.saturated).toBe(false);
  });
});
