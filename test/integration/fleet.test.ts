import axios, { AxiosError } from 'axios';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getCacheStats, withCache } from '../../src/index.js';
import { LIBRARY } from '../helpers/clients.js';
import { leasesReleased, type Replica, startFleet, stopFleet, type WorkerResult } from '../helpers/fleet.js';
import { type RedisServer, ready, startRedis } from '../helpers/redis-server.js';
import { echoJson, slowEcho, startUpstream, type Upstream } from '../helpers/upstream.js';

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

/**
 * The upstream never answers the first request (its sender, the lease holder, is about to be killed) and
 * answers every later one in 20 ms. `holder()` resolves to the replica that sent the first request.
 */
function holderNeverAnswers(laterMs = 20): { holder(): Promise<string> } {
  let holder: string | undefined;
  upstream.handle((req, res, n) => {
    if (holder === undefined) {
      holder = String(req.headers['x-worker']);
      return;
    }
    setTimeout(() => echoJson(req, res, n), laterMs);
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
    await leasesReleased(redis);
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

// Once, in the default project: it runs both libraries itself.
describe.skipIf(LIBRARY !== 'ioredis')('a mixed fleet during a migration: 2 ioredis + 2 node-redis processes', () => {
  let fleet: Replica[];
  beforeAll(async () => {
    fleet = [
      ...(await startFleet(2, server.port, upstream.url, 'ioredis')),
      ...(await startFleet(2, server.port, upstream.url, 'node-redis')),
    ];
  }, 60_000);
  afterAll(() => stopFleet(fleet));

  it('4 × 50 cold requests send one request upstream: leases, entries and invalidations are shared', async () => {
    upstream.handle(slowEcho(100));
    const results = await Promise.all(fleet.map((r) => r.run('/mixed/cold', 50)));
    expect(results.flat().every((r) => r.ok)).toBe(true);
    expect(upstream.calls('/mixed/cold')).toBe(1);
    expect(new Set(results.flat().map((r) => r.data.call)).size).toBe(1);
    // An entry written by one library is read by the other, each way.
    for (const [writer, reader] of [
      [fleet[0], fleet[2]],
      [fleet[3], fleet[1]],
    ] as const) {
      const path = `/mixed/${writer?.id}`;
      const [written] = (await writer?.run(path, 1)) ?? [];
      expect(written?.cache).toBe('miss');
      await leasesReleased(redis);
      const [read] = (await reader?.run(path, 1)) ?? [];
      expect(read?.cache).toBe('hit');
      expect(read?.data).toEqual(written?.data);
    }
    // An eviction by a node-redis process is seen by an ioredis one on its next request.
    await leasesReleased(redis);
    expect(await fleet[2]?.evict('/mixed/cold')).toBe(1);
    const [after] = (await fleet[0]?.run('/mixed/cold', 1)) ?? [];
    expect(after?.cache).toBe('miss');
  });
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

  // The guarantee: a waiter whose holder dies gets the successor's answer when the dead holder's lease
  // lapses (at most lockTtl after its last renewal), plus the successor's upstream time, fall within its
  // own timeout — it follows the lease rather than give up at half its time.
  it.each([20, 300, 1000])(
    'fails nobody, and waits for the successor (upstream %i ms): 2 upstream calls in all, the dead holder’s included',
    async (upstreamMs) => {
      const path = `/holder-dies-default/${upstreamMs}`;
      const first = holderNeverAnswers(upstreamMs);
      const started = performance.now();
      const runs = fleet.map((r) => r.run(path, 50, {}, undefined, 3000));
      const holder = await first.holder();
      const victim = fleet.find((r) => r.id === holder)!;
      victim.process.kill('SIGKILL');
      const perReplica = await Promise.all(fleet.filter((r) => r !== victim).map((r) => runs[fleet.indexOf(r)]!));
      const results = perReplica.flat();
      const summary = perReplica.map((rs) => {
        const first = rs[0];
        return `${first?.cache ?? first?.error}/${first?.status}${first?.ok ? '' : ` [${first?.error}]`}@${Math.round(Math.min(...rs.map((r) => r.ms)))}-${Math.round(Math.max(...rs.map((r) => r.ms)))}ms`;
      });
      const ms = results.map((r) => r.ms).sort((a, b) => a - b);
      const failed = results.filter((r) => !r.ok).length;
      const calls = upstream.calls(path);
      console.log(
        `[holder killed, defaults, timeout 3 s, upstream ${upstreamMs} ms] 150 requests: ${failed} failed, p50 ${ms[75]?.toFixed(0)} ms, ` +
          `max ${ms.at(-1)?.toFixed(0)} ms, ${calls} upstream calls (the dead holder's included), ` +
          `${(performance.now() - started).toFixed(0)} ms in all; per replica ${summary.join(', ')}`,
      );
      expect(failed).toBe(0);
      expect(calls).toBe(2);
      // Replace the victim for the next round.
      fleet.splice(fleet.indexOf(victim), 1, ...(await startFleet(1, server.port, upstream.url)));
    },
  );
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
