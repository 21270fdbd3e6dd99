/**
 * The chaos run: faults under load, for the README's "When Redis fails" table.
 *
 *   npm run chaos            (both client libraries, one after the other)
 *   [REDIS_CLIENT=node-redis] node --import tsx bench/chaos.ts [--json FILE]
 *
 * The cache's client is ioredis, or node-redis with `REDIS_CLIENT=node-redis` (the test helpers' switch).
 * Each fault runs against a warm cache with 64 requests in flight (32 warm keys, one cold key in every
 * 50 requests), default options, an upstream answering in 20 ms, a private redis-server, and a TCP proxy
 * between the client and Redis for the network faults. Per fault: requests, failed, latency p50/p99/max
 * over the fault and the 2 s after it, upstream calls (against the warm-cache baseline of the same
 * length), and recovery: from the end of the fault to the first 100 ms in which 90% of answers are hits.
 */
import { writeFileSync } from 'node:fs';
import axios from 'axios';
import type { Redis } from 'ioredis';
import { getCacheStats, withCache } from '../src/index.js';
import { LIBRARY, storeClient } from '../test/helpers/clients.js';
import { ready, startRedis } from '../test/helpers/redis-server.js';
import { startTcpProxy, type TcpProxy } from '../test/helpers/tcp-proxy.js';
import { echoJson, startUpstream } from '../test/helpers/upstream.js';

const IN_FLIGHT = 64;
const WARM_KEYS = 32;
const FAULT_MS = 2000;
const AFTER_MS = 2000;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface Sample {
  at: number;
  ms: number;
  ok: boolean;
  hit: boolean;
}

interface Row {
  fault: string;
  requests: number;
  failed: number;
  p50: number;
  p99: number;
  max: number;
  upstreamCalls: number;
  baselineCalls: number;
  recoveryMs: number | null;
  /** `end`: recovery counted from the end of the fault; `start`: from its start (nothing ends it but the cache). */
  recoveryFrom: 'end' | 'start';
  notes: string;
}

interface Fault {
  name: string;
  /**
   * Start the fault; resolves to the function that ends it, or to `null` for a fault nothing outside the
   * cache ends (a silent or cut connection): its recovery is measured from its start.
   */
  start(ctx: Context): Promise<(() => Promise<void>) | null>;
  clientOptions?: { username: string; password: string };
  /** Cache options of this fault's run (on top of the defaults). */
  cacheOptions?: Record<string, unknown>;
}

interface Context {
  readonly proxy: TcpProxy;
  readonly admin: Redis;
  readonly server: Awaited<ReturnType<typeof startRedis>>;
}

const upstream = await startUpstream((req, res, n) => void setTimeout(() => echoJson(req, res, n), 20));

const FAULTS: Fault[] = [
  {
    name: 'redis-server SIGKILLed, restarted 2 s later (empty)',
    start: async ({ server }) => {
      await server.kill();
      return () => server.restart();
    },
  },
  {
    name: '`CLIENT PAUSE` 2 s',
    start: async ({ admin }) => {
      await admin.call('CLIENT', 'PAUSE', String(FAULT_MS), 'ALL');
      return async () => {};
    },
  },
  {
    name: 'half-open connection (silent: no FIN, no RST)',
    start: async ({ proxy }) => {
      proxy.stall();
      return null;
    },
  },
  {
    name: 'all traffic blackholed 2 s (new connections too)',
    start: async ({ proxy }) => {
      proxy.mode = 'blackhole';
      return async () => {
        proxy.mode = 'pass';
      };
    },
  },
  {
    name: 'every reply 100 ms late (2 × storeTimeout), 2 s',
    start: async ({ proxy }) => {
      proxy.delayMs = 100;
      proxy.mode = 'slow-replies';
      return async () => {
        proxy.mode = 'pass';
      };
    },
  },
  {
    name: 'every reply 250 ms late (5 × storeTimeout), 2 s',
    start: async ({ proxy }) => {
      proxy.delayMs = 250;
      proxy.mode = 'slow-replies';
      return async () => {
        proxy.mode = 'pass';
      };
    },
  },
  {
    name: 'every reply 1000 ms late (20 × storeTimeout), 2 s',
    start: async ({ proxy }) => {
      proxy.delayMs = 1000;
      proxy.mode = 'slow-replies';
      return async () => {
        proxy.mode = 'pass';
      };
    },
  },
  {
    name: 'Redis stopped (SIGSTOP) 2 s, event loop 85 % busy',
    start: async ({ server }) => {
      process.kill(server.pid, 'SIGSTOP');
      // This process works 8.5 ms of every 10 (JSON, crypto, rendering: a busy service).
      const burner = setInterval(() => {
        const until = performance.now() + 8.5;
        while (performance.now() < until) {
          // busy
        }
      }, 10);
      return async () => {
        clearInterval(burner);
        process.kill(server.pid, 'SIGCONT');
      };
    },
  },
  {
    name: 'ACL: `PUBLISH` revoked, scripting allowed (refused inside the scripts), `l1` on, 2 s',
    clientOptions: { username: 'app', password: 'secret' },
    cacheOptions: { l1: true },
    start: async ({ admin }) => {
      await admin.call('ACL', 'SETUSER', 'app', 'reset', 'on', '>secret', '~*', '&*', '+@all', '-publish');
      return async () => {
        await admin.call('ACL', 'SETUSER', 'app', 'on', '>secret', '~*', '&*', '+@all');
      };
    },
  },
  {
    name: 'connections cut (RST)',
    start: async ({ proxy }) => {
      proxy.cut();
      return null;
    },
  },
  {
    name: '`maxmemory` reached, `noeviction` (writes fail with OOM), 2 s',
    start: async ({ admin }) => {
      const used = Number(/used_memory:(\d+)/.exec(String(await admin.info('memory')))?.[1] ?? 0);
      await admin.config('SET', 'maxmemory-policy', 'noeviction');
      await admin.config('SET', 'maxmemory', String(Math.max(1, used - 1024 * 1024)));
      return async () => {
        await admin.config('SET', 'maxmemory', '0');
      };
    },
  },
  {
    name: 'ACL: scripting, PUBLISH and writes revoked, 2 s',
    clientOptions: { username: 'app', password: 'secret' },
    start: async ({ admin }) => {
      await admin.call(
        'ACL',
        'SETUSER',
        'app',
        'reset',
        'on',
        '>secret',
        '~*',
        '&*',
        '+@read',
        '+@connection',
        '+info',
      );
      return async () => {
        await admin.call('ACL', 'SETUSER', 'app', 'on', '>secret', '~*', '&*', '+@all');
      };
    },
  },
];

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))] as number;
}

async function runFault(fault: Fault, index: number): Promise<Row> {
  const server = await startRedis();
  const proxy = await startTcpProxy(server.port);
  const admin = server.client();
  admin.on('error', () => {});
  await ready(admin);
  await admin.call('ACL', 'SETUSER', 'app', 'on', '>secret', '~*', '&*', '+@all');
  const client = await storeClient(proxy.port, { ...fault.clientOptions });
  const store = client.store;
  let reports = 0;
  const api = withCache(axios.create({ baseURL: upstream.url }), {
    store,
    prefix: `chaos${index}:`,
    onError: () => {
      reports++;
    },
    ...fault.cacheOptions,
  });
  const samples: Sample[] = [];
  let running = true;
  let cold = 0;
  let issued = 0;
  const worker = async () => {
    while (running) {
      const n = issued++;
      const path = n % 50 === 49 ? `/chaos/${index}/cold/${cold++}` : `/chaos/${index}/warm/${n % WARM_KEYS}`;
      const started = performance.now();
      try {
        const response = await api.get(path);
        samples.push({ at: started, ms: performance.now() - started, ok: true, hit: response.cache?.status === 'hit' });
      } catch {
        samples.push({ at: started, ms: performance.now() - started, ok: false, hit: false });
      }
    }
  };
  const workers = Array.from({ length: IN_FLIGHT }, worker);
  await sleep(1000); // warm
  const callsAtBaseline = upstream.calls(`/chaos/${index}/`);
  await sleep(FAULT_MS + AFTER_MS);
  const baselineCalls = upstream.calls(`/chaos/${index}/`) - callsAtBaseline;

  const faultAt = performance.now();
  const callsAtFault = upstream.calls(`/chaos/${index}/`);
  const end = await fault.start({ proxy, admin, server });
  await sleep(FAULT_MS);
  if (end) await end();
  const endedAt = end ? performance.now() : faultAt;
  await sleep(AFTER_MS);
  running = false;
  await Promise.all(workers);
  const upstreamCalls = upstream.calls(`/chaos/${index}/`) - callsAtFault;

  const during = samples.filter((s) => s.at >= faultAt);
  const ms = during.map((s) => s.ms).sort((a, b) => a - b);
  let recoveryMs: number | null = null;
  for (let t = endedAt; t < performance.now(); t += 20) {
    const window = during.filter((s) => s.at >= t && s.at < t + 100);
    if (window.length > 0 && window.filter((s) => s.hit).length >= 0.9 * window.length * (49 / 50)) {
      recoveryMs = Math.max(0, t - endedAt);
      break;
    }
  }
  const stats = getCacheStats(api);
  await client.close();
  admin.disconnect();
  await proxy.close();
  await server.stop();
  return {
    fault: fault.name,
    requests: during.length,
    failed: during.filter((s) => !s.ok).length,
    p50: percentile(ms, 50),
    p99: percentile(ms, 99),
    max: ms.at(-1) ?? 0,
    upstreamCalls,
    baselineCalls,
    recoveryMs,
    recoveryFrom: end ? 'end' : 'start',
    notes: `timeouts ${stats.storeTimeouts}, skips ${stats.storeSkips}, reconnects ${stats.distrusts}, reported ${reports}`,
  };
}

console.log(`client library: ${LIBRARY}`);
const rows: Row[] = [];
// `CHAOS_ONLY=blackhole` runs only the faults whose name contains it (a quick look at one row).
const only = process.env.CHAOS_ONLY;
for (const [i, fault] of FAULTS.entries()) {
  if (only && !fault.name.includes(only)) continue;
  const row = await runFault(fault, i);
  rows.push(row);
  console.log(
    `${row.fault}: ${row.requests} requests, ${row.failed} failed, p50 ${row.p50.toFixed(1)} ms, p99 ${row.p99.toFixed(0)} ms, ` +
      `max ${row.max.toFixed(0)} ms, upstream calls ${row.upstreamCalls} (warm baseline ${row.baselineCalls}), ` +
      `hits again ${row.recoveryMs === null ? 'never' : `${row.recoveryMs.toFixed(0)} ms after its ${row.recoveryFrom}`} (${row.notes})`,
  );
}
await upstream.close();

console.log(
  '\n| fault | requests | failed | p50 | p99 | max | upstream calls (warm baseline) | hits again after the fault |',
);
console.log('| --- | --- | --- | --- | --- | --- | --- | --- |');
for (const r of rows) {
  console.log(
    `| ${r.fault} | ${r.requests} | ${r.failed} | ${r.p50.toFixed(1)} ms | ${r.p99.toFixed(0)} ms | ${r.max.toFixed(0)} ms | ` +
      `${r.upstreamCalls} (${r.baselineCalls}) | ${r.recoveryMs === null ? '—' : `${r.recoveryMs.toFixed(0)} ms after its ${r.recoveryFrom}`} |`,
  );
}
const jsonAt = process.argv.indexOf('--json');
if (jsonAt !== -1) {
  writeFileSync(
    process.argv[jsonAt + 1] ?? 'bench/chaos-results.json',
    `${JSON.stringify({ at: new Date().toISOString(), library: LIBRARY, rows }, null, 2)}\n`,
  );
}
// Everything is closed above; a resource still open here is a leak worth knowing about, named, then left.
const lingering = process.getActiveResourcesInfo().filter((r) => r !== 'TTYWrap');
if (lingering.length) console.error(`still open after the run: ${lingering.join(', ')}`);
process.exit(0);
