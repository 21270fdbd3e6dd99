import axios, { AxiosError } from 'axios';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getCacheStats, withCache } from '../../src/index.js';
import { coldStartFleet, type Replica, startFleet, stopFleet, type WorkerResult } from '../helpers/fleet.js';
import { type RedisServer, ready, startRedis } from '../helpers/redis-server.js';
import { echoJson, startUpstream, type Upstream } from '../helpers/upstream.js';

let server: RedisServer;
let redis: Redis;
let upstream: Upstream;

beforeAll(async () => {
  server = await startRedis();
  redis = server.client();
  await ready(redis);
  upstream = await startUpstream();
});

afterAll(async () => {
  redis.disconnect();
  await upstream.close();
  await server.stop();
});

const slowEcho =
  (ms: number) =>
  (...args: Parameters<typeof echoJson>) =>
    void setTimeout(() => echoJson(...args), ms);

/**
 * The upstream never answers the first request (its sender, the lease holder, is about to be killed) and
 * answers every later one in 20 ms. `holder()` resolves to the replica that sent the first request.
 */
function holderNeverAnswers(): { holder(): Promise<string> } {
  let holder: string | undefined;
  upstream.handle((req, res, n) => {
    if (holder === undefined) {
      holder = String(req.headers['x-worker']);
      return;
    }
    setTimeout(() => echoJson(req, res, n), 20);
  });
  return {
    async holder() {
      for (let i = 0; i < 200 && holder === undefined; i++) await new Promise((r) => setTimeout(r, 10));
      if (holder === undefined) throw new Error('no request reached the upstream');
      return holder;
    },
  };
}

function tally(results: WorkerResult[][]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const r of results.flat()) {
    const k = r.ok ? r.cache : `error ${r.status}`;
    counts[k] = (counts[k] ?? 0) + 1;
  }
  return counts;
}

describe('4 processes × 50 concurrent requests', () => {
  let fleet: Replica[];
  beforeAll(async () => {
    fleet = await startFleet(4, server.port, upstream.url);
  }, 60_000);
  afterAll(() => stopFleet(fleet));

  it('sends exactly one request upstream for a cold key', async () => {
    upstream.handle(slowEcho(100));
    const results = await Promise.all(fleet.map((r) => r.run('/cold/dkim', 50)));
    expect(results.flat().every((r) => r.ok)).toBe(true);
    expect(results.flat()).toHaveLength(200);
    expect(upstream.calls('/cold/dkim')).toBe(1);
    const counts = tally(results);
    expect(counts.miss).toBe(1);
    expect(counts.coalesced).toBe(199);
    // Every process got the one answer.
    expect(new Set(results.flat().map((r) => r.data.call)).size).toBe(1);
  });

  it('sees an eviction made by another process on its very next request', async () => {
    upstream.handle(echoJson);
    await fleet[0]!.run('/rotating-key', 1);
    expect((await fleet[0]!.run('/rotating-key', 1))[0]?.cache).toBe('hit');
    expect(await fleet[3]!.evict('/rotating-key')).toBe(1);
    const [next] = await fleet[0]!.run('/rotating-key', 1);
    expect(next?.cache).toBe('miss');
    expect(upstream.calls('/rotating-key')).toBe(2);
  });

  it('releases waiters at once when the answer cannot be stored (hit-for-miss)', async () => {
    upstream.handle((_req, res) => {
      setTimeout(() => {
        res.statusCode = 500;
        res.end('{"error":"boom"}');
      }, 100);
    });
    const started = performance.now();
    const results = await Promise.all(fleet.map((r) => r.run('/uncacheable', 50, { lockWait: 5000, lockTtl: 4000 })));
    const elapsed = performance.now() - started;
    expect(results.flat().every((r) => !r.ok && r.status === 500)).toBe(true);
    // One call per process at most (in-process coalescing), and nobody waited out lockWait or the lease.
    expect(upstream.calls('/uncacheable')).toBeGreaterThanOrEqual(1);
    expect(upstream.calls('/uncacheable')).toBeLessThanOrEqual(4);
    expect(elapsed).toBeLessThan(2000);
  });

  it('serves stale copies at once after expiry, with one refresh for the whole fleet', async () => {
    upstream.handle(slowEcho(5));
    const options = { ttl: 0.3, staleWhileRevalidate: 60 };
    const [first] = await fleet[0]!.run('/swr', 1, options);
    expect(upstream.calls('/swr')).toBe(1);
    await new Promise((r) => setTimeout(r, 350)); // let it go stale

    upstream.handle(slowEcho(300)); // a slow refresh: the stale answers must not wait for it
    const results = await Promise.all(fleet.map((r) => r.run('/swr', 50, options)));
    expect(tally(results)).toEqual({ stale: 200 });
    expect(Math.max(...results.flat().map((r) => r.ms))).toBeLessThan(300);
    expect(results.flat().every((r) => r.data.call === first?.data.call)).toBe(true);

    // Exactly one refresh reaches the upstream, and the next request sees its data.
    for (let i = 0; i < 100 && upstream.calls('/swr') < 2; i++) await new Promise((r) => setTimeout(r, 10));
    let after: WorkerResult | undefined;
    for (let i = 0; i < 100; i++) {
      after = (await fleet[1]!.run('/swr', 1, options))[0];
      if (after?.cache === 'hit') break;
      await new Promise((r) => setTimeout(r, 10));
    }
    expect(upstream.calls('/swr')).toBe(2);
    expect(after?.cache).toBe('hit');
    expect(after?.data.call).not.toBe(first?.data.call);
  });
});

describe('4 processes × 50 concurrent requests on an expired key with an ETag', () => {
  let fleet: Replica[];
  beforeAll(async () => {
    fleet = await startFleet(4, server.port, upstream.url);
  }, 60_000);
  afterAll(() => stopFleet(fleet));

  for (const [mode, options] of [
    ['ttl', { ttl: 0.5 }],
    ['httpSemantics', { httpSemantics: true }],
  ] as const) {
    it(`${mode} mode: send one conditional request upstream for the whole fleet, and get a 304`, async () => {
      const path = `/etag-${mode}`;
      const conditional: string[] = [];
      upstream.handle((req, res, n) => {
        res.setHeader('etag', '"k1"');
        res.setHeader('cache-control', 'max-age=1');
        if (req.headers['if-none-match'] !== undefined) {
          conditional.push(String(req.headers['if-none-match']));
          // A slow origin: every replica's requests arrive while the revalidation runs.
          setTimeout(() => {
            res.statusCode = 304;
            res.end();
          }, 100);
          return;
        }
        echoJson(req, res, n);
      });
      const [first] = await fleet[0]!.run(path, 1, options);
      expect(first?.cache).toBe('miss');
      await new Promise((r) => setTimeout(r, 1100)); // expired in both modes

      const results = await Promise.all(fleet.map((r) => r.run(path, 50, options)));
      const counts = tally(results);
      console.log(
        `[fleet revalidation, ${mode}] 4 × 50 requests: ${JSON.stringify(counts)}, ${conditional.length} conditional request(s)`,
      );
      expect(results.flat().every((r) => r.ok && r.status === 200)).toBe(true);
      expect(results.flat().every((r) => r.data.call === first?.data.call)).toBe(true);
      expect(conditional).toEqual(['"k1"']);
      expect(upstream.calls(path)).toBe(2); // the first fill and one conditional request
      expect(counts.revalidated).toBeGreaterThanOrEqual(1);
      expect(counts.miss).toBeUndefined();
    });
  }
});

describe('the lease holder dies mid-fetch', () => {
  let fleet: Replica[];
  beforeAll(async () => {
    fleet = await startFleet(4, server.port, upstream.url);
  }, 60_000);
  afterAll(() => stopFleet(fleet));

  it('lets another process take over after the lease expires: one more upstream call, nobody fails', async () => {
    const LOCK_TTL = 1000;
    const first = holderNeverAnswers();
    const started = performance.now();
    const runs = fleet.map((r) => r.run('/holder-dies', 50, { lockTtl: LOCK_TTL, lockWait: 10_000 }));
    const holder = await first.holder();
    expect(holder).toBeDefined();
    const victim = fleet.find((r) => r.id === holder)!;
    victim.process.kill('SIGKILL');

    const survivors = fleet.filter((r) => r !== victim);
    const results = await Promise.all(survivors.map((r) => runs[fleet.indexOf(r)]!));
    const elapsed = performance.now() - started;
    expect(results.flat()).toHaveLength(150);
    expect(results.flat().every((r) => r.ok)).toBe(true);
    expect(upstream.calls('/holder-dies')).toBe(2);
    expect(elapsed).toBeLessThan(LOCK_TTL + 1000);
    console.log(`[holder killed] 150 survivors answered ${elapsed.toFixed(0)} ms after start (lease ${LOCK_TTL} ms)`);
  });
});

describe('the lease holder dies mid-fetch, default options, every request with a 3 s timeout', () => {
  let fleet: Replica[];
  beforeAll(async () => {
    fleet = await startFleet(4, server.port, upstream.url);
  }, 60_000);
  afterAll(() => stopFleet(fleet));

  it('fails nobody: the dead holder stops renewing its lease, a survivor takes over within lockTtl', async () => {
    const first = holderNeverAnswers();
    const started = performance.now();
    const runs = fleet.map((r) => r.run('/holder-dies-default', 50, {}, undefined, 3000));
    const holder = await first.holder();
    const victim = fleet.find((r) => r.id === holder)!;
    victim.process.kill('SIGKILL');
    const results = (await Promise.all(fleet.filter((r) => r !== victim).map((r) => runs[fleet.indexOf(r)]!))).flat();
    const ms = results.map((r) => r.ms).sort((a, b) => a - b);
    const failed = results.filter((r) => !r.ok).length;
    const calls = upstream.calls('/holder-dies-default');
    console.log(
      `[holder killed, defaults, timeout 3 s] 150 requests: ${failed} failed, p50 ${ms[75]?.toFixed(0)} ms, ` +
        `max ${ms.at(-1)?.toFixed(0)} ms, ${calls} upstream calls (the dead holder's included), ` +
        `${(performance.now() - started).toFixed(0)} ms in all`,
    );
    expect(failed).toBe(0);
    expect(calls).toBeLessThanOrEqual(3);
    expect(ms[75]).toBeLessThan(2500);
  });
});

describe('a fleet that restarts and fires before its clients are ready', () => {
  it('4 processes × 50 cold requests send one request upstream, like a warm fleet', async () => {
    upstream.handle(slowEcho(100));
    const results = await coldStartFleet(4, server.port, upstream.url, '/cold-start', 50);
    const calls = upstream.calls('/cold-start');
    console.log(
      `[cold start] 4 × 50 requests fired before ready: ${calls} upstream call(s), ${JSON.stringify(tally(results))}`,
    );
    expect(results.flat().every((r) => r.ok)).toBe(true);
    expect(calls).toBe(1);
  });
});

describe('stale-if-error', () => {
  it('serves the stale copy when the upstream fails, and the error when there is none', async () => {
    const api = withCache(axios.create({ baseURL: upstream.url }), {
      store: redis,
      prefix: 'sie:',
      ttl: 0.1,
      staleIfError: 60,
    });
    upstream.handle(echoJson);
    const fresh = await api.get('/sie');
    await new Promise((r) => setTimeout(r, 150));

    upstream.handle((_req, res) => {
      res.statusCode = 503;
      res.end('down');
    });
    const stale = await api.get('/sie');
    expect(stale.cache?.status).toBe('stale');
    expect(stale.data).toEqual(fresh.data);
    expect(getCacheStats(api).staleHits).toBe(1);

    const error = await api.get('/sie-never-cached').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AxiosError);
    expect((error as AxiosError).response?.status).toBe(503);
  });

  it('serves the stale copy when the upstream cannot be reached at all', async () => {
    const gone = await startUpstream();
    const api = withCache(axios.create({ baseURL: gone.url }), {
      store: redis,
      prefix: 'sie-down:',
      ttl: 0.1,
      staleIfError: 60,
    });
    const fresh = await api.get('/key');
    await gone.close();
    await new Promise((r) => setTimeout(r, 150));
    const stale = await api.get('/key');
    expect(stale.cache?.status).toBe('stale');
    expect(stale.data).toEqual(fresh.data);
    const error = (await api.get('/other').catch((e: unknown) => e)) as AxiosError;
    expect(error).toBeInstanceOf(AxiosError);
    expect(error.code).toBe('ECONNREFUSED');
  });

  it('answers a caller whose own timeout passes with the stale copy', async () => {
    const api = withCache(axios.create({ baseURL: upstream.url }), {
      store: redis,
      prefix: 'sie-timeout:',
      ttl: 0.1,
      staleIfError: 60,
    });
    upstream.handle(echoJson);
    const fresh = await api.get('/slow');
    await new Promise((r) => setTimeout(r, 150));
    upstream.handle(slowEcho(500));
    const stale = await api.get('/slow', { timeout: 100 });
    expect(stale.cache?.status).toBe('stale');
    expect(stale.data).toEqual(fresh.data);
  });
});
