/**
 * The fleet, measured with real Node processes sharing one redis-server:
 *
 * - herd: upstream calls for P processes × N concurrent identical requests, on a cold key and on an expired
 *   key with stale-while-revalidate (P = 1, 4, 8), against per-process coalescing only (a store without
 *   fill leases: what an in-process cache can do at best);
 * - wake-up: P processes × N requests on one cold key whose upstream takes 400 ms, default options: how
 *   long after the lease holder's write each waiting process answers (p50 / p99), and the Redis commands
 *   one fill costs (`INFO commandstats`: every command, those run inside scripts included; and the calls
 *   clients sent), per waiting process;
 * - cold start: P freshly started processes × N cold GETs fired before their client is ready, default
 *   options (a client still connecting, and `lazyConnect`): upstream calls per round.
 *
 *   npm run bench:fleet [-- --quick] [-- --only herd,wake,cold] [-- --processes 2,4] [-- --requests 1]
 *   (a full run, without options, writes bench/fleet-results.json)
 *
 * REDIS_CLIENT=node-redis runs the processes on node-redis.
 */
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { Redis } from 'ioredis';
import { LIBRARY } from '../test/helpers/clients.js';
import { coldStartFleet, startFleet, stopFleet, type WorkerResult } from '../test/helpers/fleet.js';
import { monitor } from '../test/helpers/monitor.js';
import { ready, startRedis } from '../test/helpers/redis-server.js';
import { echoJson, startUpstream } from '../test/helpers/upstream.js';

const { values: args } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    only: { type: 'string' },
    processes: { type: 'string' },
    requests: { type: 'string' },
  },
});
const quick = args.quick === true;
const only = new Set((args.only ?? 'herd,wake,cold').split(',').map((s) => s.trim()));
const full = !quick && args.only === undefined && args.processes === undefined && args.requests === undefined;
const PROCESS_COUNTS = args.processes ? [1, ...args.processes.split(',').map(Number)] : quick ? [1, 4] : [1, 4, 8];
const N = args.requests ? Number(args.requests) : 50;
const HERD_UPSTREAM_MS = 50;
const WAKE_UPSTREAM_MS = 400;
const WAKE_TRIALS = quick ? 3 : 10;
const WARMUP_FILLS = quick ? 1 : 4;
const COLD_ROUNDS = quick ? 2 : 4;

interface HerdRow {
  processes: number;
  requests: number;
  scenario: 'cold' | 'stale';
  mode: 'fleet (lease)' | 'per-process only';
  upstreamCalls: number;
  failed: number;
  answered: Record<string, number>;
}

interface WakeRow {
  processes: number;
  trials: number;
  upstreamCalls: number[];
  failed: number;
  /** Each waiting process's first answer after the holder's write (ms), over all trials. */
  lagMs: { p50: number; p99: number; max: number; samples: number };
  /** Every command the server ran for one fill (commandstats), mean over trials; and what clients sent. */
  commandsPerFill: number;
  callsPerFill: number;
  /** (commands of a fill with P processes − those of a fill by one process alone) / (P − 1). */
  commandsPerWaiter: number;
  callsPerWaiter: number;
}

interface ColdRow {
  processes: number;
  start: 'connecting' | 'lazy';
  upstreamCalls: number[];
  failed: number;
}

const server = await startRedis();
const admin: Redis = server.client();
await ready(admin);
const log = await monitor(server.port);
const upstream = await startUpstream();
let upstreamMs = HERD_UPSTREAM_MS;
upstream.handle((req, res, n) => void setTimeout(() => echoJson(req, res, n), upstreamMs));

const herd: HerdRow[] = [];
const wake: WakeRow[] = [];
const cold: ColdRow[] = [];
let seq = 0;

if (only.has('herd')) {
  upstreamMs = HERD_UPSTREAM_MS;
  for (const processes of PROCESS_COUNTS) {
    process.stderr.write(`fleet: herd, starting ${processes} processes…\n`);
    const fleet = await startFleet(processes, server.port, upstream.url);
    try {
      for (const leases of [true, false]) {
        const mode = leases ? 'fleet (lease)' : 'per-process only';
        const base = leases ? {} : { fleetLeases: false };
        const coldPath = `/bench/cold/${++seq}`;
        const coldResults = await Promise.all(fleet.map((r) => r.run(coldPath, N, base)));
        herd.push(herdRow(processes, 'cold', mode, upstream.calls(coldPath), coldResults));

        const stalePath = `/bench/stale/${++seq}`;
        const staleOptions = { ...base, ttl: 0.3, staleWhileRevalidate: 60 };
        await fleet[0]!.run(stalePath, 1, staleOptions);
        await sleep(350);
        const before = upstream.calls(stalePath);
        const stale = await Promise.all(fleet.map((r) => r.run(stalePath, N, staleOptions)));
        await sleep(HERD_UPSTREAM_MS * 3); // let the background refreshes land
        herd.push(herdRow(processes, 'stale', mode, upstream.calls(stalePath) - before, stale));
        const [c, s] = herd.slice(-2);
        process.stderr.write(`fleet: P=${processes} ${mode}: cold ${c!.upstreamCalls}, stale ${s!.upstreamCalls}\n`);
      }
    } finally {
      stopFleet(fleet);
    }
  }
}

if (only.has('wake')) {
  upstreamMs = WAKE_UPSTREAM_MS;
  const options = { defaults: true };
  // A fill by one process alone: what the holder's side costs, subtracted to get a waiter's share.
  const solo = await startFleet(1, server.port, upstream.url);
  let soloCommands = 0;
  let soloCalls = 0;
  try {
    await solo[0]!.run(`/bench/warmup/${++seq}`, 1, options);
    for (let trial = 0; trial < WAKE_TRIALS; trial++) {
      const counted = await countCommands(() => solo[0]!.run(`/bench/solo/${++seq}`, N, options));
      soloCommands += counted.commands / WAKE_TRIALS;
      soloCalls += counted.calls / WAKE_TRIALS;
    }
  } finally {
    stopFleet(solo);
  }
  process.stderr.write(
    `fleet: a fill by one process: ${soloCommands.toFixed(1)} commands, ${soloCalls.toFixed(1)} calls\n`,
  );
  for (const processes of PROCESS_COUNTS.filter((p) => p > 1)) {
    process.stderr.write(`fleet: wake-up, starting ${processes} processes…\n`);
    const fleet = await startFleet(processes, server.port, upstream.url);
    const lags: number[] = [];
    const calls: number[] = [];
    let failed = 0;
    let commands = 0;
    let clientCalls = 0;
    try {
      // Every process makes its connections, loads the scripts and runs the code of a fill, as a replica
      // that has been serving for a while has, before the trials (uncounted fills, the holder changing).
      for (let i = 0; i < WARMUP_FILLS; i++) {
        const path = `/bench/warmup/${++seq}`;
        await Promise.all(fleet.map((r) => r.run(path, N, options)));
      }
      for (let trial = 0; trial < WAKE_TRIALS; trial++) {
        const path = `/bench/wake/${++seq}`;
        const counted = await countCommands(() => Promise.all(fleet.map((r) => r.run(path, N, options))));
        commands += counted.commands / WAKE_TRIALS;
        clientCalls += counted.calls / WAKE_TRIALS;
        calls.push(upstream.calls(path));
        const perProcess = counted.result;
        failed += perProcess.flat().filter((r) => !r.ok).length;
        const holderDone = Math.min(
          ...perProcess
            .flat()
            .filter((r) => r.cache === 'miss')
            .map((r) => r.doneAtHr ?? r.doneAt),
        );
        for (const results of perProcess) {
          if (results.some((r) => r.cache === 'miss')) continue; // the holder's process
          const first = Math.min(...results.map((r) => r.doneAtHr ?? r.doneAt));
          if (Number.isFinite(holderDone) && Number.isFinite(first)) lags.push(first - holderDone);
        }
      }
    } finally {
      stopFleet(fleet);
    }
    lags.sort((a, b) => a - b);
    const at = (q: number) => round(lags[Math.min(lags.length - 1, Math.floor(lags.length * q))] ?? Number.NaN);
    wake.push({
      processes,
      trials: WAKE_TRIALS,
      upstreamCalls: calls,
      failed,
      lagMs: { p50: at(0.5), p99: at(0.99), max: round(lags.at(-1) ?? Number.NaN), samples: lags.length },
      commandsPerFill: round(commands),
      callsPerFill: round(clientCalls),
      commandsPerWaiter: round((commands - soloCommands) / (processes - 1)),
      callsPerWaiter: round((clientCalls - soloCalls) / (processes - 1)),
    });
    const w = wake.at(-1)!;
    process.stderr.write(
      `fleet: P=${processes} wake-up p50 ${w.lagMs.p50} ms, p99 ${w.lagMs.p99} ms; ${w.commandsPerFill} commands per fill, ${w.commandsPerWaiter} per waiting process; upstream calls ${calls.join(',')}\n`,
    );
  }
}

if (only.has('cold')) {
  upstreamMs = 100;
  for (const processes of PROCESS_COUNTS.filter((p) => p > 1)) {
    for (const start of ['connecting', 'lazy'] as const) {
      const row: ColdRow = { processes, start, upstreamCalls: [], failed: 0 };
      for (let round = 0; round < COLD_ROUNDS; round++) {
        const path = `/bench/cold-start/${++seq}`;
        const results = await coldStartFleet(processes, server.port, upstream.url, path, N, start);
        row.upstreamCalls.push(upstream.calls(path));
        row.failed += results.flat().filter((r) => !r.ok).length;
      }
      cold.push(row);
      process.stderr.write(
        `fleet: cold start P=${processes} ${start}: upstream calls ${row.upstreamCalls.join(', ')}\n`,
      );
    }
  }
}

await log.stop();
admin.disconnect();
await upstream.close();
await server.stop();

report();
const out = full ? new URL('./fleet-results.json', import.meta.url) : join(tmpdir(), 'axios-redis-cache-fleet.json');
writeFileSync(
  out,
  `${JSON.stringify({ date: new Date().toISOString(), client: LIBRARY, n: N, herd, wake, cold }, null, 2)}\n`,
);
process.stderr.write(`fleet: results in ${out instanceof URL ? out.pathname : out}\n`);

/**
 * Run `work` between a reset of the server's counters and a read of them, once every command has landed:
 * every command the server ran (`INFO commandstats`, which counts those run inside scripts too) and the
 * calls clients sent (MONITOR, which reports script-run commands apart).
 */
async function countCommands<T>(work: () => Promise<T>): Promise<{ result: T; commands: number; calls: number }> {
  await admin.config('RESETSTAT');
  log.clear();
  const result = await work();
  await sleep(200); // writes are not awaited by the callers: let them land
  await log.flush();
  const calls = log.commands().filter(([name]) => name !== 'CONFIG' && name !== 'INFO').length;
  const info = await admin.info('commandstats');
  let commands = 0;
  for (const line of info.split('\n')) {
    const m = /^cmdstat_([^:]+):calls=(\d+)/.exec(line.trim());
    if (!m) continue;
    const [, name = '', count = '0'] = m;
    if (name === 'config' || name === 'info' || name === 'monitor' || name === 'echo') continue; // the bench's own
    commands += Number(count);
  }
  return { result, commands, calls };
}

function report(): void {
  console.log(`\nFleet (${LIBRARY}): real processes sharing one redis-server, ${N} concurrent requests each\n`);
  if (herd.length > 0) {
    console.log(`Herd (upstream ${HERD_UPSTREAM_MS} ms):\n`);
    console.log('| processes | requests | key | coalescing | upstream calls | failed | answers |');
    console.log('| ---: | ---: | --- | --- | ---: | ---: | --- |');
    for (const r of herd) {
      const answers = Object.entries(r.answered)
        .map(([k, v]) => `${k} ${v}`)
        .join(', ');
      console.log(
        `| ${r.processes} | ${r.requests} | ${r.scenario} | ${r.mode} | ${r.upstreamCalls} | ${r.failed} | ${answers} |`,
      );
    }
  }
  if (wake.length > 0) {
    console.log(`\nWake-up (one cold key, upstream ${WAKE_UPSTREAM_MS} ms, default options, ${WAKE_TRIALS} fills):\n`);
    console.log(
      "| processes | waiting process answered after the holder's write: p50 / p99 / max | Redis commands per fill (client calls) | per waiting process (client calls) | upstream calls per fill | failed |",
    );
    console.log('| ---: | ---: | ---: | ---: | --- | ---: |');
    for (const r of wake) {
      console.log(
        `| ${r.processes} | ${r.lagMs.p50} / ${r.lagMs.p99} / ${r.lagMs.max} ms | ${r.commandsPerFill} (${r.callsPerFill}) | ${r.commandsPerWaiter} (${r.callsPerWaiter}) | ${r.upstreamCalls.join(', ')} | ${r.failed} |`,
      );
    }
  }
  if (cold.length > 0) {
    console.log(`\nCold start (${N} GETs per process fired before the client is ready, default options):\n`);
    console.log('| processes | client | upstream calls per round | failed |');
    console.log('| ---: | --- | --- | ---: |');
    for (const r of cold) {
      console.log(`| ${r.processes} | ${r.start} | ${r.upstreamCalls.join(', ')} | ${r.failed} |`);
    }
  }
}

function herdRow(
  processes: number,
  scenario: HerdRow['scenario'],
  mode: HerdRow['mode'],
  calls: number,
  results: WorkerResult[][],
): HerdRow {
  const answered: Record<string, number> = {};
  let failed = 0;
  for (const r of results.flat()) {
    if (!r.ok) failed++;
    const k = r.ok ? r.cache : 'error';
    answered[k] = (answered[k] ?? 0) + 1;
  }
  return { processes, requests: processes * N, scenario, mode, upstreamCalls: calls, failed, answered };
}

function round(n: number): number {
  return Math.round(n * 10) / 10;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
