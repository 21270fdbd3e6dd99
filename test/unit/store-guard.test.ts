import { describe, expect, it } from 'vitest';
import { newCounters } from '../../src/observe/stats.js';
import { QUEUED_WAIT_FACTOR, STALL_FACTOR } from '../../src/stores/guard/budget.js';
import { FAILED, StoreGuard } from '../../src/stores/guard/guard.js';
import { MemoryStore } from '../../src/stores/memory.js';
import type { CacheStore } from '../../src/stores/types.js';

function burn(ms: number): void {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    // busy: the process is working (parsing a large reply, say), not waiting
  }
}

/**
 * A store whose reads answer one after the other, in the order they were made, `stepMs` apart, except keys
 * listed in `never`, which never answer. `busy`: each step is spent working in this process (the replies
 * are there, the process is parsing the ones before); otherwise it is spent waiting (a slow store).
 */
function queueStore(
  stepMs: number | ((answer: number) => number),
  busy: boolean,
  never: ReadonlySet<string> = new Set(),
  valueBytes = 0,
): CacheStore & { drained(): Promise<void> } {
  const queue: (() => void)[] = [];
  let answered = 0;
  const step = () => (typeof stepMs === 'number' ? stepMs : stepMs(answered++));
  let running = false;
  let onDrained: (() => void)[] = [];
  const next = () => {
    const answer = queue.shift();
    if (!answer) {
      running = false;
      for (const resolve of onDrained) resolve();
      onDrained = [];
      return;
    }
    if (busy) {
      burn(step());
      answer();
      setImmediate(next);
    } else {
      setTimeout(() => {
        answer();
        next();
      }, step());
    }
  };
  return Object.assign(new MemoryStore(), {
    get: (key: string) => {
      if (never.has(key)) return new Promise<never>(() => {});
      return new Promise<Uint8Array>((resolve) => {
        queue.push(() => resolve(Buffer.concat([Buffer.from(key), Buffer.alloc(valueBytes, 32)])));
        if (!running) {
          running = true;
          setImmediate(next);
        }
      });
    },
    /** Resolves once every queued read has been answered (so that no test's work spills into the next). */
    drained: () => (running ? new Promise<void>((resolve) => onDrained.push(resolve)) : Promise.resolve()),
  });
}

function guardFor(store: CacheStore, storeTimeoutMs: number) {
  const counters = newCounters();
  const guard = new StoreGuard(store, { storeTimeoutMs, breaker: null, onError: undefined }, counters);
  const read = async (key: string) => {
    const started = Date.now();
    const value = await guard.call('get', key, (s) => s.get(key));
    return {
      key,
      value:
        value === FAILED
          ? FAILED
          : Buffer.from(value ?? [])
              .toString()
              .trimEnd(),
      waitedMs: Date.now() - started,
    };
  };
  return { counters, read };
}

const keys = (n: number) => Array.from({ length: n }, (_, i) => `k${i}`);

describe('StoreGuard budget', () => {
  it('does not count time the process spends busy: queued reads wait past storeTimeout and are answered', async () => {
    const { counters, read } = guardFor(queueStore(8, true), 20);
    const results = await Promise.all(keys(8).map(read)); // the last answers after ~64 ms of work
    expect(results.map((r) => r.value)).toEqual(keys(8));
    expect(Math.max(...results.map((r) => r.waitedMs))).toBeGreaterThan(40);
    expect(counters.storeTimeouts).toBe(0);
  });

  it('waits for a store streaming large replies to the calls ahead: no read fails while their bytes keep coming', async () => {
    // Each 256 KB answer comes 6 ms (of idle waiting) after the last; the 12th read waits ~72 ms, past the
    // 40 ms budget: the store is busy sending the values queued before it (as Redis streaming large
    // replies), not slow — each earlier reply's bytes buy the waiting ones time (8 ms per 256 KB).
    const store = queueStore(6, false, new Set(), 256 * 1024);
    const { counters, read } = guardFor(store, 40);
    const results = await Promise.all(keys(12).map(read));
    expect(results.map((r) => r.value)).toEqual(keys(12));
    expect(Math.max(...results.map((r) => r.waitedMs))).toBeGreaterThan(50);
    expect(counters.storeTimeouts).toBe(0);
  });

  it('cuts the calls of a store that answers small replies slower than the budget, however many keep coming', async () => {
    // The same 6 ms per answer, with small values: replies that carry nothing buy nothing.
    const store = queueStore(6, false);
    const { counters, read } = guardFor(store, 40);
    const results = await Promise.all(keys(12).map(read));
    await store.drained();
    const failed = results.filter((r) => r.value === FAILED);
    expect(failed.length).toBeGreaterThan(0);
    expect(counters.storeTimeouts).toBe(failed.length);
    for (const r of failed) expect(r.waitedMs).toBeLessThan(40 * 2); // cut at about the budget
  });

  it('fails the waiting reads once the store answers nothing for storeTimeout, even after answering some', async () => {
    // Three answers 3 ms apart, then silence for 200 ms (a stall), then the rest.
    const store = queueStore((answer) => (answer < 3 ? 3 : answer === 3 ? 200 : 1), false);
    const { counters, read } = guardFor(store, 30);
    const results = await Promise.all(keys(8).map(read));
    await store.drained();
    expect(results.slice(0, 3).map((r) => r.value)).toEqual(keys(3));
    const failed = results.slice(3);
    expect(failed.map((r) => r.value)).toEqual(failed.map(() => FAILED));
    expect(counters.storeTimeouts).toBe(5);
    for (const r of failed) {
      expect(r.waitedMs).toBeGreaterThanOrEqual(29); // the budget…
      expect(r.waitedMs).toBeLessThan(150); // …not the stall's 200 ms, nor the 40× limit
    }
  });

  it(`fails a read after ${QUEUED_WAIT_FACTOR} × storeTimeout in all, however busy the process`, async () => {
    const timeout = 2;
    const store = queueStore(5, true);
    const { counters, read } = guardFor(store, timeout);
    const results = await Promise.all(keys(30).map(read)); // answers would take up to ~150 ms of work
    await store.drained();
    const failed = results.filter((r) => r.value === FAILED);
    expect(results.filter((r) => r.value !== FAILED).length).toBeGreaterThan(0);
    expect(failed.length).toBeGreaterThan(0);
    expect(counters.storeTimeouts).toBe(failed.length);
    for (const r of failed) expect(r.waitedMs).toBeGreaterThanOrEqual(timeout * QUEUED_WAIT_FACTOR - 1);
  });

  it(`fails a read of a store that answers nothing after ${STALL_FACTOR} × storeTimeout of wall-clock time, however busy the process`, async () => {
    const timeout = 20;
    const { counters, read } = guardFor(queueStore(1, false, new Set(['x'])), timeout);
    // 9 ms of work in every 10: the loop is almost never idle, so the idle-time budget alone would not end.
    const burner = setInterval(() => {
      const until = performance.now() + 9;
      while (performance.now() < until) {}
    }, 10);
    try {
      const result = await read('x');
      expect(result.value).toBe(FAILED);
      expect(result.waitedMs).toBeGreaterThanOrEqual(timeout * STALL_FACTOR - 1);
      expect(result.waitedMs).toBeLessThan(timeout * QUEUED_WAIT_FACTOR);
    } finally {
      clearInterval(burner);
    }
    expect(counters.storeTimeouts).toBe(1);
  });

  it('fails on time a read that a later read overtook (its node or reply is lost)', async () => {
    const { counters, read } = guardFor(queueStore(1, false, new Set(['stuck'])), 15);
    const stuck = read('stuck');
    const later = await Promise.all(['a', 'b', 'c'].map(read));
    expect(later.map((r) => r.value)).toEqual(['a', 'b', 'c']);
    const result = await stuck;
    expect(result.value).toBe(FAILED);
    expect(result.waitedMs).toBeLessThan((15 * QUEUED_WAIT_FACTOR) / 2);
    expect(counters.storeTimeouts).toBe(1);
  });

  it('fails on time a read of a store that answers nothing', async () => {
    const { counters, read } = guardFor(queueStore(1, false, new Set(['x', 'y'])), 10);
    const results = await Promise.all(['x', 'y'].map(read));
    expect(results.map((r) => r.value)).toEqual([FAILED, FAILED]);
    for (const r of results) expect(r.waitedMs).toBeLessThan((10 * QUEUED_WAIT_FACTOR) / 2);
    expect(counters.storeTimeouts).toBe(2);
  });
});
