import { isForeignValue, type StatsReport } from '../types.js';
import { type RedisConnection, wholeMs } from './connection.js';
import { text } from './driver.js';
import { scanNodes } from './scan.js';

/** The fleet counters on Redis: one hash of totals, and one expiring key per reporting instance. */

/** Add one instance's counter deltas to the fleet totals and renew its instance key. */
export async function recordStats(connection: RedisConnection, report: StatsReport): Promise<void> {
  connection.beforeWrite();
  const { driver } = connection;
  // Both keys carry the `{stats}` hash tag: one slot, one pipeline, one round trip.
  const commands: (string | number)[][] = Object.entries(report.deltas).map(([name, delta]) => [
    'HINCRBY',
    report.countersKey,
    name,
    delta,
  ]);
  commands.push(['SET', report.instanceKey, report.instance, 'PX', wholeMs(report.ttlMs)]);
  const replies = await driver.pipeline(report.countersKey, commands);
  // A value of another type under the counters' name (foreign, or planted) is replaced: the next report
  // then adds its deltas to a new hash. This one fails (it is carried by the next).
  if (replies.some(({ error }) => isForeignValue(error))) {
    await driver.send(report.countersKey, ['UNLINK', report.countersKey]);
  }
  for (const { error } of replies) if (error) connection.learn(error);
}

/** The fleet totals, and the instances whose keys have not expired. */
export async function readStats(
  connection: RedisConnection,
  countersKey: string,
  instancePattern: string,
  scanCount: number,
): Promise<{ counters: Record<string, string>; instances: string[] }> {
  connection.beforeCommand();
  const { driver } = connection;
  // A value of another type under the counters' name: no totals yet (the next report replaces it).
  const reply = await driver.send(countersKey, ['HGETALL', countersKey]).catch((error: unknown) => {
    if (isForeignValue(error)) return [];
    throw error;
  });
  const counters = hashOf(reply);
  const instances: string[] = [];
  for await (const keys of scanNodes(connection.masters(), instancePattern, scanCount)) {
    for (const value of await Promise.all(keys.map((key) => driver.send(key, ['GET', key])))) {
      const instance = text(value);
      if (instance) instances.push(instance);
    }
  }
  return { counters, instances };
}

/** An `HGETALL` reply as an object: a flat array of names and values (RESP2), or a map (RESP3). */
function hashOf(reply: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  const pairs: [unknown, unknown][] = [];
  if (Array.isArray(reply)) {
    if (reply.every((item) => Array.isArray(item) && item.length === 2)) pairs.push(...(reply as [unknown, unknown][]));
    else for (let i = 0; i + 1 < reply.length; i += 2) pairs.push([reply[i], reply[i + 1]]);
  } else if (reply instanceof Map) {
    pairs.push(...reply.entries());
  } else if (reply && typeof reply === 'object') {
    pairs.push(...Object.entries(reply));
  }
  for (const [name, value] of pairs) {
    const key = text(name);
    const val = text(value) ?? (typeof value === 'number' ? String(value) : null);
    if (key !== null && val !== null) out[key] = val;
  }
  return out;
}
