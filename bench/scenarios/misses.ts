import { BODIES } from '../bodies.js';
import { type ContenderId, closeAll, createContenders } from '../contenders.js';
import { measureRounds } from '../measure.js';
import type { MeasuredRow } from '../results.js';
import type { ScenarioContext } from '../scenario.js';

export const MISS_CONTENDERS: readonly ContenderId[] = ['no-cache', 'ours', 'ours-node-redis', 'aci-redis'];

/** Upstream latency × requests in flight. 1 in flight gives the added latency; 64 the added CPU per miss. */
export const MISS_CASES: readonly { latencyMs: number; concurrency: number }[] = [
  { latencyMs: 0, concurrency: 1 },
  { latencyMs: 20, concurrency: 1 },
  { latencyMs: 0, concurrency: 64 },
];

/**
 * Misses: every request is to a URL never seen before, so each cache looks up, goes upstream and stores.
 * Compared with plain axios (no cache) at the same upstream latency.
 */
export async function misses(ctx: ScenarioContext): Promise<MeasuredRow[]> {
  const { settings, upstream, progress, anomalies } = ctx;
  const body = BODIES['json-0.5k'];
  const contenders = await createContenders(MISS_CONTENDERS, ctx.contenders);
  const rows: MeasuredRow[] = [];
  let seq = 0;
  try {
    // Open connections and load scripts before anything is measured.
    for (const c of contenders) await c.get(body, `prime-${c.id}`);
    for (const { latencyMs, concurrency } of MISS_CASES) {
      upstream.latencyMs = latencyMs;
      const measured = await measureRounds(
        contenders,
        {
          scenario: 'misses',
          body,
          concurrency,
          latencyMs,
          rounds: settings.missRounds,
          roundMs: settings.roundMs,
          task: (c) => () => c.get(body, `m${seq++}`),
          latency: concurrency === 1,
        },
        upstream,
        progress,
      );
      const base = measured.find((r) => r.contender === 'no-cache');
      for (const row of measured) {
        if (base && row !== base && row.p50Ms !== null && base.p50Ms !== null) {
          row.notes.push(`p50 +${(row.p50Ms - base.p50Ms).toFixed(3)} ms vs no cache`);
        }
        const where = `misses ${row.latencyMs} ms ×${row.concurrency} ${row.contender}`;
        if (row.errors > 0) anomalies.push(`${where}: ${row.errors} errors (${row.notes.join('; ')})`);
        if (row.upstreamCalls !== row.requests) {
          anomalies.push(`${where}: ${row.upstreamCalls} upstream calls for ${row.requests} requests to new URLs`);
        }
        if (row.store && (row.store.storeTimeouts || row.store.storeErrors || row.store.storeSkips)) {
          const s = row.store;
          row.notes.push(`store timeouts ${s.storeTimeouts}, errors ${s.storeErrors}, skipped ${s.storeSkips}`);
          anomalies.push(
            `${where}: store timeouts ${s.storeTimeouts}, errors ${s.storeErrors}, skipped ${s.storeSkips}`,
          );
        }
      }
      rows.push(...measured);
      await ctx.redis.flush();
    }
  } finally {
    await closeAll(contenders);
    upstream.latencyMs = 0;
  }
  return rows;
}
