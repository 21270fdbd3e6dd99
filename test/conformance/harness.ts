/**
 * The HTTP caching conformance suite (`test/fixtures/cache-tests`, http-tests/cache-tests at the commit
 * undici pins) run in process, as undici runs it: the suite's origin server listens here, and the global
 * `fetch` sends every `/test/` request through a cached axios instance (the `/config` and `/state` calls
 * of the harness keep the native fetch). Scores count the required tests passed, dependencies not
 * honoured, as the suite's CLI counts them.
 */
import { mkdtempSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import axios, { type AxiosInstance } from 'axios';
import type { CacheOptions } from '../../src/index.js';
import { withCache } from '../../src/index.js';

const FIXTURE = new URL('../fixtures/cache-tests/', import.meta.url);

export type Profile = 'shared' | 'private';

export interface ConformanceRun {
  profile: Profile;
  /** Per test id: `pass`, `fail` (required), `optional_fail`, `setup_fail`, `harness_fail`, … */
  results: Record<string, string>;
  requiredPassed: number;
  requiredTotal: number;
}

interface SuiteModules {
  tests: { id: string; tests: { id: string; kind?: string }[] }[];
  runTests(tests: unknown, browserCache: boolean, base: string, chunkSize?: number): Promise<void>;
  getResults(): Record<string, unknown>;
  testResults: Record<string, unknown>;
  determineTestResult(
    tests: unknown,
    id: string,
    results: Record<string, unknown>,
    honorDependencies?: boolean,
  ): unknown[];
  resultTypes: Record<string, unknown[]>;
}

let loaded: { modules: SuiteModules; base: string } | null = null;

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** Start the suite's origin server in this process (once) and load the runner. */
async function load(): Promise<{ modules: SuiteModules; base: string }> {
  if (loaded) return loaded;
  const port = await freePort();
  process.env.npm_config_protocol = 'http';
  process.env.npm_config_port = String(port);
  process.env.npm_config_pidfile = join(mkdtempSync(join(tmpdir(), 'arc-cache-tests-')), 'server.pid');
  await import(new URL('test-engine/server/server.mjs', FIXTURE).href);
  const [index, runner, test, results] = await Promise.all([
    import(new URL('tests/index.mjs', FIXTURE).href),
    import(new URL('test-engine/client/runner.mjs', FIXTURE).href),
    import(new URL('test-engine/client/test.mjs', FIXTURE).href),
    import(new URL('test-engine/lib/results.mjs', FIXTURE).href),
  ]);
  const modules: SuiteModules = {
    tests: index.default,
    runTests: runner.runTests,
    getResults: runner.getResults,
    testResults: test.testResults,
    determineTestResult: results.determineTestResult,
    resultTypes: results.resultTypes,
  };
  const base = `http://localhost:${port}`;
  // The origin server is listening once it answers.
  for (let i = 0; i < 100; i++) {
    try {
      await fetch(`${base}/config/ping`, { method: 'GET' }).catch(() => null);
      break;
    } catch {
      await new Promise((r) => setTimeout(r, 20));
    }
  }
  loaded = { modules, base };
  return loaded;
}

/** A fetch whose `/test/` requests go through `api`, answering what the suite reads of a Response. */
function fetchThrough(api: AxiosInstance, native: typeof fetch): typeof fetch {
  return (async (input: string | URL | Request, init: RequestInit & { headers?: [string, string][] } = {}) => {
    const url = String(input);
    if (!url.includes('/test/')) return native(input, init);
    const headers: Record<string, string> = {};
    for (const [name, value] of init.headers ?? []) {
      const key = name.toLowerCase();
      headers[key] = headers[key] === undefined ? value : `${headers[key]}, ${value}`;
    }
    // The request headers a fetch cache mode adds (Fetch standard, HTTP-network-or-cache fetch, step 8.14-15).
    if (init.cache === 'no-cache' && headers['cache-control'] === undefined) headers['cache-control'] = 'max-age=0';
    if (init.cache === 'no-store' || init.cache === 'reload') {
      headers.pragma ??= 'no-cache';
      headers['cache-control'] ??= 'no-cache';
    }
    const response = await api.request({
      url,
      method: init.method ?? 'GET',
      headers,
      data: init.body,
      responseType: 'text',
      transformResponse: [(data: unknown) => data],
      validateStatus: () => true,
      maxRedirects: init.redirect === 'manual' ? 0 : 5,
      signal: init.signal ?? undefined,
    } as never);
    const out = new Headers();
    for (const [name, value] of Object.entries((response.headers as { toJSON(): Record<string, unknown> }).toJSON())) {
      if (value === undefined || value === null || value === false) continue;
      for (const item of Array.isArray(value) ? value : [value]) out.append(name, String(item));
    }
    const body = response.data === undefined || response.data === null ? '' : String(response.data);
    return { status: response.status, statusText: response.statusText, headers: out, text: async () => body };
  }) as typeof fetch;
}

/** The suite, or only the tests named in `CONFORMANCE_ONLY` (comma-separated ids: for debugging one). */
function selected(tests: SuiteModules['tests']): SuiteModules['tests'] {
  const only = process.env.CONFORMANCE_ONLY?.split(',');
  if (!only) return tests;
  return tests
    .map((suite) => ({ ...suite, tests: suite.tests.filter((test) => only.includes(test.id)) }))
    .filter((suite) => suite.tests.length > 0);
}

/** Run the whole suite in one profile through a cached instance made with `options`. */
export async function runConformance(profile: Profile, options: CacheOptions): Promise<ConformanceRun> {
  const { modules, base } = await load();
  for (const key of Object.keys(modules.testResults)) delete modules.testResults[key];
  const native = globalThis.fetch;
  const api = withCache(axios.create(), { ...options, shared: profile === 'shared' });
  globalThis.fetch = fetchThrough(api, native);
  try {
    // All at once (the suite's default is chunks of 25): every test has its own URLs, and most time is pauses.
    await modules.runTests(selected(modules.tests), profile === 'private', base, 1000);
  } finally {
    globalThis.fetch = native;
  }
  const raw = modules.getResults();
  if (process.env.CONFORMANCE_ONLY) process.stderr.write(`${JSON.stringify(modules.testResults, null, 1)}\n`);
  const results: Record<string, string> = {};
  const names = new Map(Object.entries(modules.resultTypes).map(([name, type]) => [type, name]));
  let requiredPassed = 0;
  let requiredTotal = 0;
  for (const suite of modules.tests) {
    for (const test of suite.tests) {
      if (!(test.id in raw)) continue;
      // Scored as the suite's CLI scores (dependencies not honoured): the published Apache results then read
      // 141 of 160 required, the figure of the table.
      const type = modules.determineTestResult(modules.tests, test.id, raw, false);
      const name = names.get(type) ?? 'unknown';
      results[test.id] = name;
      if (test.kind === undefined || test.kind === 'required') {
        requiredTotal++;
        if (name === 'pass') requiredPassed++;
      }
    }
  }
  return { profile, results, requiredPassed, requiredTotal };
}
