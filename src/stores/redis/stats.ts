import type { StatsReport } from '../types.js';
import { type RedisConnection, wholeMs } from './connection.js';
import { scanNodes } from './scan.js';

/** The fleet counters on Redis: one hash of totals, and one expiring key per reporting instance. */

/** Add one instance's counter deltas to the fleet totals and renew its instance key. */
export async function recordStats(connection: RedisConnection, report: StatsReport): Promise<void> {
  connection.beforeWrite();
  // Both keys carry the `{stats}` hash tag: one slot, one pipeline, one round trip.
  const pipeline = connection.redis.pipeline();
  for (const [name, delta] of Object.entries(report.deltas)) pipeline.hincrby(report.countersKey, name, delta);
  pipeline.set(report.instanceKey, report.instance, 'PX', wholeMs(report.ttlMs));
  for (const [error] of (await pipeline.exec()) ?? []) if (error) connection.learn(error);
}

/** The fleet totals, and the instances whose keys have not expired. */
export async function readStats(
  connection: RedisConnection,
  countersKey: string,
  instancePattern: string,
  scanCount: number,
): Promise<{ counters: Record<string, string>; instances: string[] }> {
  connection.beforeCommand();
  const { redis } = connection;
  const counters = await redis.hgetall(countersKey);
  const instances: string[] = [];
  for await (const keys of scanNodes(connection.masters(), instancePattern, scanCount)) {
    for (const value of await Promise.all(keys.map((key) => redis.get(key)))) if (value) instances.push(value);
  }
  return { counters, instances };
}
