/**
 * Soft against hard eviction under load: 10,000 entries carrying one tag, a steady load of 64 requests in
 * flight over those keys (uniform), and at t = 0 `evictTags(api, [tag])` — hard (deleted), or
 * `{ soft: true }` (marked stale). For the 5 seconds after it: the origin's requests per second (and how
 * many of them were answered in full rather than `304`), and what the callers saw (answers per second,
 * p50 / p99 latency, statuses). The upstream answers in 20 ms with an `ETag`, and `304` to a matching
 * conditional request. Also: the first request after a soft eviction of 10,000 entries against a normal
 * stale hit (stale-while-revalidate), one at a time.
 *
 *   node --import tsx bench/soft-eviction.ts [--quick]     (writes bench/soft-eviction-results.json)
 *
 * REDIS_CLIENT=node-redis runs it on node-redis. One process: the origin's load of a fleet is the same
 * (one refresh, or one fill, per key for the whole fleet), its callers' latencies are each process's own.
 */
import { writeFileSync } from 'node:fs';
import http from 'node:http';
import { parseArgs } from 'node:util';
import axios, { type InternalAxiosRequestConfig } from 'axios';
import { cacheStateOf } from '../src/api/with-cache.js';
import { type CachedAxiosInstance, closeCache, evictTags, withCache } from '../src/index.js';
import { LIBRARY, storeClient } from '../test/helpers/clients.js';
import { startRedis } from '../test/helpers/redis-server.js';

const { values: args } = parseArgs({ options: { quick: { type: 'boolean', default: false } } });
const ENTRIES = 10_000;
const IN_FLIGHT = 64;
const SECONDS = args.quick ? 2 : 5;
const UPSTREAM_MS = 20;
const TAG = 'tenant:42';

interface Second {
  second: number;
  originCalls: number;
  originBodies: number;
  answers: number;
  p50Ms: number;
  p99Ms: number;
  statuses: Record<string, number>;
}

/** The origin: 20 ms, an ETag per path, `304` when the request's validator matches. */
const origin = { calls: 0, bodies: 0 };
const server = http.createServer((req, res) => {
  origin.calls++;
  setTimeout(() => {
    const etag = `"${Buffer.from(req.url ?? '').toString('base64url')}"`;
    res.setHeader('etag', etag);
    if (req.headers['if-none-match'] === etag) {
      res.statusCode = 304;
      res.end();
      return;
    }
    origin.bodies++;
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ path: req.url, settings: 'x'.repeat(400) }));
  }, UPSTREAM_MS);
});
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
const base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
const agent = new http.Agent({ keepAlive: true, maxSockets: IN_FLIGHT * 2 });
const paths = Array.from({ length: ENTRIES }, (_, i) => `/tenant/42/setting/${i}`);

const redis = await startRedis();
const results: Record<'hard' | 'soft', Second[]> = { hard: [], soft: [] };
let firstRequest: { afterSoftEvictMs: number[]; staleHitMs: number[] } | null = null;

for (const mode of ['hard', 'soft'] as const) {
  process.stderr.write(`soft-eviction: ${mode}…\n`);
  const handle = await storeClient(redis.port);
  const prefix = `bench-${mode}:`;
  const api = withCache(axios.create({ baseURL: base, httpAgent: agent }), { store: handle.store, prefix, ttl: 600 });
  await fillAll(api, handle.store, prefix);
  const seconds = await underLoad(api, async () => {
    await evictTags(api, [TAG], mode === 'soft' ? { soft: true } : undefined);
  });
  results[mode] = seconds;
  if (mode === 'soft') firstRequest = await firstRequests(handle.store);
  await closeCache(api);
  await handle.close();
}
await redis.stop();
server.close();
agent.destroy();

console.log(
  `\nSoft against hard evictTags of ${ENTRIES.toLocaleString()} entries under ${IN_FLIGHT} requests in flight over them (${LIBRARY}; upstream ${UPSTREAM_MS} ms, ETag)\n`,
);
console.log(
  '| second after the eviction | origin requests/s: hard | soft (of them full bodies) | answers/s: hard | soft | p50 / p99: hard | soft |',
);
console.log('| ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
for (let i = 0; i < SECONDS; i++) {
  const h = results.hard[i] as Second;
  const s = results.soft[i] as Second;
  console.log(
    `| ${i + 1} | ${h.originCalls} | ${s.originCalls} (${s.originBodies}) | ${h.answers} | ${s.answers} | ${h.p50Ms} / ${h.p99Ms} ms | ${s.p50Ms} / ${s.p99Ms} ms |`,
  );
}
const sum = (rows: Second[], f: (r: Second) => number) => rows.reduce((a, r) => a + f(r), 0);
console.log(
  `\nIn ${SECONDS} s: origin requests hard ${sum(results.hard, (r) => r.originCalls)} (full bodies ${sum(results.hard, (r) => r.originBodies)}), soft ${sum(results.soft, (r) => r.originCalls)} (full bodies ${sum(results.soft, (r) => r.originBodies)}).`,
);
if (firstRequest) {
  const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? Number.NaN;
  console.log(
    `First request after the soft eviction (one at a time, ${firstRequest.afterSoftEvictMs.length} keys): p50 ${med(firstRequest.afterSoftEvictMs).toFixed(3)} ms; a normal stale hit (stale-while-revalidate): p50 ${med(firstRequest.staleHitMs).toFixed(3)} ms.`,
  );
}
if (!args.quick) {
  writeFileSync(
    new URL('./soft-eviction-results.json', import.meta.url),
    `${JSON.stringify({ date: new Date().toISOString(), client: LIBRARY, entries: ENTRIES, inFlight: IN_FLIGHT, upstreamMs: UPSTREAM_MS, results, firstRequest }, null, 2)}\n`,
  );
}

/**
 * Store the 10,000 entries through the cache, tagged: the first 64 over HTTP, the rest through an instance
 * whose base adapter answers in process like the origin (same keys, same writes, a second instead of ten).
 */
async function fillAll(api: CachedAxiosInstance, store: unknown, prefix: string): Promise<void> {
  for (const path of paths.slice(0, IN_FLIGHT)) await api.get(path, { cache: { tags: [TAG] } });
  const filler = withCache(axios.create({ baseURL: base }), { store: store as never, prefix, ttl: 600 });
  Object.assign(cacheStateOf(filler), {
    base: async (config: InternalAxiosRequestConfig) => ({
      data: JSON.stringify({ path: config.url, settings: 'x'.repeat(400) }),
      status: 200,
      statusText: 'OK',
      headers: { 'content-type': 'application/json', etag: `"${Buffer.from(config.url ?? '').toString('base64url')}"` },
      config,
      request: {},
    }),
  });
  let next = IN_FLIGHT;
  await Promise.all(
    Array.from({ length: IN_FLIGHT }, async () => {
      while (next < paths.length) await filler.get(paths[next++] as string, { cache: { tags: [TAG] } });
    }),
  );
  await closeCache(filler);
}

/** The steady load; `evict` at t = 0 (after a second of load); per-second figures for `SECONDS` after it. */
async function underLoad(api: CachedAxiosInstance, evict: () => Promise<void>): Promise<Second[]> {
  const latencies: { at: number; ms: number; status: string }[] = [];
  let running = true;
  let seed = 42;
  // A 32-bit linear congruential generator (Math.imul: exact), the same sequence for both modes.
  const random = () => {
    seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0;
    return seed / 0x1_0000_0000;
  };
  const workers = Array.from({ length: IN_FLIGHT }, async () => {
    while (running) {
      const started = performance.now();
      const response = await api.get(paths[Math.floor(random() * ENTRIES)] as string);
      latencies.push({ at: performance.now(), ms: performance.now() - started, status: response.cache?.status ?? '' });
    }
  });
  await new Promise((resolve) => setTimeout(resolve, 1000)); // steady, all hits
  const originAt: { at: number; calls: number; bodies: number }[] = [];
  const zero = performance.now();
  const sampler = setInterval(() => originAt.push({ at: performance.now(), ...origin }), 50);
  originAt.push({ at: zero, ...origin });
  await evict();
  await new Promise((resolve) => setTimeout(resolve, SECONDS * 1000));
  clearInterval(sampler);
  originAt.push({ at: performance.now(), ...origin });
  running = false;
  await Promise.all(workers);
  const seconds: Second[] = [];
  for (let i = 0; i < SECONDS; i++) {
    const from = zero + i * 1000;
    const to = from + 1000;
    const inSecond = latencies.filter((l) => l.at >= from && l.at < to);
    const ms = inSecond.map((l) => l.ms).sort((a, b) => a - b);
    const at = (t: number) => originAt.reduce((best, s) => (s.at <= t ? s : best), originAt[0] as (typeof originAt)[0]);
    const statuses: Record<string, number> = {};
    for (const l of inSecond) statuses[l.status] = (statuses[l.status] ?? 0) + 1;
    seconds.push({
      second: i + 1,
      originCalls: at(to).calls - at(from).calls,
      originBodies: at(to).bodies - at(from).bodies,
      answers: inSecond.length,
      p50Ms: round(ms[Math.floor(ms.length / 2)] ?? Number.NaN),
      p99Ms: round(ms[Math.floor(ms.length * 0.99)] ?? Number.NaN),
      statuses,
    });
  }
  return seconds;
}

/**
 * One at a time: the first request of 200 keys after a soft eviction of all 10,000, against the stale hits of
 * 200 keys past their freshness within `staleWhileRevalidate` (both answer stale and start one refresh).
 */
async function firstRequests(store: unknown): Promise<{ afterSoftEvictMs: number[]; staleHitMs: number[] }> {
  const prefix = 'bench-first:';
  const api = withCache(axios.create({ baseURL: base, httpAgent: agent }), { store: store as never, prefix, ttl: 600 });
  await fillAll(api, store, prefix);
  for (let i = 0; i < 200; i++) await api.get(paths[5000 + i] as string); // warm the code path as hits
  await evictTags(api, [TAG], { soft: true });
  const afterSoftEvictMs: number[] = [];
  for (let i = 0; i < 200; i++) {
    const started = performance.now();
    const response = await api.get(paths[i] as string);
    afterSoftEvictMs.push(performance.now() - started);
    if (response.cache?.reason !== 'soft-evicted')
      throw new Error(`expected a soft-evicted answer, got ${response.cache?.status}`);
  }
  await closeCache(api);
  const swr = withCache(axios.create({ baseURL: base, httpAgent: agent }), {
    store: store as never,
    prefix: 'bench-swr:',
    ttl: 0.5,
    staleWhileRevalidate: 600,
  });
  for (let i = 0; i < 400; i++) await swr.get(paths[i] as string);
  await new Promise((resolve) => setTimeout(resolve, 600));
  const staleHitMs: number[] = [];
  for (let i = 0; i < 200; i++) {
    const started = performance.now();
    const response = await swr.get(paths[i] as string);
    staleHitMs.push(performance.now() - started);
    if (response.cache?.reason !== 'while-revalidate')
      throw new Error(`expected a stale hit, got ${response.cache?.status}`);
  }
  await closeCache(swr);
  return { afterSoftEvictMs, staleHitMs };
}

function round(n: number): number {
  return Math.round(n * 10) / 10;
}
