import { BODIES, type BodyId } from '../bodies.js';
import { type ContenderId, createContender } from '../contenders.js';
import { startPrivateBenchRedis } from '../redis.js';
import type { CostRow } from '../results.js';
import type { ScenarioContext } from '../scenario.js';

/** Who is measured for cost: ours (with and without compression) and the peer. */
export const COST_CONTENDERS: readonly ContenderId[] = (process.env.BENCH_COST_CONTENDERS?.split(',') as
  | ContenderId[]
  | undefined) ?? ['ours', 'ours-raw', 'aci-redis'];
export const COST_BODIES: readonly BodyId[] = ['json-0.5k', 'json-20k', 'json-200k'];

/** Entries stored per body size: enough for a stable average, bounded in Redis memory. */
const ENTRIES: Readonly<Partial<Record<BodyId, number>>> = { 'json-0.5k': 2000, 'json-20k': 500, 'json-200k': 100 };
/** Requests in flight while filling (misses) and reading (hits). */
const IN_FLIGHT = 8;

/**
 * What a cache costs Redis: for each body size and contender, a redis-server of its own (nothing else in
 * it), N distinct URLs requested once (misses: each stored) then once more (hits). Redis memory per entry
 * (`used_memory` after − before, ÷ N), the value's own size (`STRLEN` of one), and the commands Redis ran per
 * miss and per hit (`INFO commandstats`: those run inside scripts included, as Redis counts them).
 */
export async function cost(ctx: ScenarioContext): Promise<CostRow[]> {
  const rows: CostRow[] = [];
  for (const bodyId of COST_BODIES) {
    const body = BODIES[bodyId];
    const n = ctx.settings.costEntries ?? ENTRIES[bodyId] ?? 100;
    for (const id of COST_CONTENDERS) {
      const redis = await startPrivateBenchRedis();
      const contender = await createContender(id, { ...ctx.contenders, redis });
      try {
        await contender.get(body, 'prime'); // connections, scripts
        await new Promise((resolve) => setTimeout(resolve, 100));
        await redis.flush();
        await new Promise((resolve) => setTimeout(resolve, 100));
        const before = await redis.usedMemory();
        await redis.resetStats();
        await inParallel(n, (i) => contender.get(body, `c${i}`));
        await new Promise((resolve) => setTimeout(resolve, 200)); // writes not awaited by their callers land
        const missCommands = await redis.commandStats();
        const after = await redis.usedMemory();
        await redis.resetStats();
        contender.resetOutcomes();
        await inParallel(n, (i) => contender.get(body, `c${i}`));
        const hitCommands = await redis.commandStats();
        const total = (counts: Record<string, number>) => Object.values(counts).reduce((a, b) => a + b, 0);
        const valueBytes = await redis.largestValue();
        rows.push({
          contender: id,
          label: contender.label,
          body: bodyId,
          bodyLabel: body.label,
          bodyBytes: body.bytes.length,
          entries: n,
          memoryPerEntry: Math.round((after - before) / n),
          valueBytes,
          commandsPerMiss: Math.round((total(missCommands) / n) * 100) / 100,
          commandsPerHit: Math.round((total(hitCommands) / n) * 100) / 100,
          missCommands,
          hitCommands,
          hits: contender.outcomes.hit,
        });
        ctx.progress.line(
          'cost',
          `${body.label} ${contender.label}: ${rows.at(-1)?.memoryPerEntry} B per entry (value ${valueBytes} B), ` +
            `${rows.at(-1)?.commandsPerMiss} commands per miss, ${rows.at(-1)?.commandsPerHit} per hit ${JSON.stringify(hitCommands)}`,
        );
        if (contender.outcomes.hit !== n)
          ctx.anomalies.push(`cost ${bodyId} ${id}: ${contender.outcomes.hit} hits of ${n}`);
      } finally {
        await contender.close();
        await redis.stop();
      }
    }
  }
  return rows;
}

async function inParallel(n: number, fn: (i: number) => Promise<unknown>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: IN_FLIGHT }, async () => {
      while (next < n) await fn(next++);
    }),
  );
}
