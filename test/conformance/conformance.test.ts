import { execFile } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LIBRARY } from '../helpers/clients.js';
import { type RedisServer, startRedis } from '../helpers/redis-server.js';
import type { ConformanceRun, Profile } from './harness.js';

const run = promisify(execFile);
const RUN_ONE = fileURLToPath(new URL('run-one.ts', import.meta.url));

/**
 * The HTTP caching conformance suite, in both profiles, on the memory store and on Redis, with default
 * options (`ttl` mode) and with `{ httpSemantics: true }` and nothing else. Every required test that passed
 * when `expected/<profile>-<store>[-http].json` was written must still pass. `npm run cache-tests`
 * rewrites those files (and prints the scores).
 */
const UPDATE = process.env.UPDATE_CONFORMANCE === '1';
let server: RedisServer;

beforeAll(async () => {
  server = await startRedis();
});
afterAll(async () => {
  await server?.stop();
});

/** One configuration, in a process of its own (the suite's runner keeps its results in module state). */
async function conformance(
  profile: Profile,
  store: 'memory' | 'redis',
  mode: Mode,
  only?: readonly string[],
): Promise<ConformanceRun> {
  const args = ['--import', 'tsx', RUN_ONE, profile, store, String(server.port), mode];
  const env = only ? { ...process.env, CONFORMANCE_ONLY: only.join(',') } : process.env;
  const { stdout } = await run(process.execPath, args, { maxBuffer: 16 * 1024 * 1024, env });
  return JSON.parse(stdout.trim().split('\n').at(-1) as string) as ConformanceRun;
}

interface Expected {
  requiredPassed: number;
  requiredTotal: number;
  passed: string[];
}

type Mode = 'ttl' | 'http';

/** The scores `httpSemantics` must reach (issue 14): above Apache's 141 (shared); 125 of 137 (private). */
const HTTP_TARGETS: Record<Profile, number> = { shared: 142, private: 125 };

// The runs are child processes that mostly wait on the suite's pauses: they run side by side.
describe.concurrent('HTTP caching conformance (http-tests/cache-tests)', () => {
  for (const mode of ['ttl', 'http'] as Mode[])
    for (const profile of ['shared', 'private'] as Profile[]) {
      // On node-redis (the conformance-node-redis project): the Redis runs, against the same expectations.
      for (const store of LIBRARY === 'node-redis' ? (['redis'] as const) : (['memory', 'redis'] as const)) {
        it(`${mode} mode, ${profile} profile, ${store} store: no required test that passed fails`, async () => {
          const result = await conformance(profile, store, mode);
          const passed = Object.entries(result.results)
            .filter(([, result]) => result === 'pass')
            .map(([id]) => id)
            .sort();
          console.log(
            `[cache-tests] ${mode} mode, ${profile} profile, ${store} store: ${result.requiredPassed} / ${result.requiredTotal} required passed`,
          );
          const suffix = mode === 'http' ? '-http' : '';
          const file = new URL(`expected/${profile}-${store}${suffix}.json`, import.meta.url);
          if (UPDATE || !existsSync(file)) {
            const expected: Expected = {
              requiredPassed: result.requiredPassed,
              requiredTotal: result.requiredTotal,
              passed,
            };
            writeFileSync(file, `${JSON.stringify(expected, null, 2)}\n`);
            return;
          }
          const expected = JSON.parse(readFileSync(file, 'utf8')) as Expected;
          let regressions = expected.passed.filter((id) => result.results[id] !== 'pass');
          let passedCount = result.requiredPassed;
          if (regressions.length > 0) {
            // The suite's tests wait seconds between requests and check freshness to the second: on a busy
            // host one can miss its window. A test that passes alone on a second try was not broken.
            const again = await conformance(profile, store, mode, regressions);
            const recovered = regressions.filter((id) => again.results[id] === 'pass');
            console.log(`[cache-tests] passed on a second run alone: ${recovered.join(', ')}`);
            regressions = regressions.filter((id) => !recovered.includes(id));
            // Required tests that fail are scored `fail` or `setup_fail` (optional ones `no`, checks `yes`/`no`).
            passedCount += recovered.filter((id) => /^(setup_)?fail$/.test(result.results[id] ?? '')).length;
          }
          expect(regressions, 'tests that passed and now fail').toEqual([]);
          if (mode === 'http') expect(passedCount).toBeGreaterThanOrEqual(HTTP_TARGETS[profile]);
          expect(result.requiredTotal).toBe(expected.requiredTotal);
        }, 120_000);
      }
    }
});
