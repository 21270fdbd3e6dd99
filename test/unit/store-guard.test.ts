import { describe, expect, it } from 'vitest';
import { newCounters } from '../../src/stats.js';
import { FAILED, QUEUED_WAIT_FACTOR, StoreGuard } from '../../src/store-guard.js';
import { MemoryStore } from '../../src/stores/memory.js';
import type { CacheStore } from '../../src/stores/types.js';

/**
 * A store whose reads answer in the order they were made, one every `intervalMs` (a connection busy with
 * large replies, as seen from the caller), except keys listed in `never`, which never answer.
 */
function queueStore(intervalMs: number, never: ReadonlySet<string> = new Set()): CacheStore {
  const memory = new MemoryStore();
  let nextAt = Date.now();
  return Object.assign(memory, {
    get: (key: string) => {
      if (never.has(key)) return new Promise<never>(() => {});
      nextAt = Math.max(nextAt, Date.now()) + intervalMs;
      const delay = nextAt - Date.now();
      return new Promise<Uint8Array>((resolve) => setTimeout(() => resolve(Buffer.from(key)), delay));
    },
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
      value: value === FAILED ? FAILED : Buffer.from(value ?? []).toString(),
      waitedMs: Date.now() - started,
    };
  };
  return { guard, counters, read };
}

describe('StoreGuard budget', () => {
  it('lets a call queued behind answering calls wait past storeTimeout, and counts no timeout', async () => {
    const { counters, read } = guardFor(queueStore(8), 20);
    const keys = Array.from({ length: 8 }, (_, i) => `k${i}`); // the last one answers after ~64 ms
    const results = await Promise.all(keys.map(read));
    expect(results.map((r) => r.value)).toEqual(keys);
    expect(Math.max(...results.map((r) => r.waitedMs))).toBeGreaterThan(20);
    expect(counters.storeTimeouts).toBe(0);
  });

  it(`still fails a queued call after ${QUEUED_WAIT_FACTOR} × storeTimeout in all`, async () => {
    const timeout = 5;
    const { counters, read } = guardFor(queueStore(4), timeout);
    const keys = Array.from({ length: 30 }, (_, i) => `k${i}`); // answers would take up to ~120 ms
    const results = await Promise.all(keys.map(read));
    const failed = results.filter((r) => r.value === FAILED);
    const answered = results.filter((r) => r.value !== FAILED);
    expect(answered.length).toBeGreaterThan(0);
    expect(failed.length).toBeGreaterThan(0);
    expect(counters.storeTimeouts).toBe(failed.length);
    for (const r of failed) expect(r.waitedMs).toBeGreaterThanOrEqual(timeout * QUEUED_WAIT_FACTOR - 1);
    for (const r of answered) expect(r.value).toBe(r.key);
  });

  it('fails on time a call that a later call overtook (its own connection or node is not answering)', async () => {
    const { counters, read } = guardFor(queueStore(1, new Set(['stuck'])), 15);
    const stuck = read('stuck');
    const later = await Promise.all(['a', 'b', 'c'].map(read));
    expect(later.map((r) => r.value)).toEqual(['a', 'b', 'c']);
    const result = await stuck;
    expect(result.value).toBe(FAILED);
    expect(result.waitedMs).toBeLessThan(15 * 3);
    expect(counters.storeTimeouts).toBe(1);
  });

  it('fails on time a call to a store that answers nothing', async () => {
    const { counters, read } = guardFor(queueStore(1, new Set(['x', 'y'])), 10);
    const results = await Promise.all(['x', 'y'].map(read));
    expect(results.map((r) => r.value)).toEqual([FAILED, FAILED]);
    for (const r of results) expect(r.waitedMs).toBeLessThan(10 * 3);
    expect(counters.storeTimeouts).toBe(2);
  });
});
