import type { Redis } from 'ioredis';

/** The test's own commands (reading and resetting the stats, looking at subscriptions): never counted. */
const OWN = /^(info|config|pubsub)\b/;

/**
 * Every command the server ran since its stats were last reset (`CONFIG RESETSTAT`), by name as
 * `INFO commandstats` names it (`set`, `evalsha`, `config|resetstat`; those run inside scripts included),
 * without the test's own.
 */
export async function commandCounts(redis: Redis): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  for (const line of (await redis.info('commandstats')).split('\n')) {
    const m = /^cmdstat_([^:]+):calls=(\d+)/.exec(line.trim());
    if (m?.[1] && m[2] && !OWN.test(m[1])) counts[m[1]] = Number(m[2]);
  }
  return counts;
}
