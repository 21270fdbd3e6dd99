/**
 * Soft purge and grace: soft evictions mark entries stale in Redis (no herd: one refresh per entry for the
 * whole fleet, a conditional one when the entry has a validator), and `l1.grace` answers from this
 * process's copies while the store cannot be read. Real Redis, real upstream, real processes; every count
 * is what the upstream received.
 */
import axios, { type InternalAxiosRequestConfig } from 'axios';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { cacheStateOf } from '../../src/api/with-cache.js';
import {
  type CachedAxiosInstance,
  clearCache,
  evict,
  evictTags,
  getCacheStats,
  type RedisClient,
  withCache,
} from '../../src/index.js';
import { ON, storeClient } from '../helpers/clients.js';
import { type Replica, startFleet, stopFleet } from '../helpers/fleet.js';
import { type RedisServer, startRedis } from '../helpers/redis-server.js';
import { useRedisAndUpstream } from '../helpers/suite.js';
import { echoJson, type Upstream } from '../helpers/upstream.js';

const servers = useRedisAndUpstream();
let server: RedisServer;
let admin: Redis;
let client: RedisClient;
let upstream: Upstream;

beforeAll(async () => {
  server = servers.server;
  upstream = servers.upstream;
  admin = await servers.client();
  admin.on('error', () => {});
  client = await servers.store();
});

// Each test answers as it needs; a failed one must not leave its upstream behind for the next.
beforeEach(() => upstream.handle(echoJson));

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Requests the upstream received for exactly this path. */
const callsTo = (path: string) => upstream.received.filter((r) => r.url === path).length;

/** Run `fn` over `items` with `limit` at a time. */
async function inParallel<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<unknown>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: limit }, async () => {
      while (next < items.length) await fn(items[next++] as T);
    }),
  );
}

describe(`soft eviction${ON}`, () => {
  let fleet: Replica[] = [];
  afterAll(() => stopFleet(fleet));

  it('a soft evictTags over 10,000 entries, then 4 processes × the hot entries at once: every answer stale at once, one refresh per entry for the fleet', async () => {
    // The same prefix as the fleet's replicas (their instances are `fleet:`).
    const api = withCache(axios.create({ baseURL: upstream.url }), {
      store: client,
      prefix: 'fleet:',
      fleetStats: false,
    });
    const paths = Array.from({ length: 10_000 }, (_, i) => `/tenant/42/item/${i}`);
    const hot = paths.slice(0, 20);
    // The hot entries through the upstream; the 9,980 others through the same cache path (same keys, same
    // writes), answered in process rather than over HTTP: the setup takes a second instead of fifteen.
    for (const path of hot) await api.get(path, { cache: { tags: ['tenant:42'] } });
    const filler = withCache(axios.create({ baseURL: upstream.url }), {
      store: client,
      prefix: 'fleet:',
      fleetStats: false,
    });
    Object.assign(cacheStateOf(filler), {
      base: async (config: InternalAxiosRequestConfig) => ({
        data: JSON.stringify({ path: config.url, call: 0 }),
        status: 200,
        statusText: 'OK',
        headers: { 'content-type': 'application/json' },
        config,
        request: {},
      }),
    });
    await inParallel(paths.slice(20), 64, (path) => filler.get(path, { cache: { tags: ['tenant:42'] } }));
    fleet = await startFleet(4, server.port, upstream.url);
    const before = hot.map(callsTo);
    expect(before.every((n) => n === 1)).toBe(true);

    const started = performance.now();
    const marked = await evictTags(api, ['tenant:42'], { soft: true, grace: 30 });
    const evictMs = performance.now() - started;
    expect(marked).toBe(10_000);
    expect(getCacheStats(api).softEvictions).toBe(10_000);

    // Every replica asks for every hot entry, 5 requests each, at once; the upstream answers a refresh
    // 200 ms after it arrives (and notes when).
    const refreshedAt = new Map<string, number>();
    upstream.handle((req, res, n) => {
      setTimeout(() => {
        if (!refreshedAt.has(req.url)) refreshedAt.set(req.url, Date.now());
        echoJson(req, res, n);
      }, 200);
    });
    const results = await Promise.all(
      fleet.flatMap((replica) => hot.map((path) => replica.run(path, 5, { defaults: true }))),
    );
    const answers = results.flat();
    const slowest = Math.max(...answers.map((r) => r.ms));
    expect(answers.every((r) => r.ok && r.cache === 'stale' && r.reason === 'soft-evicted')).toBe(true);
    // At once: every answer was given before the upstream had answered any refresh.
    const firstRefresh = Math.min(...refreshedAt.values(), Number.POSITIVE_INFINITY);
    expect(answers.every((r) => r.doneAt <= firstRefresh)).toBe(true);
    await sleep(600); // the refreshes land
    const refreshes = hot.map((path, i) => callsTo(path) - (before[i] as number));
    console.log(
      `[soft eviction${ON}] 10,000 entries marked in ${evictMs.toFixed(0)} ms; 4 processes × 20 hot entries × 5: ` +
        `${answers.length} answers, all stale (slowest ${slowest.toFixed(1)} ms); refreshes per entry ${JSON.stringify([...new Set(refreshes)])}`,
    );
    expect(refreshes).toEqual(hot.map(() => 1));
    // Refreshed: fresh again everywhere, no more upstream calls.
    const after = await Promise.all(fleet.map((replica) => replica.run(hot[0] as string, 5, { defaults: true })));
    expect(after.flat().every((r) => r.cache === 'hit')).toBe(true);
    expect(callsTo(hot[0] as string)).toBe(2);
    // The cold ones are still there, marked: a stale answer and a refresh each when asked.
    const cold = await api.get(paths[5000] as string);
    expect([cold.cache?.status, cold.cache?.reason]).toEqual(['stale', 'soft-evicted']);
    upstream.handle(echoJson);
  }, 60_000);

  it('an entry with an ETag: one conditional request, answered 304, the body not sent again', async () => {
    let bodies = 0;
    upstream.handle((req, res) => {
      res.setHeader('etag', '"v1"');
      res.setHeader('content-type', 'application/json');
      if (req.headers['if-none-match'] === '"v1"') {
        res.statusCode = 304;
        res.end();
        return;
      }
      if (req.url === '/etag/key') bodies++;
      res.end(JSON.stringify({ signing: 'key-1' }));
    });
    const a = withCache(axios.create({ baseURL: upstream.url }), {
      store: client,
      prefix: 'soft-etag:',
      fleetStats: false,
    });
    const b = withCache(axios.create({ baseURL: upstream.url }), {
      store: client,
      prefix: 'soft-etag:',
      fleetStats: false,
    });
    expect((await a.get('/etag/key')).cache?.status).toBe('miss');
    expect(await evict(a, '/etag/key', { soft: true })).toBe(1);
    const stale = await Promise.all([a.get('/etag/key'), b.get('/etag/key'), a.get('/etag/key')]);
    expect(stale.map((r) => r.cache?.status)).toEqual(['stale', 'stale', 'stale']);
    expect(stale.map((r) => r.data)).toEqual(stale.map(() => ({ signing: 'key-1' })));
    await sleep(200);
    const renewed = await b.get('/etag/key');
    expect(renewed.cache?.status).toBe('hit');
    const conditional = upstream.received.filter((r) => r.url === '/etag/key' && r.headers['if-none-match'] === '"v1"');
    expect(conditional).toHaveLength(1);
    expect(bodies).toBe(1);
    expect(getCacheStats(a).revalidations + getCacheStats(b).revalidations).toBe(1);
    upstream.handle(echoJson);
  });

  it('past its grace window a soft-evicted entry is a miss; a hard eviction after a soft one deletes', async () => {
    const api = withCache(axios.create({ baseURL: upstream.url }), {
      store: client,
      prefix: 'soft-grace:',
      fleetStats: false,
    });
    await api.get('/grace/a');
    await api.get('/grace/b');
    expect(await evict(api, '/grace/*', { soft: true, grace: 0.3 })).toBe(2);
    // A second soft eviction keeps the earlier end of grace.
    expect(await evict(api, '/grace/a', { soft: true, grace: 60 })).toBe(1);
    await sleep(400);
    const late = await api.get('/grace/a');
    expect(late.cache?.status).toBe('miss');
    expect(callsTo('/grace/a')).toBe(2);
    // Hard after soft: deleted, whatever the mark.
    expect(await evict(api, '/grace/b', { soft: true })).toBe(1);
    expect(await evict(api, '/grace/b')).toBe(1);
    expect((await api.get('/grace/b')).cache?.status).toBe('miss');
    // clearCache, soft then hard.
    await api.get('/grace/c');
    expect(await clearCache(api, { soft: true })).toBeGreaterThanOrEqual(3);
    expect((await api.get('/grace/c')).cache?.reason).toBe('soft-evicted');
    await sleep(100); // its refresh lands
    expect(await clearCache(api)).toBeGreaterThanOrEqual(3);
    expect(await admin.keys('soft-grace:*')).toEqual([]);
  });

  it('rejects a bad grace where it is given, and a store that cannot mark', async () => {
    const api = withCache(axios.create({ baseURL: upstream.url }), {
      store: client,
      prefix: 'soft-bad:',
      fleetStats: false,
    });
    await expect(evict(api, '/x', { soft: true, grace: 0 })).rejects.toMatchObject({
      code: 'ERR_CACHE_OPTION',
      option: 'grace',
    });
    await expect(evictTags(api, ['t'], { soft: true, grace: 90_000 })).rejects.toMatchObject({ option: 'grace' });
    const bare = withCache(axios.create({ baseURL: upstream.url }), {
      store: {
        get: async () => null,
        set: async () => {},
        delete: async () => 0,
        deleteIndexed: async () => 0,
        deleteMatching: async () => 0,
      },
    });
    await expect(clearCache(bare, { soft: true })).rejects.toMatchObject({ option: 'soft' });
  });
});

describe(`grace from l1 while the store cannot be read${ON}`, () => {
  let redis: RedisServer;
  let api: CachedAxiosInstance;

  beforeAll(async () => {
    redis = await startRedis();
    const store = (await storeClient(redis.port)).store;
    api = withCache(axios.create({ baseURL: upstream.url }), {
      store,
      prefix: 'grace:',
      fleetStats: false,
      ttl: 0.3,
      l1: { grace: 30 },
      breaker: { failures: 2, cooldown: 200 },
    });
  });

  afterAll(async () => {
    await redis.stop();
  });

  /** Copies of the 10 keys in this process's layer (taken while it is live). */
  async function warm() {
    for (let i = 0; i < 100 && getCacheStats(api).l1 !== 'live'; i++) await sleep(20);
    for (let i = 0; i < 10; i++) await api.get(`/grace/${i}`);
  }

  async function during(fault: () => Promise<void> | void, recover: () => Promise<void> | void) {
    await warm();
    const before = upstream.received.length;
    await fault();
    await sleep(400); // past the entries' freshness (0.3 s)
    const statuses: Record<string, number> = {};
    for (let round = 0; round < 5; round++) {
      const answers = await Promise.all(Array.from({ length: 10 }, (_, i) => api.get(`/grace/${i}`)));
      for (const r of answers) {
        const k = `${r.cache?.status}${r.cache?.reason ? `:${r.cache.reason}` : ''}`;
        statuses[k] = (statuses[k] ?? 0) + 1;
        expect(r.data.path).toBe(`/grace/${answers.indexOf(r)}`);
      }
      await sleep(50);
    }
    const calls = upstream.received.slice(before);
    const upstreamCalls = calls.length;
    // The origin is called at most once per key while the store cannot be read.
    const perKey = Array.from({ length: 10 }, (_, i) => calls.filter((r) => r.url === `/grace/${i}`).length);
    await recover();
    return { statuses, upstreamCalls, perKey };
  }

  it('Redis SIGKILLed: answers from l1, stale (store-unavailable), at most one upstream call per key; normal again after the restart', async () => {
    const { statuses, upstreamCalls, perKey } = await during(
      () => redis.kill(),
      () => redis.restart(),
    );
    console.log(
      `[l1 grace${ON}] Redis killed: 50 requests over 10 keys: ${JSON.stringify(statuses)}, ${upstreamCalls} upstream calls`,
    );
    expect(statuses['stale:store-unavailable']).toBe(50);
    expect(Math.max(...perKey)).toBeLessThanOrEqual(1);
    expect(getCacheStats(api).graceHits).toBeGreaterThanOrEqual(50);
    // Back to normal: the store answers again, a miss stores, then hits.
    let status = '';
    for (let i = 0; i < 100 && status !== 'hit'; i++) {
      await sleep(50);
      await api.get('/grace/after-kill');
      status = (await api.get('/grace/after-kill')).cache?.status ?? '';
    }
    expect(status).toBe('hit');
  });

  it('Redis paused (SIGSTOP): the same, without waiting on the dead connection for each request', async () => {
    const { statuses, upstreamCalls, perKey } = await during(
      () => void process.kill(redis.pid, 'SIGSTOP'),
      () => void process.kill(redis.pid, 'SIGCONT'),
    );
    console.log(
      `[l1 grace${ON}] Redis paused: 50 requests over 10 keys: ${JSON.stringify(statuses)}, ${upstreamCalls} upstream calls`,
    );
    expect(statuses['stale:store-unavailable']).toBe(50);
    expect(Math.max(...perKey)).toBeLessThanOrEqual(1);
  });
});
