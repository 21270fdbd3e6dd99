import { BODIES } from '../bodies.js';
import { type ContenderId, createContender } from '../contenders.js';
import { inFlight, settle } from '../driver.js';
import { formatRate } from '../progress.js';
import type { ZipfRow } from '../results.js';
import type { ScenarioContext } from '../scenario.js';

export const ZIPF_CONTENDERS: readonly ContenderId[] = ['ours', 'aci-redis'];
const CONCURRENCY = 64;

/**
 * Many keys: `zipfUrls` distinct URLs requested with a Zipf-like popularity (P(rank k) ∝ 1/k^s), the same
 * seeded sequence of `zipfRequests` requests for each contender, from a cold cache, 64 in flight; each
 * contender runs twice, in ABBA order, and its rate is the mean of its runs.
 */
export async function zipf(ctx: ScenarioContext): Promise<ZipfRow[]> {
  const { settings, upstream, progress, anomalies } = ctx;
  const body = BODIES['json-0.5k'];
  const sequence = zipfSequence(settings.zipfUrls, settings.zipfRequests, settings.zipfExponent, 0x5eed);
  const keys = Array.from(sequence, (rank) => `z${rank}`);
  const distinct = new Set(sequence).size;
  const idealHitRatio = 1 - distinct / sequence.length;
  upstream.latencyMs = settings.zipfLatencyMs;
  const runs: ZipfRow[] = [];
  // ABBA order (ours, theirs, theirs, ours), each run from a cold cache: the first run of the scenario also
  // warms the shared parts (the upstream server, axios, the connection), which favoured whoever ran second.
  const order = [...ZIPF_CONTENDERS, ...[...ZIPF_CONTENDERS].reverse()];
  try {
    for (const id of order) {
      await ctx.redis.flush();
      await settle();
      const contender = await createContender(id, ctx.contenders);
      try {
        const before = upstream.calls(id);
        const statsBefore = contender.cacheStats?.();
        const run = await inFlight({
          concurrency: CONCURRENCY,
          count: keys.length,
          task: (i) => contender.get(body, keys[i] as string),
        });
        const upstreamCalls = upstream.calls(id) - before;
        const statsAfter = contender.cacheStats?.();
        const o = contender.outcomes;
        const row: ZipfRow = {
          contender: id,
          label: contender.label,
          urls: settings.zipfUrls,
          requests: run.requests,
          exponent: settings.zipfExponent,
          concurrency: CONCURRENCY,
          latencyMs: settings.zipfLatencyMs,
          rps: run.rps,
          elapsedMs: run.elapsedMs,
          hitRatio: o.hit / keys.length,
          coalescedRatio: o.coalesced / keys.length,
          idealHitRatio,
          upstreamCalls,
          errors: run.errors,
          outcomes: { ...o },
          store:
            statsBefore && statsAfter
              ? {
                  storeTimeouts: statsAfter.storeTimeouts - statsBefore.storeTimeouts,
                  storeErrors: statsAfter.storeErrors - statsBefore.storeErrors,
                  storeSkips: statsAfter.storeSkips - statsBefore.storeSkips,
                  badEntries: statsAfter.badEntries - statsBefore.badEntries,
                }
              : null,
          notes: run.firstError ? [run.firstError] : [],
        };
        if (row.errors) anomalies.push(`zipf ${id}: ${row.errors} errors (${run.firstError})`);
        if (upstreamCalls > distinct) {
          row.notes.push(`${upstreamCalls - distinct} upstream calls beyond one per distinct URL`);
          if (id === 'ours') {
            anomalies.push(`zipf ours: ${upstreamCalls} upstream calls for ${distinct} distinct URLs`);
          }
        }
        if (row.store && (row.store.storeTimeouts || row.store.storeErrors || row.store.storeSkips)) {
          const s = row.store;
          row.notes.push(`store timeouts ${s.storeTimeouts}, errors ${s.storeErrors}, skipped ${s.storeSkips}`);
          anomalies.push(
            `zipf ours: store timeouts ${s.storeTimeouts}, errors ${s.storeErrors}, skipped ${s.storeSkips}`,
          );
        }
        runs.push(row);
        progress.line(
          'zipf',
          `${id.padEnd(10)} ${run.requests} requests over ${distinct} distinct URLs: ${formatRate(run.rps)}, ` +
            `hit ratio ${(row.hitRatio * 100).toFixed(1)}% (ideal ${(idealHitRatio * 100).toFixed(1)}%), upstream ${upstreamCalls}`,
        );
      } finally {
        await contender.close();
      }
    }
  } finally {
    upstream.latencyMs = 0;
    await ctx.redis.flush();
  }
  // One row per contender: its first run, with the mean rate of its runs.
  const rows: ZipfRow[] = [];
  for (const id of ZIPF_CONTENDERS) {
    const mine = runs.filter((r) => r.contender === id);
    const first = mine[0];
    if (!first) continue;
    const rates = mine.map((r) => r.rps);
    first.rps = rates.reduce((a, b) => a + b, 0) / rates.length;
    first.notes.push(`mean of ${rates.length} runs (ABBA order): ${rates.map((r) => Math.round(r)).join(', ')} req/s`);
    rows.push(first);
  }
  return rows;
}

/** `count` ranks in 1..n drawn with P(k) ∝ 1/k^s from a seeded PRNG (the same sequence every run). */
export function zipfSequence(n: number, count: number, s: number, seed: number): Uint32Array {
  const cdf = new Float64Array(n);
  let sum = 0;
  for (let k = 1; k <= n; k++) {
    sum += 1 / k ** s;
    cdf[k - 1] = sum;
  }
  const random = mulberry32(seed);
  const out = new Uint32Array(count);
  for (let i = 0; i < count; i++) {
    const u = random() * sum;
    let lo = 0;
    let hi = n - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if ((cdf[mid] as number) < u) lo = mid + 1;
      else hi = mid;
    }
    out[i] = lo + 1;
  }
  return out;
}

function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
