/**
 * CPU pinning for the bench: the bench process (every thread: main, GC helpers, libuv) on the first CPUs, its
 * own redis-server on the last one. On a small machine the scheduler otherwise sometimes runs both on one core,
 * and a contender's figure for that round halves: the same contender measured 24k/s and 42k/s in consecutive
 * rounds on this 2-core machine, unpinned. Pinned, run-to-run spread drops to a few percent. Needs `taskset`
 * (util-linux) and at least 2 CPUs; otherwise nothing is pinned and the report says so.
 */
import { execFileSync } from 'node:child_process';
import os from 'node:os';

export interface Pinning {
  /** e.g. "bench on CPU 0, redis-server on CPU 1", or why nothing was pinned. */
  readonly description: string;
  readonly pinned: boolean;
}

export function pinProcesses(redisPid: number, redisOwn: boolean): Pinning {
  const cpus = os.cpus().length;
  if (cpus < 2) return { pinned: false, description: 'not pinned (1 CPU)' };
  if (!redisOwn || !redisPid) return { pinned: false, description: 'not pinned (external Redis)' };
  const redisCpu = cpus - 1;
  const benchCpus = cpus === 2 ? '0' : `0-${cpus - 2}`;
  try {
    execFileSync('taskset', ['-a', '-p', '-c', String(redisCpu), String(redisPid)], { stdio: 'ignore' });
    execFileSync('taskset', ['-a', '-p', '-c', benchCpus, String(process.pid)], { stdio: 'ignore' });
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'taskset not found' : 'taskset failed';
    return { pinned: false, description: `not pinned (${reason})` };
  }
  const plural = benchCpus.includes('-') ? 'CPUs' : 'CPU';
  return { pinned: true, description: `bench on ${plural} ${benchCpus}, redis-server on CPU ${redisCpu}` };
}
