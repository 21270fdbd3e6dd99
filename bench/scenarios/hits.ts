import { BODIES, BODY_IDS, type Body } from '../bodies.js';
import { type Contender, type ContenderId, closeAll, createContenders } from '../contenders.js';
import { measureRounds, sameData } from '../measure.js';
import type { MeasuredRow } from '../results.js';
import type { ScenarioContext } from '../scenario.js';

export const HIT_CONTENDERS: readonly ContenderId[] = [
  'ours',
  'ours-node-redis',
  'ours-l1',
  'ours-http',
  'aci-redis',
  'raw-get',
  'noop-axios',
];
export const HIT_CONCURRENCY: readonly number[] = [1, 64];

/**
 * Warm hits: for each body, warm `hitKeys` distinct URLs per contender (one request each), then measure each
 * contender cycling through them with 1 and with 64 requests in flight. No two requests in flight share a
 * URL, so in-process coalescing cannot stand in for a store read. The upstream must not be called.
 */
export async function hits(ctx: ScenarioContext): Promise<{ rows: MeasuredRow[]; hot: MeasuredRow[] }> {
  const { settings, upstream, progress, anomalies } = ctx;
  upstream.latencyMs = 0;
  const keys = Array.from({ length: settings.hitKeys }, (_, i) => `k${i}`);
  const rows: MeasuredRow[] = [];
  const hot: MeasuredRow[] = [];
  for (const bodyId of BODY_IDS) {
    const body = BODIES[bodyId];
    // Fresh instances and connections for each body: nothing (a circuit breaker, a pool) carries over.
    const contenders = await createContenders(HIT_CONTENDERS, ctx.contenders);
    try {
      const { warm, dataOk } = await warmUp(contenders, body, keys, ctx);
      for (const concurrency of HIT_CONCURRENCY) {
        const measured = await measureRounds(
          contenders,
          {
            scenario: 'hits',
            body,
            concurrency,
            latencyMs: 0,
            rounds: settings.rounds,
            roundMs: settings.roundMs,
            task: (c) => (i) => c.get(body, keys[i % keys.length] as string),
            latency: concurrency === 1,
            warm,
            dataOk,
          },
          upstream,
          progress,
        );
        for (const row of measured) checkHitRow(row, anomalies);
        rows.push(...measured);
      }
      if (bodyId === HOT_BODY) {
        // The labelled extra: every request for one warm URL, 64 in flight. Requests in flight for the same
        // URL share one store read (in-process coalescing), so this measures coalescing, not the store.
        const pair = contenders.filter((c) => HOT_CONTENDERS.includes(c.id));
        const measured = await measureRounds(
          pair,
          {
            scenario: 'hits',
            body,
            concurrency: 64,
            latencyMs: 0,
            rounds: settings.rounds,
            roundMs: settings.roundMs,
            task: (c) => () => c.get(body, keys[0] as string),
            latency: false,
            warm,
            dataOk,
          },
          upstream,
          progress,
        );
        for (const row of measured) {
          row.notes.push('one hot URL');
          checkHitRow(row, anomalies);
        }
        hot.push(...measured);
      }
    } finally {
      await closeAll(contenders);
      await ctx.redis.flush();
    }
  }
  return { rows, hot };
}

/** The body and contenders of the one-hot-URL extra. */
const HOT_BODY = 'json-0.5k';
const HOT_CONTENDERS: readonly ContenderId[] = ['ours', 'aci-redis'];

/**
 * One request per key and contender, one at a time (so the warm-up itself does not overload anything), then a
 * check pass over every key, which must be all hits; one sample's data is compared with the upstream's body.
 * Upstream calls of both passes count as warm-up calls (more than one per key means the first pass did not
 * store everything).
 */
async function warmUp(
  contenders: readonly Contender[],
  body: Body,
  keys: readonly string[],
  ctx: ScenarioContext,
): Promise<{ warm: Map<Contender, number>; dataOk: Map<Contender, boolean> }> {
  const warm = new Map<Contender, number>();
  const dataOk = new Map<Contender, boolean>();
  const checks: string[] = [];
  for (const contender of contenders) {
    const before = ctx.upstream.calls(contender.id);
    for (const key of keys) await contender.get(body, key);
    contender.resetOutcomes();
    let ok = true;
    for (const [i, key] of keys.entries()) {
      const data = await contender.get(body, key);
      if (i === 0) ok = sameData(body, data);
    }
    warm.set(contender, ctx.upstream.calls(contender.id) - before);
    dataOk.set(contender, ok);
    const served = contender.outcomes.hit + contender.outcomes.none;
    checks.push(`${contender.id} ${served}/${keys.length}`);
    if (served !== keys.length) {
      const stats = contender.cacheStats?.();
      ctx.anomalies.push(
        `hits ${body.id}: after warming ${keys.length} keys one at a time, only ${served} were hits for ${contender.id}` +
          (stats
            ? ` (store timeouts ${stats.storeTimeouts}, skipped ${stats.storeSkips}, breaker ${stats.breaker} so far)`
            : ''),
      );
    }
    if (!ok && contender.id.startsWith('ours')) {
      ctx.anomalies.push(`hits ${body.id}: ours replayed data that differs from the upstream body`);
    }
  }
  ctx.progress.line(
    'hits',
    `${body.id} warmed ${keys.length} keys; hits on the check pass: ${checks.join(', ')}; upstream calls ` +
      [...warm].map(([c, n]) => `${c.id}=${n}`).join(' '),
  );
  return { warm, dataOk };
}

function checkHitRow(row: MeasuredRow, anomalies: string[]): void {
  const where = `hits ${row.body} ×${row.concurrency} ${row.contender}`;
  if (row.upstreamCalls > 0) {
    row.notes.push(`${row.upstreamCalls} upstream calls while measuring hits`);
    anomalies.push(
      `${where}: ${row.upstreamCalls} upstream calls while measuring (warm-up made ${row.warmUpstreamCalls})`,
    );
  }
  if (row.errors > 0) anomalies.push(`${where}: ${row.errors} errors (${row.notes.join('; ')})`);
  const served = row.outcomes.hit + row.outcomes.none;
  if (served < row.requests) {
    const { miss, coalesced, stale, bypass } = row.outcomes;
    row.notes.push(`not all hits: miss ${miss}, coalesced ${coalesced}, stale ${stale}, bypass ${bypass}`);
    anomalies.push(`${where}: ${row.requests - served} of ${row.requests} responses were not hits`);
  }
  if (row.store && (row.store.storeTimeouts || row.store.storeErrors || row.store.storeSkips)) {
    const s = row.store;
    row.notes.push(`store timeouts ${s.storeTimeouts}, errors ${s.storeErrors}, skipped ${s.storeSkips}`);
    anomalies.push(
      `${where}: store timeouts ${s.storeTimeouts}, errors ${s.storeErrors}, skipped (breaker open) ${s.storeSkips}`,
    );
  }
  if (row.dataOk === false) row.notes.push('hit data differs from the upstream body (type or bytes)');
}
