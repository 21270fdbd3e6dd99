import { existsSync, readFileSync } from 'node:fs';
import os from 'node:os';
import type { BenchRedis } from './redis.js';

/** A snapshot of CPU time: the whole machine's busy time, this process's, and the bench's redis-server's. */
export interface CpuSnapshot {
  at: number;
  machineBusyS: number | null;
  selfS: number;
  redisS: number;
}

export async function cpuSnapshot(redis: BenchRedis): Promise<CpuSnapshot> {
  const self = process.cpuUsage();
  return {
    at: performance.now(),
    machineBusyS: machineBusySeconds(),
    selfS: (self.user + self.system) / 1e6,
    redisS: await redis.cpuSeconds(),
  };
}

/**
 * CPU used by processes other than the bench and its redis-server between two snapshots, as a share of the
 * machine (0..1), or `null` where /proc/stat is not available. Other load skews every figure.
 */
export function foreignCpuShare(a: CpuSnapshot, b: CpuSnapshot): number | null {
  if (a.machineBusyS === null || b.machineBusyS === null) return null;
  const wallS = (b.at - a.at) / 1000;
  const foreign = b.machineBusyS - a.machineBusyS - (b.selfS - a.selfS) - (b.redisS - a.redisS);
  return Math.max(0, foreign / (wallS * os.cpus().length));
}

function machineBusySeconds(): number | null {
  if (!existsSync('/proc/stat')) return null;
  const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0] ?? '';
  const [, ...fields] = line.trim().split(/\s+/);
  const [user = 0, nice = 0, system = 0, , , irq = 0, softirq = 0, steal = 0] = fields.map(Number);
  return (user + nice + system + irq + softirq + steal) / 100; // USER_HZ
}
