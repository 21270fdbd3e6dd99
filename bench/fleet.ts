/**
 * Fleet herd: upstream calls for P processes × N concurrent identical requests, on a cold key and on an
 * expired key with stale-while-revalidate, for P = 1, 4, 8 real Node processes sharing one redis-server.
 * Compared with per-process coalescing only (a store without fill leases: what an in-process cache can
 * do at best). Also: how soon after the holder's write the waiting processes answer.
 *
 *   node --import tsx bench/fleet.ts [--quick]      (writes bench/fleet-results.json)
 */
import { writeFileSync } from 'node:fs';
import { startFleet, stopFleet, type WorkerResult } from '../test/helpers/fleet.js';
import { startRedis } from '../test/helpers/redis-server.js';
import { echoJson, startUpstream } from '../test/helpers/upstream.js';

const quick = process.argv.includes('--quick');
const PROCESS_COUNTS = quick ? [1, 4] : [1, 4, 8];
const N = 50;
const UPSTREAM_MS = 50;

interface Row {
  processes: number;
  requests: number;
  scenario: 'cold' | 'stale';
  mode: 'fleet (lease)' | 'per-process only';
  upstreamCalls: number;
  failed: number;
  answered: Record<string, number>;
  /** Cold, fleet mode: the slowest request (any process) answered this long after the upstream answered. */
  wakeMs?: number;
}

const server = await startRedis();
const upstream = await startUpstream();
let answeredAt = 0;
upstream.handle((req, res, n) => {
  setTimeout(() => {
    answeredAt = Date.now();
    echoJson(req, res, n);
  }, UPSTREAM_MS);
});

const rows: Row[] = [];
let seq = 0;
for (const processes of PROCESS_COUNTS) {
  process.stderr.write(`fleet: starting ${processes} processes…\n`);
  const fleet = await startFleet(processes, server.port, upstream.url);
  try {
    for (const leases of [true, false]) {
      const mode = leases ? 'fleet (lease)' : 'per-process only';
      const base = leases ? {} : { fleetLeases: false };

      const coldPath = `/bench/cold/${++seq}`;
      const cold = await Promise.all(fleet.map((r) => r.run(coldPath, N, base)));
      const coldRow = row(processes, 'cold', mode, upstream.calls(coldPath), cold);
      if (leases) coldRow.wakeMs = Math.max(...cold.flat().map((r) => r.doneAt)) - answeredAt;
      rows.push(coldRow);
      process.stderr.write(`fleet: P=${processes} cold ${mode}: ${coldRow.upstreamCalls} upstream calls\n`);

      const stalePath = `/bench/stale/${++seq}`;
      const staleOptions = { ...base, ttl: 0.3, staleWhileRevalidate: 60 };
      await fleet[0]!.run(stalePath, 1, staleOptions);
      await new Promise((r) => setTimeout(r, 350));
      const before = upstream.calls(stalePath);
      const stale = await Promise.all(fleet.map((r) => r.run(stalePath, N, staleOptions)));
      await new Promise((r) => setTimeout(r, UPSTREAM_MS * 3)); // let the background refreshes land
      const staleRow = row(processes, 'stale', mode, upstream.calls(stalePath) - before, stale);
      rows.push(staleRow);
      process.stderr.write(`fleet: P=${processes} stale ${mode}: ${staleRow.upstreamCalls} refresh calls\n`);
    }
  } finally {
    stopFleet(fleet);
  }
}
// Wake-up latency: one holder, one waiter process, one request each; how long after the upstream answered
// (≈ the holder's write) the waiter answered. Repeated to get a distribution.
process.stderr.write('fleet: measuring waiter wake-up…\n');
const pair = await startFleet(2, server.port, upstream.url);
const wakes: number[] = [];
try {
  for (let i = 0; i < (quick ? 8 : 20); i++) {
    const path = `/bench/wake/${++seq}`;
    const results = await Promise.all(pair.map((r) => r.run(path, 1)));
    const waiter = results.flat().find((r) => r.cache === 'coalesced');
    if (waiter) wakes.push(waiter.doneAt - answeredAt);
  }
} finally {
  stopFleet(pair);
}
wakes.sort((a, b) => a - b);
const wake = { samples: wakes.length, medianMs: wakes[Math.floor(wakes.length / 2)] ?? -1, maxMs: wakes.at(-1) ?? -1 };
await upstream.close();
await server.stop();

console.log(`\nFleet herd: P processes × ${N} concurrent identical GETs, upstream ${UPSTREAM_MS} ms\n`);
console.log(
  '| processes | requests | key | coalescing | upstream calls | failed | answers | waiters answered after the write |',
);
console.log('| ---: | ---: | --- | --- | ---: | ---: | --- | ---: |');
for (const r of rows) {
  const answers = Object.entries(r.answered)
    .map(([k, v]) => `${k} ${v}`)
    .join(', ');
  const wake = r.wakeMs === undefined ? '' : `${r.wakeMs} ms`;
  console.log(
    `| ${r.processes} | ${r.requests} | ${r.scenario} | ${r.mode} | ${r.upstreamCalls} | ${r.failed} | ${answers} | ${wake} |`,
  );
}
console.log(
  `\nWaiter wake-up (2 processes, 1 request each, ${wake.samples} runs): a waiting process answered ` +
    `${wake.medianMs} ms (median), ${wake.maxMs} ms (max) after the upstream answered the lease holder.`,
);
writeFileSync(
  new URL('./fleet-results.json', import.meta.url),
  `${JSON.stringify({ date: new Date().toISOString(), n: N, upstreamMs: UPSTREAM_MS, rows, wake }, null, 2)}\n`,
);

function row(
  processes: number,
  scenario: Row['scenario'],
  mode: Row['mode'],
  calls: number,
  results: WorkerResult[][],
): Row {
  const answered: Record<string, number> = {};
  let failed = 0;
  for (const r of results.flat()) {
    if (!r.ok) failed++;
    const k = r.ok ? r.cache : 'error';
    answered[k] = (answered[k] ?? 0) + 1;
  }
  return { processes, requests: processes * N, scenario, mode, upstreamCalls: calls, failed, answered };
}
