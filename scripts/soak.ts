/**
 * Leak check: many requests mixing hits, misses, upstream errors, aborts and timeouts, with coalescing,
 * through a real axios instance. Reports heap growth between a warm-up and the end, and fails (exit 1)
 * when the in-flight map is not empty or the heap grew more than the bound.
 *
 *   node --expose-gc --import tsx scripts/soak.ts [--requests 200000] [--max-growth-mb 8]
 */
import axios, { type InternalAxiosRequestConfig } from 'axios';
import { getCacheStats, MemoryStore, withCache } from '../src/index.js';

const args = new Map<string, string>();
for (let i = 2; i < process.argv.length; i += 2) args.set(process.argv[i] ?? '', process.argv[i + 1] ?? '');
const total = Number(args.get('--requests') ?? 200_000);
const maxGrowthMb = Number(args.get('--max-growth-mb') ?? 8);
const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) {
  console.error('run with node --expose-gc');
  process.exit(2);
}

const instance = axios.create({ baseURL: 'http://upstream.test' });
let upstreamCalls = 0;
// The "upstream": answers on the next macrotask, fails for /fail, hangs a little for /slow, honours aborts.
instance.defaults.adapter = (config: InternalAxiosRequestConfig) =>
  new Promise((resolve, reject) => {
    upstreamCalls++;
    const url = config.url ?? '';
    const delay = url.startsWith('/slow') ? 5 : 0;
    const timer = setTimeout(() => {
      config.signal?.removeEventListener?.('abort', onAbort);
      if (url.startsWith('/fail')) {
        reject(new axios.AxiosError('connect ECONNREFUSED', 'ECONNREFUSED', config));
        return;
      }
      resolve({
        data: `{"url":"${url}","pad":"${'x'.repeat(200)}"}`,
        status: 200,
        statusText: 'OK',
        headers: {},
        config,
        request: {},
      });
    }, delay);
    const onAbort = () => {
      clearTimeout(timer);
      reject(new axios.CanceledError(undefined, config));
    };
    config.signal?.addEventListener?.('abort', onAbort);
  });

const api = withCache(instance, { ttl: 0.2, store: new MemoryStore({ maxEntries: 2_000 }) });

async function one(i: number): Promise<void> {
  const kind = i % 10;
  try {
    if (kind < 5)
      await api.get(`/hot/${i % 50}`); // mostly hits
    else if (kind < 7)
      await api.get(`/cold/${i}`); // misses, distinct keys (LRU-bounded store)
    else if (kind === 7)
      await api.get(`/fail/${i % 7}`); // upstream errors
    else if (kind === 8) {
      const controller = new AbortController();
      const pending = api.get(`/slow/${i % 5}`, { signal: controller.signal });
      setTimeout(() => controller.abort(), 1);
      await pending;
    } else await api.get(`/slow/${i % 5}`, { timeout: 1 }); // timeouts while joined
  } catch {
    // errors, aborts and timeouts are part of the mix
  }
}

async function run(count: number): Promise<void> {
  const concurrency = 64;
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < count) await one(next++);
    }),
  );
}

function heapMb(): number {
  gc?.();
  gc?.();
  return process.memoryUsage().heapUsed / 1024 / 1024;
}

const started = performance.now();
await run(Math.min(20_000, total));
await new Promise((r) => setTimeout(r, 300)); // let the last entries expire
const before = heapMb();
await run(total);
await new Promise((r) => setTimeout(r, 300));
const after = heapMb();
const stats = getCacheStats(api);
const growth = after - before;
const seconds = (performance.now() - started) / 1000;
console.log(
  `soak: ${total} requests (+warm-up) in ${seconds.toFixed(1)} s; upstream calls ${upstreamCalls}; ` +
    `hits ${stats.hits}, misses ${stats.misses}, coalesced ${stats.coalesced}; in-flight at end ${stats.inFlight}; ` +
    `heap ${before.toFixed(1)} MB -> ${after.toFixed(1)} MB (growth ${growth.toFixed(2)} MB, bound ${maxGrowthMb} MB)`,
);
if (stats.inFlight !== 0 || growth > maxGrowthMb) process.exit(1);
