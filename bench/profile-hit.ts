/**
 * Our warm-hit path alone, for a CPU profile:
 *
 *   node --cpu-prof --cpu-prof-dir=bench/.profiles --import tsx bench/profile-hit.ts [--seconds 5] [--body json-0.5k] [--contender ours]
 *   node --import tsx bench/profile-summary.ts bench/.profiles/<file>.cpuprofile
 *
 * Starts its own redis-server and upstream, warms 128 keys, then keeps 64 hits in flight (`--concurrency N`),
 * through our cache (`--contender ours-l1`, or any other contender of the bench, for comparison; `--keys N`
 * warm keys instead of 128). `--misses`:
 * every request to a new URL instead (the miss path: lookup, upstream call, write).
 */
import { readFileSync } from 'node:fs';
import { BODIES, type BodyId, isBodyId } from './bodies.js';
import { createContender } from './contenders.js';
import { inFlight } from './driver.js';
import { pinProcesses } from './pin.js';
import { startRedis } from './redis.js';
import { startUpstream } from './upstream.js';

const argv = process.argv.slice(2);
const arg = (name: string) => {
  const i = argv.indexOf(name);
  return i >= 0 ? argv[i + 1] : undefined;
};
const seconds = Number(arg('--seconds') ?? 5);
const bodyArg = arg('--body') ?? 'json-0.5k';
if (!isBodyId(bodyArg)) throw new Error(`--body: one of ${Object.keys(BODIES).join(', ')}`);
const body = BODIES[bodyArg as BodyId];
const concurrency = Number(arg('--concurrency') ?? 64);
const contenderArg = arg('--contender') ?? 'ours';
const misses = argv.includes('--misses');
/** Warm keys cycled through (`--keys`, 128): enough 20 KB compressed entries (over 16 MiB decompressed) defeat the reuse of decompressed bodies. */
const warmKeys = Number(arg('--keys') ?? 128);
let seq = 0;
if (
  !(
    [
      'ours',
      'ours-raw',
      'ours-node-redis',
      'no-cache',
      'ours-l1',
      'ours-http',
      'aci-redis',
      'raw-get',
      'noop-axios',
    ] as const
  ).includes(contenderArg as 'ours')
) {
  throw new Error(
    '--contender: ours, ours-raw, ours-node-redis, ours-l1, ours-http, no-cache, aci-redis, raw-get or noop-axios',
  );
}
const contenderId = contenderArg as
  | 'ours'
  | 'ours-raw'
  | 'ours-node-redis'
  | 'no-cache'
  | 'ours-l1'
  | 'ours-http'
  | 'aci-redis'
  | 'raw-get'
  | 'noop-axios';

/** Write system calls this process has made (Linux: /proc/self/io `syscw`; 0 elsewhere). */
function writeSyscalls(): number {
  try {
    return Number(/syscw: (\d+)/.exec(readFileSync('/proc/self/io', 'utf8'))?.[1] ?? 0);
  } catch {
    return 0;
  }
}

const redis = await startRedis();
if (!argv.includes('--no-pin')) process.stderr.write(`${pinProcesses(redis.pid, redis.own).description}\n`);
const upstream = await startUpstream();
try {
  const ours = await createContender(contenderId, { upstreamUrl: upstream.url, redis, ttlSeconds: 600 });
  const keys = Array.from({ length: warmKeys }, (_, i) => `k${i}`);
  for (const key of keys) await ours.get(body, key);
  const warmCalls = upstream.calls(contenderId);
  // A short unmeasured run so the profile shows the optimised steady state.
  const next = (i: number) => (misses ? `m${seq++}` : (keys[i % keys.length] as string));
  await inFlight({ concurrency, durationMs: 500, task: (i) => ours.get(body, next(i)) });
  ours.resetOutcomes();
  const cpuBefore = process.cpuUsage();
  const writesBefore = writeSyscalls();
  const run = await inFlight({
    concurrency,
    durationMs: seconds * 1000,
    task: (i) => ours.get(body, next(i)),
  });
  const cpu = process.cpuUsage(cpuBefore);
  const writes = writeSyscalls() - writesBefore;
  const stats = ours.cacheStats?.();
  process.stderr.write(
    `${contenderId} ${body.id} ×${concurrency}: ${Math.round(run.rps)} req/s over ${run.requests} requests, ` +
      `${((cpu.user + cpu.system) / run.requests).toFixed(1)} µs of CPU each, ${(writes / run.requests).toFixed(2)} write calls (syscalls, HTTP included); outcomes ${JSON.stringify(
        ours.outcomes,
      )}; upstream calls after warming ${upstream.calls(contenderId) - warmCalls}; store timeouts ${stats?.storeTimeouts}, ` +
      `skips ${stats?.storeSkips}\n`,
  );
  await ours.close();
} finally {
  await upstream.close();
  await redis.stop();
}
