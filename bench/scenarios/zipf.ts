import { BODIES } from '../bodies.js';
import { type ContenderId, closeAll, createContenders } from '../contenders.js';
import { inFlight, median, settle } from '../driver.js';
import { formatRate } from '../progress.js';
import type { ZipfRow } from '../results.js';
import type { ScenarioContext } from '../scenario.js';

export const ZIPF_CONTENDERS: readonly ContenderId[] = ['ours', 'aci-redis'];
const CONCURRENCY = 64;
const WARMUP_REQUESTS = 4_000;

/**
 * Many keys: `zipfUrls` distinct URLs requested with a Zipf-like popularity (P(rank k) ∝ 1/k^s), the same
 * seeded sequence of `zipfRequests` requests for each contender, from a cold cache, 64 in flight. The
 * contenders are warmed first on other URLs; the sequence is cut into `zipfChunks` chunks and the contenders take turns, chunk by chunk (ABBA order), each
 * going through the whole sequence: both see the same machine, whose speed drifts over a run by more than
 * the difference measured (two whole runs each, ABBA, read 3,212 and 5,075 req/s for the same contender).
 * A contender's rate: its requests over its time; `× ACI` is the median of the per-chunk ratios.
 */
export async function zipf(ctx: ScenarioContext): Promise<ZipfRow[]> {
  const { settings, upstream, progress, anomalies } = ctx;
  const body = BODIES['json-0.5k'];
  const sequence = zipfSequence(settings.zipfUrls, settings.zipfRequests, settings.zipfExponent, 0x5eed);
  const keys = Array.from(sequence, (rank) => `z${rank}`);
  const distinct = new Set(sequence).size;
  const idealHitRatio = 1 - distinct / sequence.length;
  const chunks = Math.max(1, settings.zipfChunks);
  const chunkSize = Math.ceil(keys.length / chunks);
  upstream.latencyMs = settings.zipfLatencyMs;
  await ctx.redis.flush();
  await settle();
  const contenders = await createContenders(ZIPF_CONTENDERS, ctx.contenders);
  const tally = contenders.map(() => ({
    requests: 0,
    errors: 0,
    elapsedMs: 0,
    firstError: null as string | null,
    chunkRates: [] as number[],
  }));
  try {
    // Both warmed first (misses, then hits, on URLs outside the sequence): whoever ran first otherwise
    // paid for compiling the code both share (axios, http), at half the rate of the second.
    for (const contender of contenders) {
      await inFlight({
        concurrency: CONCURRENCY,
        count: WARMUP_REQUESTS,
        task: (j) => contender.get(body, `w${j % (WARMUP_REQUESTS / 2)}`),
      });
      contender.resetOutcomes();
    }
    const upstreamBefore = contenders.map((c) => upstream.calls(c.id));
    const statsBefore = contenders.map((c) => c.cacheStats?.());
    for (let chunk = 0; chunk < chunks; chunk++) {
      const from = chunk * chunkSize;
      const count = Math.min(chunkSize, keys.length - from);
      if (count <= 0) break;
      const order = contenders.map((_, i) => i);
      if (chunk % 2 === 1) order.reverse();
      for (const i of order) {
        const contender = contenders[i] as (typeof contenders)[number];
        const t = tally[i] as (typeof tally)[number];
        const run = await inFlight({
          concurrency: CONCURRENCY,
          count,
          task: (j) => contender.get(body, keys[from + j] as string),
        });
        t.requests += run.requests;
        t.errors += run.errors;
        t.elapsedMs += run.elapsedMs;
        t.firstError ??= run.firstError;
        t.chunkRates.push(run.rps);
      }
    }
    const peer = ZIPF_CONTENDERS.indexOf('aci-redis');
    const rows: ZipfRow[] = [];
    for (const [i, contender] of contenders.entries()) {
      const t = tally[i] as (typeof tally)[number];
      const upstreamCalls = upstream.calls(contender.id) - (upstreamBefore[i] as number);
      const before = statsBefore[i];
      const after = contender.cacheStats?.();
      const o = contender.outcomes;
      const peerRates = tally[peer]?.chunkRates ?? [];
      const ratios = t.chunkRates.map((rate, c) => rate / (peerRates[c] ?? Number.NaN));
      const row: ZipfRow = {
        contender: contender.id,
        label: contender.label,
        urls: settings.zipfUrls,
        requests: t.requests,
        exponent: settings.zipfExponent,
        concurrency: CONCURRENCY,
        latencyMs: settings.zipfLatencyMs,
        rps: (t.requests * 1000) / t.elapsedMs,
        ratioToPeer: ratios.every(Number.isFinite) ? median(ratios) : null,
        elapsedMs: t.elapsedMs,
        hitRatio: o.hit / keys.length,
        coalescedRatio: o.coalesced / keys.length,
        idealHitRatio,
        upstreamCalls,
        errors: t.errors,
        outcomes: { ...o },
        store:
          before && after
            ? {
                storeTimeouts: after.storeTimeouts - before.storeTimeouts,
                storeErrors: after.storeErrors - before.storeErrors,
                storeSkips: after.storeSkips - before.storeSkips,
                badEntries: after.badEntries - before.badEntries,
              }
            : null,
        notes: [
          `${chunks} alternating chunks of ${chunkSize.toLocaleString('en-US')} requests: ${t.chunkRates
            .map((r) => Math.round(r))
            .join(', ')} req/s`,
          ...(t.firstError ? [t.firstError] : []),
        ],
      };
      const id = contender.id;
      if (row.errors) anomalies.push(`zipf ${id}: ${row.errors} errors (${t.firstError})`);
      if (upstreamCalls > distinct) {
        row.notes.push(`${upstreamCalls - distinct} upstream calls beyond one per distinct URL`);
        if (id === 'ours') anomalies.push(`zipf ours: ${upstreamCalls} upstream calls for ${distinct} distinct URLs`);
      }
      if (row.store && (row.store.storeTimeouts || row.store.storeErrors || row.store.storeSkips)) {
        const s = row.store;
        row.notes.push(`store timeouts ${s.storeTimeouts}, errors ${s.storeErrors}, skipped ${s.storeSkips}`);
        anomalies.push(
          `zipf ${id}: store timeouts ${s.storeTimeouts}, errors ${s.storeErrors}, skipped ${s.storeSkips}`,
        );
      }
      progress.line(
        'zipf',
        `${id.padEnd(10)} ${t.requests} requests over ${distinct} distinct URLs: ${formatRate(row.rps)}` +
          `${row.ratioToPeer == null ? '' : ` (×${row.ratioToPeer.toFixed(2)} ACI, median of chunks)`}, ` +
          `hit ratio ${(row.hitRatio * 100).toFixed(1)}% (ideal ${(idealHitRatio * 100).toFixed(1)}%), upstream ${upstreamCalls}`,
      );
      rows.push(row);
    }
    return rows;
  } finally {
    await closeAll(contenders);
    upstream.latencyMs = 0;
    await ctx.redis.flush();
  }
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
