import axios from 'axios';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { closeCache, getCacheStats, withCache } from '../../src/index.js';
import { closeClients, LIBRARY, storeClient } from '../helpers/clients.js';
import { leasesReleased, type Replica, startFleet, stopFleet } from '../helpers/fleet.js';
import { type RedisServer, ready, startRedis } from '../helpers/redis-server.js';
import { echoJson, startUpstream, type Upstream } from '../helpers/upstream.js';

let server: RedisServer;
let redis: Redis;
let upstream: Upstream;

beforeAll(async () => {
  server = await startRedis();
  redis = server.client();
  redis.on('error', () => {});
  await ready(redis);
  upstream = await startUpstream();
});

afterAll(async () => {
  redis.disconnect();
  await upstream.close();
  await server.stop();
});

async function redisGets(): Promise<number> {
  const info = await redis.info('commandstats');
  return Number(/cmdstat_get:calls=(\d+)/.exec(info)?.[1] ?? 0);
}

async function until(check: () => Promise<boolean> | boolean, what: string, ms = 2000): Promise<number> {
  const started = performance.now();
  while (!(await check())) {
    if (performance.now() - started > ms) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 2));
  }
  return performance.now() - started;
}

describe('in-process layer (l1)', () => {
  it('answers hot keys without asking Redis, within its own TTL', async () => {
    const client = (await storeClient(server.port)).store;
    const api = withCache(axios.create({ baseURL: upstream.url }), { store: client, prefix: 'l1a:', l1: { ttl: 0.3 } });
    expect(getCacheStats(api).l1).toBe('down'); // until its invalidation subscription is up
    await until(() => getCacheStats(api).l1 === 'live', 'the subscription');
    await api.get('/hot');
    // The lease release runs in the background after the miss (its script's GET counts in commandstats).
    await until(async () => (await redis.keys('l1a:*:lease')).length === 0, 'the lease release');
    const before = await redisGets();
    for (let i = 0; i < 20; i++) expect((await api.get('/hot')).cache?.status).toBe('hit');
    expect(await redisGets()).toBe(before); // not one GET reached Redis
    expect(getCacheStats(api).l1Hits).toBe(20);
    expect(upstream.calls('/hot')).toBe(1);

    await new Promise((r) => setTimeout(r, 350)); // past l1.ttl: the next hit asks Redis again
    expect((await api.get('/hot')).cache?.status).toBe('hit');
    expect(await redisGets()).toBe(before + 1);
    await closeCache(api);
    await closeClients();
  });
});

describe('binary bodies through Redis and l1', () => {
  const original = Buffer.from(Array.from({ length: 16_384 }, (_, i) => (i * 7) % 256));

  it('gives each caller bytes of its own: changing one hit changes neither Redis nor the next hits', async () => {
    upstream.handle((_req, res) => {
      res.setHeader('content-type', 'application/octet-stream');
      res.end(original);
    });
    const client = (await storeClient(server.port)).store;
    const plain = withCache(axios.create({ baseURL: upstream.url }), { store: client, prefix: 'bin1:' });
    const layered = withCache(axios.create({ baseURL: upstream.url }), {
      store: client,
      prefix: 'bin2:',
      l1: { ttl: 0.2 },
    });
    await until(() => getCacheStats(layered).l1 === 'live', 'the subscription');
    const binary = { responseType: 'arraybuffer' } as const;
    try {
      for (const api of [plain, layered]) {
        await api.get('/bytes', binary);
        await new Promise((r) => setTimeout(r, 250)); // past l1.ttl: the next hit reads Redis (a fresh read)
        for (let i = 0; i < 3; i++) {
          const hit = await api.get('/bytes', binary);
          expect(hit.cache?.status).toBe('hit');
          expect((hit.data as Buffer).equals(original)).toBe(true);
          (hit.data as Buffer).fill(0); // the caller's own bytes: nothing else may change
        }
      }
      expect(getCacheStats(layered).l1Hits).toBeGreaterThanOrEqual(2);
      expect(upstream.calls('/bytes')).toBe(2); // one miss per instance
    } finally {
      await closeCache(plain);
      await closeCache(layered);
      await closeClients();
      upstream.handle(echoJson);
    }
  });
});

describe('l1 across processes', () => {
  let fleet: Replica[];
  beforeAll(async () => {
    fleet = await startFleet(2, server.port, upstream.url);
  }, 60_000);
  afterAll(() => stopFleet(fleet));
  const options = { l1: { ttl: 60 } };

  it('drops the in-process copy when another process evicts the key', async () => {
    const [a, b] = fleet as [Replica, Replica];
    await a.run('/l1/evicted', 1, options);
    expect((await a.run('/l1/evicted', 1, options))[0]?.cache).toBe('hit');
    await leasesReleased(redis); // the hit above came from A's layer: its write to Redis may still be on its way
    expect(await b.evict('/l1/evicted')).toBe(1);
    let status = '';
    const delay = await until(async () => {
      status = (await a.run('/l1/evicted', 1, options))[0]?.cache ?? '';
      return status === 'miss';
    }, 'A to drop its copy');
    expect(status).toBe('miss');
    expect(upstream.calls('/l1/evicted')).toBe(2);
    console.log(`[l1] eviction seen by the other process after ${delay.toFixed(1)} ms`);
  });

  it('serves the new answer once another process overwrites the key', async () => {
    const [a, b] = fleet as [Replica, Replica];
    const [first] = await a.run('/l1/overwritten', 1, options);
    expect((await a.run('/l1/overwritten', 1, options))[0]?.data).toEqual(first?.data);
    await leasesReleased(redis);
    const [refreshed] = await b.run('/l1/overwritten', 1, options, { refresh: true });
    expect(refreshed?.data).not.toEqual(first?.data);
    await until(async () => {
      const [next] = await a.run('/l1/overwritten', 1, options);
      return JSON.stringify(next?.data) === JSON.stringify(refreshed?.data);
    }, 'A to see the new answer');
  });
});

describe('l1 while its subscription is down', () => {
  it('serves nothing from the layer, and resumes after Redis comes back', async () => {
    const own = await startRedis();
    const client = (await storeClient(own.port)).store;
    const api = withCache(axios.create({ baseURL: upstream.url }), { store: client, prefix: 'l1c:', l1: { ttl: 60 } });
    await until(() => getCacheStats(api).l1 === 'live', 'the subscription');
    await api.get('/l1/down');
    expect((await api.get('/l1/down')).cache?.status).toBe('hit');
    const l1Hits = getCacheStats(api).l1Hits;

    await own.kill();
    await until(() => getCacheStats(api).l1 === 'down', 'the layer to stop serving');
    const res = await api.get('/l1/down'); // a copy is in the layer, but invalidations could be missed now
    expect(res.cache?.status).toBe('miss');
    expect(getCacheStats(api).l1Hits).toBe(l1Hits);

    await own.restart();
    await until(async () => (await api.get('/l1/down')).cache?.status === 'hit', 'hits again', 10_000);
    await until(
      async () => {
        const before = getCacheStats(api).l1Hits;
        await api.get('/l1/down');
        return getCacheStats(api).l1Hits > before;
      },
      'l1 hits again',
      10_000,
    );
    await closeCache(api);
    await closeClients();
    await own.stop();
  });
});

describe('l1 with a lazily connecting client', () => {
  it.skipIf(LIBRARY !== 'ioredis')('connects its own subscription (a duplicate inherits lazyConnect)', async () => {
    const client = server.client({ lazyConnect: true });
    await client.connect();
    const api = withCache(axios.create({ baseURL: upstream.url }), { store: client, prefix: 'l1lazy:', l1: {} });
    await until(() => getCacheStats(api).l1 === 'live', 'the subscription');
    await closeCache(api);
    await closeClients();
  });
});
