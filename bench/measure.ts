import { isDeepStrictEqual } from 'node:util';
import type { Body } from './bodies.js';
import type { Contender, Outcome } from './contenders.js';
import { alternate, inFlight, median, quantile, settle } from './driver.js';
import { formatRate, type Progress } from './progress.js';
import type { MeasuredRow, RoundFigure, StoreCounters } from './results.js';
import type { Upstream } from './upstream.js';

export interface MeasureCase {
  scenario: MeasuredRow['scenario'];
  body: Body;
  concurrency: number;
  latencyMs: number;
  rounds: number;
  roundMs: number;
  /** The request a contender makes for the i-th request of a run. */
  task: (contender: Contender) => (i: number) => Promise<unknown>;
  /** Record latencies (p50/p99). */
  latency: boolean;
  /** Upstream calls each contender made while warming (hits). */
  warm?: ReadonlyMap<Contender, number>;
  dataOk?: ReadonlyMap<Contender, boolean>;
}

/**
 * Measure every contender on one case: `rounds` rounds, each contender for `roundMs` per round, the order
 * alternating from round to round. Returns one row per contender with the median req/s.
 */
export async function measureRounds(
  contenders: readonly Contender[],
  c: MeasureCase,
  upstream: Upstream,
  progress: Progress,
): Promise<MeasuredRow[]> {
  const rows = new Map<Contender, MeasuredRow>();
  const latencies = new Map<Contender, number[]>();
  for (const contender of contenders) {
    rows.set(contender, {
      scenario: c.scenario,
      body: c.body.id,
      bodyLabel: c.body.label,
      concurrency: c.concurrency,
      latencyMs: c.latencyMs,
      contender: contender.id,
      label: contender.label,
      rps: 0,
      rounds: [],
      p50Ms: null,
      p99Ms: null,
      upstreamCalls: 0,
      warmUpstreamCalls: c.warm?.get(contender) ?? 0,
      requests: 0,
      errors: 0,
      outcomes: { hit: 0, stale: 0, miss: 0, coalesced: 0, revalidated: 0, bypass: 0, none: 0 },
      store: contender.cacheStats ? { storeTimeouts: 0, storeErrors: 0, storeSkips: 0, badEntries: 0 } : null,
      dataOk: c.dataOk?.get(contender) ?? null,
      notes: [],
    });
    latencies.set(contender, []);
  }
  const caseLabel =
    c.scenario === 'hits'
      ? `${c.body.id} ×${c.concurrency}`
      : `${c.body.id} ×${c.concurrency} upstream ${c.latencyMs} ms`;
  for (let round = 0; round < c.rounds; round++) {
    const order = alternate(contenders, round);
    for (const [position, contender] of order.entries()) {
      const row = rows.get(contender) as MeasuredRow;
      await settle();
      contender.resetOutcomes();
      const before = contender.cacheStats?.();
      const upstreamBefore = upstream.calls(contender.id);
      const task = c.task(contender);
      const run = await inFlight({
        concurrency: c.concurrency,
        durationMs: c.roundMs,
        task,
        recordLatency: c.latency,
      });
      const upstreamCalls = upstream.calls(contender.id) - upstreamBefore;
      const after = contender.cacheStats?.();
      if (row.store && before && after) addStore(row.store, before, after);
      for (const [name, n] of Object.entries(contender.outcomes)) row.outcomes[name as Outcome] += n;
      latencies.get(contender)?.push(...run.latencies);
      const figure: RoundFigure = {
        round,
        position,
        rps: run.rps,
        requests: run.requests,
        errors: run.errors,
        firstError: run.firstError,
        upstreamCalls,
        p50Ms: c.latency ? quantile(run.latencies, 0.5) : null,
        p99Ms: c.latency ? quantile(run.latencies, 0.99) : null,
      };
      row.rounds.push(figure);
      row.requests += run.requests;
      row.errors += run.errors;
      row.upstreamCalls += upstreamCalls;
      if (run.firstError && !row.notes.includes(run.firstError)) row.notes.push(run.firstError);
      progress.line(
        c.scenario,
        `${caseLabel.padEnd(30)} round ${round + 1}/${c.rounds}  ${contender.id.padEnd(10)} ${formatRate(run.rps).padStart(10)}` +
          (upstreamCalls ? `  upstream ${upstreamCalls}` : '') +
          (run.errors ? `  errors ${run.errors}` : ''),
      );
    }
  }
  for (const [contender, row] of rows) {
    row.rps = median(row.rounds.map((r) => r.rps));
    const all = latencies.get(contender) ?? [];
    if (c.latency && all.length > 0) {
      row.p50Ms = quantile(all, 0.5);
      row.p99Ms = quantile(all, 0.99);
    }
  }
  return [...rows.values()];
}

function addStore(
  into: StoreCounters,
  before: StoreCounters & { hits: number },
  after: StoreCounters & { hits: number },
): void {
  into.storeTimeouts += after.storeTimeouts - before.storeTimeouts;
  into.storeErrors += after.storeErrors - before.storeErrors;
  into.storeSkips += after.storeSkips - before.storeSkips;
  into.badEntries += after.badEntries - before.badEntries;
}

/** Does `data` equal what the upstream sent for `body`, in the type a caller expects? */
export function sameData(body: Body, data: unknown): boolean {
  if (body.binary) return Buffer.isBuffer(data) && data.equals(body.bytes);
  return isDeepStrictEqual(data, JSON.parse(body.text));
}
