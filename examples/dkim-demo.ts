/**
 * The motivating case, end to end: a mail sender signs every message with a DKIM key that it fetches
 * over HTTP from a key service. The key changes rarely, so every send should reuse one cached copy, and
 * a key rotation must evict it at once.
 *
 *   npm run demo                          # in-memory store
 *   REDIS_URL=redis://127.0.0.1:6379 npm run demo   # Redis
 */
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import axios from 'axios';
import { Redis } from 'ioredis';
import { clearCache, closeCache, evict, getCacheStats, withCache } from '../src/index.js';

const KEY_SERVICE_LATENCY_MS = 40;

// --- A small "key service": answers after a realistic delay and counts what it receives. ---------------
let upstreamCalls = 0;
let keyVersion = 1;
let currentKey = newKey();
const keyService = http.createServer((req, res) => {
  upstreamCalls++;
  setTimeout(() => {
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ domain: 'example.com', selector: `s${keyVersion}`, privateKey: currentKey }));
  }, KEY_SERVICE_LATENCY_MS);
  void req;
});
await new Promise<void>((resolve) => keyService.listen(0, '127.0.0.1', resolve));
const baseURL = `http://127.0.0.1:${(keyService.address() as AddressInfo).port}`;

// --- The cached client: one line. ------------------------------------------------------------------
const redis = process.env.REDIS_URL ? new Redis(process.env.REDIS_URL, { maxRetriesPerRequest: 1 }) : undefined;
// Without a listener, ioredis prints "Unhandled error event" for every failed reconnect.
redis?.on('error', (error) => console.warn(`redis: ${error.message}`));
const api = withCache(axios.create({ baseURL }), {
  ttl: 60,
  prefix: 'demo-dkim:',
  ...(redis ? { store: redis } : {}),
});
if (redis) await clearCache(api); // start cold, so the first call below is a miss

console.log(
  `axios-redis-cache demo — store: ${redis ? `Redis at ${process.env.REDIS_URL}` : 'in-memory (set REDIS_URL for Redis)'}`,
);
console.log(`key service latency: ${KEY_SERVICE_LATENCY_MS} ms\n`);

async function sign(label: string): Promise<void> {
  const started = performance.now();
  const res = await api.get<{ selector: string; privateKey: string }>('/domains/example.com/dkim');
  const ms = (performance.now() - started).toFixed(2);
  console.log(
    `${label.padEnd(28)} ${res.cache?.status.padEnd(9)} ${ms.padStart(7)} ms   selector=${res.data.selector} key=${res.data.privateKey.slice(0, 8)}…`,
  );
}

console.log('call                         cache     time        key');
await sign('send #1 (cold)');
await sign('send #2');
await sign('send #3');

console.log('\n20 senders at once on a cold key (after evict):');
await evict(api, '/domains/example.com/dkim');
const before = upstreamCalls;
const burstStart = performance.now();
const burst = await Promise.all(Array.from({ length: 20 }, () => api.get('/domains/example.com/dkim')));
const counts = burst.reduce<Record<string, number>>((acc, r) => {
  const status = r.cache?.status ?? 'none';
  acc[status] = (acc[status] ?? 0) + 1;
  return acc;
}, {});
console.log(
  `  ${JSON.stringify(counts)} in ${(performance.now() - burstStart).toFixed(1)} ms, upstream calls: ${upstreamCalls - before}`,
);

console.log('\nkey rotation: the key service issues a new key, then evicts the cached copy');
keyVersion++;
currentKey = newKey();
const removed = await evict(api, '/domains/example.com/dkim');
console.log(`  evict() removed ${removed} entr${removed === 1 ? 'y' : 'ies'}`);
await sign('send after rotation');
await sign('send after rotation #2');

const stats = getCacheStats(api);
console.log(`\nupstream calls: ${upstreamCalls} for ${stats.hits + stats.misses + stats.coalesced} requests`);
console.log(`stats: ${JSON.stringify(stats)}`);

// Reports this process's counters to the fleet's (see `fleetStats`), then stops reporting.
await closeCache(api);
if (redis) {
  console.log(
    '\nthe entries stay in Redis: look at them with the operator CLI, e.g.\n' +
      '  npx axios-redis-cache stats --prefix demo-dkim:\n' +
      '  npx axios-redis-cache ls --prefix demo-dkim:',
  );
  redis.disconnect();
}
keyService.close();

function newKey(): string {
  return randomBytes(24).toString('base64');
}
