import { performance } from 'node:perf_hooks';
import { BODIES } from '../bodies.js';
import { type Contender, type ContenderId, closeAll, createContenders, type Outcome } from '../contenders.js';
import type { HerdRow } from '../results.js';
import type { ScenarioContext } from '../scenario.js';

export const HERD_CONTENDERS: readonly ContenderId[] = ['no-cache', 'ours', 'aci-redis'];

/** What one process reports for one cold URL. */
interface HerdShot {
  errors: number;
  outcomes: Record<Outcome, number>;
}

/**
 * Herd: N concurrent identical GETs of a URL nobody has fetched yet, upstream answering after 20 ms; the
 * figure is how many calls reached the upstream. One process for now: `settings.herdProcesses` is the
 * dimension for the fleet (P processes × N requests each, one shared Redis) once it exists.
 */
export async function herd(ctx: ScenarioContext): Promise<HerdRow[]> {
  const { settings, upstream, progress, anomalies } = ctx;
  upstream.latencyMs = settings.herdLatencyMs;
  const rows: HerdRow[] = [];
  const contenders = await createContenders(HERD_CONTENDERS, ctx.contenders);
  try {
    for (const c of contenders) await c.get(BODIES['json-0.5k'], `prime-${c.id}`);
    for (const processes of settings.herdProcesses) {
      for (const contender of contenders) {
        const row: HerdRow = {
          contender: contender.id,
          label: contender.label,
          n: settings.herdN,
          processes,
          latencyMs: settings.herdLatencyMs,
          upstreamCalls: [],
          wallMs: [],
          errors: 0,
          outcomes: { hit: 0, stale: 0, miss: 0, coalesced: 0, revalidated: 0, bypass: 0, none: 0 },
        };
        for (let rep = 0; rep < settings.herdRepetitions; rep++) {
          const key = `herd-p${processes}-r${rep}`;
          const before = upstream.calls(contender.id);
          const t0 = performance.now();
          const shots = await herdShots(contender, key, settings.herdN, processes);
          row.wallMs.push(performance.now() - t0);
          row.upstreamCalls.push(upstream.calls(contender.id) - before);
          for (const shot of shots) {
            row.errors += shot.errors;
            for (const [name, n] of Object.entries(shot.outcomes)) row.outcomes[name as Outcome] += n;
          }
        }
        progress.line(
          'herd',
          `${contender.id.padEnd(10)} ${processes} process × ${settings.herdN} cold requests: upstream calls ${row.upstreamCalls.join(', ')}`,
        );
        if (contender.id === 'ours' && row.upstreamCalls.some((n) => n > processes)) {
          anomalies.push(`herd ours: upstream calls ${row.upstreamCalls.join(', ')} for ${processes} process(es)`);
        }
        if (row.errors) anomalies.push(`herd ${contender.id}: ${row.errors} errors`);
        rows.push(row);
      }
    }
  } finally {
    await closeAll(contenders);
    upstream.latencyMs = 0;
    await ctx.redis.flush();
  }
  return rows;
}

/** Fire `n` identical requests at once from each of `processes` processes. */
async function herdShots(contender: Contender, key: string, n: number, processes: number): Promise<HerdShot[]> {
  if (processes !== 1) {
    // The fleet herd (child processes sharing the Redis) comes with the fleet-wide lease.
    throw new Error(`herd with ${processes} processes is not implemented yet`);
  }
  return [await herdInProcess(contender, key, n)];
}

async function herdInProcess(contender: Contender, key: string, n: number): Promise<HerdShot> {
  const body = BODIES['json-0.5k'];
  contender.resetOutcomes();
  const settled = await Promise.allSettled(Array.from({ length: n }, () => contender.get(body, key)));
  return { errors: settled.filter((s) => s.status === 'rejected').length, outcomes: { ...contender.outcomes } };
}
