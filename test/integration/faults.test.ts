import axios from 'axios';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CacheEntryError,
  type CacheError,
  closeCache,
  getCacheStats,
  type RedisClient,
  withCache,
} from '../../src/index.js';
import { closeClients, storeClient, synced } from '../helpers/clients.js';
import { type RedisServer, ready, startRedis } from '../helpers/redis-server.js';
import { startTcpProxy } from '../helpers/tcp-proxy.js';
import { echoJson, startUpstream, type Upstream } from '../helpers/upstream.js';

const UPSTREAM_LATENCY_MS = 20;

let upstream: Upstream;

beforeAll(async () => {
  upstream = await startUpstream((req, res, n) => {
    setTimeout(() => echoJson(req, res, n), UPSTREAM_LATENCY_MS);
  });
});

afterAll(async () => {
  await upstream.close();
});

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] as number;
}

async function timed<T>(fn: () => Promise<T>): Promise<{ ms: number; value: T }> {
  const start = performance.now();
  const value = await fn();
  return { ms: performance.now() - start, value };
}

describe('Redis killed under a warm cache', () => {
  let server: RedisServer;
  let store: RedisClient;

  beforeAll(async () => {
    server = await startRedis();
    store = (await storeClient(server.port)).store; // reconnects by itself
  });
  afterAll(async () => {
    await closeClients();
    await server.stop();
  });

  it('fails no request, adds no store wait, and resumes hits by itself after a restart', async () => {
    const errors: CacheError[] = [];
    const api = withCache(axios.create({ baseURL: upstream.url }), {
      store,
      prefix: 'kill:',
      onError: (error) => errors.push(error),
    });
    const paths = ['/k/1', '/k/2', '/k/3', '/k/4', '/k/5'];
    const baseline: number[] = [];
    for (let i = 0; i < 15; i++) baseline.push((await timed(() => api.get(`/base/${i}`, { cache: false }))).ms);
    for (const path of paths) await api.get(path);
    for (const path of paths) expect((await api.get(path)).cache?.status).toBe('hit');
    const callsBefore = upstream.calls('/k/');

    await server.kill();

    const durations: number[] = [];
    let failed = 0;
    for (let i = 0; i < 30; i++) {
      try {
        const { ms, value } = await timed(() => api.get(paths[i % paths.length] as string));
        durations.push(ms);
        expect(value.data.path).toBe(paths[i % paths.length]);
      } catch {
        failed++;
      }
    }
    expect(failed).toBe(0);
    expect(upstream.calls('/k/') - callsBefore).toBe(30); // every request went upstream and succeeded
    const stats = getCacheStats(api);
    // Only a call already sent when the server died can wait out its budget; after ioredis notices the
    // closed socket, calls are not even attempted.
    expect(stats.storeTimeouts).toBeLessThanOrEqual(1);
    expect(errors.some((e) => e.code === 'ERR_CACHE_STORE_UNAVAILABLE')).toBe(true);
    // Generous bound (figures, not a benchmark): a hung store would add seconds, not milliseconds.
    expect(median(durations)).toBeLessThan(median(baseline) + 15);

    const killedAt = performance.now();
    await server.restart();
    let recoveredMs = -1;
    for (let attempt = 0; attempt < 400; attempt++) {
      const res = await api.get('/k/1');
      if (res.cache?.status === 'hit') {
        recoveredMs = performance.now() - killedAt;
        break;
      }
      await new Promise((r) => setTimeout(r, 25));
    }
    expect(recoveredMs).toBeGreaterThan(0);
    console.log(
      `[redis killed] 30 requests, ${failed} failed; median ${median(durations).toFixed(1)} ms with Redis dead vs ` +
        `${median(baseline).toFixed(1)} ms uncached baseline; hits resumed ${recoveredMs.toFixed(0)} ms after restart`,
    );
  });
});

describe('Redis paused (CLIENT PAUSE 1500 ALL)', () => {
  let server: RedisServer;
  let store: RedisClient;
  let admin: Redis;

  beforeAll(async () => {
    server = await startRedis();
    store = (await storeClient(server.port)).store;
    admin = server.client();
    await ready(admin);
  });
  afterAll(async () => {
    await closeClients();
    admin.disconnect();
    await server.stop();
  });

  it('bounds every request by the store time budget, then the breaker skips the store', async () => {
    const api = withCache(axios.create({ baseURL: upstream.url }), {
      store,
      prefix: 'pause:',
      storeTimeout: 50,
      breaker: { failures: 3, cooldown: 100 },
    });
    await api.get('/p/warm');
    expect((await api.get('/p/warm')).cache?.status).toBe('hit');

    await admin.call('CLIENT', 'PAUSE', '1500', 'ALL');
    const pausedAt = performance.now();
    const durations: number[] = [];
    for (let i = 0; i < 8; i++) {
      const { ms, value } = await timed(() => api.get('/p/warm'));
      durations.push(ms);
      expect(value.data.path).toBe('/p/warm');
    }
    const spent = performance.now() - pausedAt;
    const stats = getCacheStats(api);
    // No request waited for the pause: each is bounded by read + write budgets plus the upstream.
    expect(Math.max(...durations)).toBeLessThan(2 * 50 + UPSTREAM_LATENCY_MS + 150);
    expect(spent).toBeLessThan(1500);
    expect(stats.storeTimeouts).toBeGreaterThanOrEqual(3);
    expect(stats.storeSkips).toBeGreaterThan(0); // the breaker opened and skipped the store
    console.log(
      `[redis paused] 8 requests in ${spent.toFixed(0)} ms (pause 1500 ms); slowest ${Math.max(...durations).toFixed(0)} ms; ` +
        `timeouts ${stats.storeTimeouts}, skipped ${stats.storeSkips}`,
    );

    await admin.call('CLIENT', 'UNPAUSE');
    // After the cool-down a probe succeeds and the breaker closes: hits come back.
    let status = '';
    for (let attempt = 0; attempt < 100 && status !== 'hit'; attempt++) {
      await new Promise((r) => setTimeout(r, 20));
      status = (await api.get('/p/warm')).cache?.status ?? '';
    }
    expect(status).toBe('hit');
    expect(getCacheStats(api).breaker).toBe('closed');
  });
});

describe('bad values in Redis', () => {
  let server: RedisServer;
  let redis: Redis;
  let store: RedisClient;

  beforeAll(async () => {
    server = await startRedis();
    redis = server.client();
    await ready(redis);
    store = (await storeClient(server.port)).store;
  });
  afterAll(async () => {
    redis.disconnect();
    await closeClients();
    await server.stop();
  });

  const corruptions: [string, (key: string, valid: Buffer) => Promise<unknown>][] = [
    ['garbage bytes', (key) => redis.set(key, Buffer.from('not an entry at all'))],
    [
      'an entry of another format version',
      (key, valid) => redis.set(key, Buffer.concat([valid.subarray(0, 3), Buffer.from([99]), valid.subarray(4)])),
    ],
    ['a truncated entry', (key, valid) => redis.set(key, valid.subarray(0, valid.length - 3))],
    ['JSON written by another tool', (key) => redis.set(key, JSON.stringify({ data: 'foreign' }))],
    [
      'a list instead of a string',
      async (key) => {
        await redis.del(key);
        await redis.rpush(key, 'a', 'b');
      },
    ],
  ];

  for (const [name, corrupt] of corruptions) {
    it(`treats ${name} as a miss, answers right, and overwrites it`, async () => {
      const errors: CacheError[] = [];
      const api = withCache(axios.create({ baseURL: upstream.url }), {
        store,
        prefix: 'bad:',
        onError: (e) => errors.push(e),
      });
      const path = `/bad/${name.replaceAll(' ', '-')}`;
      const first = await api.get(path);
      const key = first.cache?.key as string;
      await synced(store);
      const valid = (await redis.getBuffer(key)) as Buffer;
      await corrupt(key, valid);
      const calls = upstream.calls(path);

      const res = await api.get(path);
      expect(res.cache?.status).toBe('miss');
      expect(res.data.path).toBe(path);
      expect(upstream.calls(path)).toBe(calls + 1);
      expect(errors.length).toBeGreaterThan(0);
      if (name !== 'a list instead of a string') expect(errors[0]).toBeInstanceOf(CacheEntryError);

      const again = await api.get(path);
      expect(again.cache?.status).toBe('hit'); // the bad value was overwritten
      expect(again.data).toEqual(res.data);
    });
  }
});

describe('all traffic blackholed, new connections too (a network that swallows everything)', () => {
  it('fails no request while it lasts, and hits again soon after it ends (a swallowed reconnect handshake is made again)', async () => {
    const server = await startRedis();
    const proxy = await startTcpProxy(server.port);
    const handle = await storeClient(proxy.port);
    const api = withCache(axios.create({ baseURL: upstream.url }), {
      store: handle.store,
      prefix: 'blackhole:',
      fleetStats: false,
    });
    try {
      const paths = Array.from({ length: 8 }, (_, i) => `/blackhole/${i}`);
      for (const path of paths) await api.get(path);
      await synced(handle.store);
      let failed = 0;
      const round = async () => {
        const answers = await Promise.all(
          paths.map((path) =>
            api.get(path).then(
              (r) => r.cache?.status,
              () => {
                failed++;
                return 'failed';
              },
            ),
          ),
        );
        return answers.filter((s) => s === 'hit').length;
      };
      proxy.mode = 'blackhole';
      const end = Date.now() + 1500;
      while (Date.now() < end) await round(); // the silence watch drops the connection; its reconnect is swallowed
      proxy.mode = 'pass';
      const endedAt = performance.now();
      let hitsAgainMs: number | null = null;
      while (performance.now() - endedAt < 5000) {
        if ((await round()) === paths.length) {
          hitsAgainMs = performance.now() - endedAt;
          break;
        }
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      console.log(`[blackhole] hits again ${hitsAgainMs?.toFixed(0) ?? 'never'} ms after it ended; ${failed} failed`);
      expect(failed).toBe(0);
      expect(hitsAgainMs).not.toBeNull();
    } finally {
      await closeCache(api);
      await handle.close();
      await proxy.close();
      await server.stop();
    }
  });
});
