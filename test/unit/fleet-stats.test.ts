import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import axios from 'axios';
import { describe, expect, it } from 'vitest';
import { CacheStoreTimeoutError, closeCache, getCacheStats, MemoryStore, withCache } from '../../src/index.js';
import { answering } from '../helpers/adapters.js';

const run = promisify(execFile);

/** An upstream that answers every request with 200 'x'. */
const adapter = answering('x');

describe('fleet-wide counters', () => {
  it('sum the counters of the instances sharing a store and a prefix', async () => {
    const store = new MemoryStore();
    const a = withCache(axios.create({ adapter }), { store, fleetStats: 60 });
    const b = withCache(axios.create({ adapter }), { store, fleetStats: 60 });
    await a.get('/x');
    await a.get('/x');
    await b.get('/x');
    const fleet = await getCacheStats(a, { fleet: true }); // reports a's gains first
    const both = await getCacheStats(b, { fleet: true });
    expect(fleet.counters).toMatchObject({ misses: 1, hits: 1 });
    expect(both.counters).toMatchObject({ misses: 1, hits: 2 });
    expect(both.instances).toHaveLength(2);
    expect(both.hitRatio).toBeCloseTo(2 / 3);
  });

  it('a store that never answers: the fleet read rejects after evictTimeout, it does not hang', async () => {
    const store = new MemoryStore();
    store.readStats = () => new Promise(() => {});
    const api = withCache(axios.create(), { store, fleetStats: 60, evictTimeout: 50 });
    await expect(getCacheStats(api, { fleet: true })).rejects.toBeInstanceOf(CacheStoreTimeoutError);
  });

  it('a report that fails is not lost: the next one carries its gains; closeCache sends a last one', async () => {
    const store = new MemoryStore();
    const record = store.recordStats.bind(store);
    let failNext = false;
    store.recordStats = (report) => {
      if (failNext) {
        failNext = false;
        return Promise.reject(new Error('store down for this report'));
      }
      return record(report);
    };
    const a = withCache(axios.create({ adapter }), { store, fleetStats: 60, breaker: false, onError: () => {} });
    const reader = withCache(axios.create({ adapter }), { store, fleetStats: 60 });
    await a.get('/x'); // a miss
    failNext = true;
    await getCacheStats(a, { fleet: true }); // its report fails
    await a.get('/x'); // a hit
    await closeCache(a); // the last report carries both
    const fleet = await getCacheStats(reader, { fleet: true });
    expect(fleet.counters).toMatchObject({ misses: 1, hits: 1 });
    await closeCache(a); // closing twice reports nothing twice
    expect((await getCacheStats(reader, { fleet: true })).counters).toMatchObject({ misses: 1, hits: 1 });
  });

  it('an instance dropped without closeCache stops reporting once collected (nothing accumulates)', async () => {
    const script = fileURLToPath(new URL('../fixtures/fleet-stats-gc.ts', import.meta.url));
    const { stdout } = await run(process.execPath, ['--expose-gc', '--import', 'tsx', script]);
    const { before, after } = JSON.parse(stdout.trim()) as { before: number; after: number };
    expect(before).toBeGreaterThan(1); // it was reporting
    expect(after).toBe(0);
  });
});
