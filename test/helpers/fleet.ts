import { type ChildProcess, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { Redis } from 'ioredis';
import type { CacheOptions } from '../../src/index.js';
import { compiledFixture } from './compiled.js';

const WORKER = fileURLToPath(new URL('../fixtures/fleet-worker.ts', import.meta.url));

export interface WorkerResult {
  ok: boolean;
  status: number;
  cache: string;
  /** `response.cache.reason` of a stale answer. */
  reason?: string;
  data: any;
  error?: string;
  ms: number;
  /** Date.now() in the worker when this request settled (comparable across processes). */
  doneAt: number;
  /** The host's monotonic clock (ms, to a fraction of one) when it settled: comparable across processes. */
  doneAtHr?: number;
  /** The host's monotonic clock when this process wrote a fill during the command (only if it did). */
  wroteAt?: number;
}

export interface Replica {
  readonly id: string;
  readonly process: ChildProcess;
  run(
    path: string,
    n: number,
    options?: Partial<CacheOptions> & { fleetLeases?: boolean; defaults?: boolean },
    cache?: Record<string, unknown>,
    timeout?: number,
  ): Promise<WorkerResult[]>;
  /** Evict a URL or pattern from this replica; resolves to the number removed. */
  evict(target: string): Promise<number>;
}

let replicas = 0;

/** Start `count` replica processes (real Node processes sharing one Redis) and wait until all are ready. */
export async function startFleet(
  count: number,
  redisPort: number,
  upstreamUrl: string,
  library?: 'ioredis' | 'node-redis',
): Promise<Replica[]> {
  // Ids unique across fleets of the test run: a replacement replica must not share its predecessor's.
  return Promise.all(
    Array.from({ length: count }, () => startReplica(`w${replicas++}`, redisPort, upstreamUrl, library)),
  );
}

async function startReplica(
  id: string,
  redisPort: number,
  upstreamUrl: string,
  library?: 'ioredis' | 'node-redis',
): Promise<Replica> {
  const child = spawn(process.execPath, [compiledFixture(WORKER)], {
    env: {
      ...process.env,
      REDIS_PORT: String(redisPort),
      UPSTREAM_URL: upstreamUrl,
      WORKER_ID: id,
      ...(library ? { REDIS_CLIENT: library } : {}),
    },
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const lines = createInterface({ input: child.stdout! });
  const waiting = new Map<number, (answer: { results: WorkerResult[]; removed?: number }) => void>();
  let nextId = 0;
  await new Promise<void>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`replica ${id} exited with ${code} before it was ready`)));
    lines.on('line', (line) => {
      if (line === 'ready') return resolve();
      const answer = JSON.parse(line) as { id: number; results: WorkerResult[]; removed?: number };
      waiting.get(answer.id)?.(answer);
      waiting.delete(answer.id);
    });
  });
  return {
    id,
    process: child,
    run: (path, n, options, cache, timeout) =>
      new Promise((resolve) => {
        const commandId = nextId++;
        waiting.set(commandId, (answer) => resolve(answer.results));
        child.stdin!.write(`${JSON.stringify({ id: commandId, path, n, options, cache, timeout })}\n`);
      }),
    evict: (target) =>
      new Promise((resolve) => {
        const commandId = nextId++;
        waiting.set(commandId, (answer) => resolve(answer.removed ?? 0));
        child.stdin!.write(`${JSON.stringify({ id: commandId, evict: target, path: '', n: 0 })}\n`);
      }),
  };
}

const COLD_WORKER = fileURLToPath(new URL('../fixtures/cold-start-worker.ts', import.meta.url));

/**
 * Start `count` processes that each, at once — before their Redis client is ready — send `n` requests for
 * `path` through a cached instance with default options, and resolve to their results (a fleet restart).
 */
export async function coldStartFleet(
  count: number,
  redisPort: number,
  upstreamUrl: string,
  path: string,
  n: number,
  /** `connecting`: a client created and not awaited; `lazy`: ioredis `lazyConnect`, node-redis connected after the requests are fired. */
  start: 'connecting' | 'lazy' = 'connecting',
): Promise<WorkerResult[][]> {
  return Promise.all(
    Array.from(
      { length: count },
      (_, i) =>
        new Promise<WorkerResult[]>((resolve, reject) => {
          const child = spawn(process.execPath, [compiledFixture(COLD_WORKER)], {
            env: {
              ...process.env,
              REDIS_PORT: String(redisPort),
              UPSTREAM_URL: upstreamUrl,
              WORKER_ID: `cold${i}`,
              REQUEST_PATH: path,
              REQUESTS: String(n),
              COLD_START: start,
            },
            stdio: ['ignore', 'pipe', 'inherit'],
          });
          let output = '';
          child.stdout!.on('data', (chunk: Buffer) => {
            output += chunk.toString();
          });
          child.once('exit', (code) =>
            code === 0
              ? resolve(JSON.parse(output) as WorkerResult[])
              : reject(new Error(`cold worker exited ${code}`)),
          );
        }),
    ),
  );
}

export function stopFleet(replicas: Replica[]): void {
  for (const r of replicas) if (r.process.exitCode === null) r.process.kill('SIGKILL');
}

/**
 * Wait until no fill lease is held under `prefix` (the replicas use 'fleet:'): a replica answers its caller
 * before its write has landed (the callers do not wait for writes), and the write deletes the lease in the
 * same script. A test that reads what another process just stored waits for this first — otherwise the
 * reader finds the lease still held and joins the fill ('coalesced') instead of reading the entry.
 */
export async function leasesReleased(redis: Redis, prefix = 'fleet:'): Promise<void> {
  for (let i = 0; i < 250; i++) {
    if ((await redis.keys(`${prefix}*:lease`)).length === 0) return;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error(`fill leases under ${prefix} still held after 5 s`);
}
