import { execFile, spawn } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import axios from 'axios';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { closeCache, getCacheStats, type RedisClient, withCache } from '../../src/index.js';
import { closeClients, LIBRARY, storeCluster, storeSentinel } from '../helpers/clients.js';
import { startRedis } from '../helpers/redis-server.js';
import { useRedisAndUpstream } from '../helpers/suite.js';
import { startCluster, startSentinel, type TestCluster, type TestSentinel } from '../helpers/topologies.js';
import type { ReceivedRequest } from '../helpers/upstream.js';

/**
 * The operator CLI as users run it: `node dist/cli.js …` in a child process, against a real redis-server
 * filled by cached instances. What it prints, its exit code, and what is left in Redis are asserted on.
 */
const CLI = fileURLToPath(new URL('../../dist/cli.js', import.meta.url));
const servers = useRedisAndUpstream();

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** The CLI with the run's client library (`--client node-redis` in the node-redis project). */
function cli(args: string[], input?: string): Promise<Run> {
  const library = LIBRARY === 'node-redis' && args.length > 0 ? ['--client', 'node-redis'] : [];
  return new Promise((resolve) => {
    const child = execFile(
      process.execPath,
      [CLI, ...args, ...library],
      { timeout: 20_000 },
      (error, stdout, stderr) => {
        resolve({ code: error ? Number((error as { code?: number }).code ?? 1) : 0, stdout, stderr });
      },
    );
    if (input !== undefined) child.stdin?.end(input);
    else child.stdin?.end();
  });
}

/** An upstream whose answers say which path was asked, with an ETag and a tag header. */
function taggedAnswers(req: ReceivedRequest, res: import('node:http').ServerResponse): void {
  res.setHeader('content-type', 'application/json');
  res.setHeader('etag', '"e1"');
  res.setHeader('cache-tag', req.url.startsWith('/keys/') ? 'keys' : 'other');
  res.end(JSON.stringify({ path: req.url }));
}

describe('axios-redis-cache CLI on a single node', () => {
  const prefix = 'cli-test:';
  const closing: (() => Promise<void>)[] = [];
  let redisUrl: string;
  let base: string;

  beforeAll(async () => {
    servers.upstream.handle(taggedAnswers);
    redisUrl = `redis://127.0.0.1:${servers.server.port}`;
    base = servers.upstream.url;
    // Two "processes" of one service fill the cache and report their counters.
    const a = withCache(axios.create({ baseURL: base }), {
      store: await servers.store(),
      prefix,
      tagHeader: 'cache-tag',
      fleetStats: 0.1,
    });
    const b = withCache(axios.create({ baseURL: base }), { store: await servers.store(), prefix, fleetStats: 0.1 });
    await a.get('/keys/one');
    await a.get('/keys/one');
    await a.get('/keys/two');
    await a.get('/other/three', { headers: { 'accept-language': 'fr' } });
    await b.get('/keys/one');
    expect(getCacheStats(a).hits + getCacheStats(b).hits).toBe(2);
    // Both keep reporting (every 0.1 s) until the suite ends.
    closing.push(
      () => closeCache(a),
      () => closeCache(b),
    );
    await new Promise((r) => setTimeout(r, 300));
  });
  afterAll(async () => {
    for (const close of closing) await close();
  });

  const opts = () => ['--redis', redisUrl, '--prefix', prefix];

  it('stats: the fleet counters of both instances, the entries under the prefix', async () => {
    const text = await cli(['stats', ...opts()]);
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/hits 2 /);
    expect(text.stdout).toMatch(/misses 3 /);
    const json = await cli(['stats', ...opts(), '--json']);
    const stats = JSON.parse(json.stdout);
    expect(stats.counters).toMatchObject({ hits: 2, misses: 3 });
    expect(stats.entries).toBe(3);
    expect(stats.memoryBytes).toBeGreaterThan(0);
    expect(stats.instances).toHaveLength(2);
    expect(stats.hitRatio).toBeCloseTo(2 / 5);
  });

  it('ls: every entry, or those matching a pattern; exit 1 when none match', async () => {
    const all = JSON.parse((await cli(['ls', ...opts(), '--json'])).stdout);
    expect(all.entries.map((e: { url: string }) => e.url).sort()).toEqual([
      `${base}/keys/one`,
      `${base}/keys/two`,
      `${base}/other/three`,
    ]);
    expect(all.entries.find((e: { url: string }) => e.url.endsWith('/one'))).toMatchObject({
      method: 'GET',
      status: 200,
      tags: ['keys'],
      mode: 'ttl',
    });
    const some = await cli(['ls', ...opts(), `${base}/keys/*`]);
    expect(some.code).toBe(0);
    expect(some.stdout).toMatch(/2 entries/);
    expect(some.stdout).not.toMatch(/other/);
    const limited = await cli(['ls', ...opts(), '--limit', '1']);
    expect(limited.stdout).toMatch(/1 entry \(more/);
    const none = await cli(['ls', ...opts(), `${base}/nothing/*`]);
    expect(none.code).toBe(1);
  });

  it('inspect: the decoded entry of a URL or a key; exit 1 for nothing stored', async () => {
    const shown = await cli(['inspect', ...opts(), `${base}/other/three`]);
    expect(shown.code).toBe(0);
    expect(shown.stdout).toMatch(/GET .*\/other\/three {2}→ {2}200 OK/);
    expect(shown.stdout).toMatch(/validators {3}ETag "e1"/);
    expect(shown.stdout).toMatch(/"path":"\/other\/three"/);
    const [details] = JSON.parse((await cli(['inspect', ...opts(), `${base}/keys/one`, '--json'])).stdout);
    expect(details.etag).toBe('"e1"');
    const byKey = JSON.parse((await cli(['inspect', ...opts(), details.key, '--json'])).stdout);
    expect(byKey[0].key).toBe(details.key);
    expect((await cli(['inspect', ...opts(), `${base}/missing`])).code).toBe(1);
  });

  it('--soft: marks stale instead (shown by ls and inspect); the next request is answered stale, then refreshed', async () => {
    const marked = await cli(['evict-tag', ...opts(), 'keys', '--soft', '--grace', '120']);
    expect(marked.code).toBe(0);
    expect(marked.stdout).toMatch(/marked stale \(grace 120 s\) 2 entries tagged keys/);
    const listed = JSON.parse((await cli(['ls', ...opts(), '--json'])).stdout);
    const one = listed.entries.find((e: { url: string }) => e.url.endsWith('/keys/one'));
    expect(one.freshFor).toBeLessThanOrEqual(0);
    expect(Date.parse(one.softEvicted.graceUntil) - Date.parse(one.softEvicted.staleAt)).toBe(120_000);
    const shown = await cli(['inspect', ...opts(), `${base}/keys/one`]);
    expect(shown.stdout).toMatch(/soft-evicted \S+: answered stale while one refresh runs until \S+/);
    expect((await cli(['ls', ...opts(), `${base}/keys/*`])).stdout).toMatch(/ soft /);
    expect((await cli(['evict', ...opts(), `${base}/keys/one`, '--grace', '5'])).code).toBe(2); // --grace needs --soft
    const api = withCache(axios.create({ baseURL: base }), { store: await servers.store(), prefix, fleetStats: false });
    const answer = await api.get('/keys/one');
    expect([answer.cache?.status, answer.cache?.reason]).toEqual(['stale', 'soft-evicted']);
    for (let i = 0; i < 50 && (await api.get('/keys/one')).cache?.status !== 'hit'; i++)
      await new Promise((r) => setTimeout(r, 20));
    expect((await api.get('/keys/one')).cache?.status).toBe('hit');
    await closeCache(api);
  });

  it('evict, evict-tag: remove for the fleet; exit 1 when nothing was there', async () => {
    expect((await cli(['evict', ...opts(), `${base}/keys/two`])).stdout).toMatch(/evicted 1 entry/);
    expect((await cli(['evict', ...opts(), `${base}/keys/two`])).code).toBe(1);
    const tagged = await cli(['evict-tag', ...opts(), 'keys']);
    expect(tagged.code).toBe(0);
    expect(tagged.stdout).toMatch(/evicted 1 entry tagged keys/);
    const left = JSON.parse((await cli(['ls', ...opts(), '--json'])).stdout);
    expect(left.entries.map((e: { url: string }) => e.url)).toEqual([`${base}/other/three`]);
  });

  it('tail: prints the writes and evictions the fleet announces', async () => {
    const child = spawn(process.execPath, [CLI, 'tail', ...opts(), '--for', '4000'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString();
    });
    for (let i = 0; i < 200 && !out.includes('listening'); i++) await new Promise((r) => setTimeout(r, 20));
    const api = withCache(axios.create({ baseURL: base }), {
      store: await servers.store(),
      prefix,
      fleetStats: false,
    });
    // Writes are announced while someone listens (learnt within a second): write until one shows.
    for (let i = 0; i < 30 && !out.includes('write'); i++) {
      await api.get(`/tailed/${i}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    const { evict } = await import('../../src/index.js');
    await evict(api, `${base}/tailed/0`);
    for (let i = 0; i < 50 && !out.includes('evict '); i++) await new Promise((r) => setTimeout(r, 20));
    child.kill('SIGINT');
    expect(out).toMatch(/write {2}GET http:\/\/127\.0\.0\.1:\d+\/tailed\/\d+/);
    expect(out).toMatch(/evict {2}GET http:\/\/127\.0\.0\.1:\d+\/tailed\/0/);
    await closeCache(api);
  });

  it('clear: refuses without --yes when it cannot ask, deletes everything with it', async () => {
    const refused = await cli(['clear', ...opts()]);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/confirm with --yes/);
    const cleared = await cli(['clear', ...opts(), '--yes']);
    expect(cleared.code).toBe(0);
    expect((await cli(['ls', ...opts()])).code).toBe(1);
  });

  it('usage and connection errors: exit 2, one line, no stack trace', async () => {
    for (const args of [
      [],
      ['nope'],
      ['ls', '--limit', 'x', '--redis', redisUrl],
      ['stats', '--redis', 'redis://127.0.0.1:1'],
    ]) {
      const run = await cli(args);
      expect(run.code, args.join(' ')).toBe(2);
      expect(run.stderr.trim().split('\n'), args.join(' ')).toHaveLength(1);
      expect(run.stderr).toMatch(/^axios-redis-cache: /);
      expect(run.stderr).not.toMatch(/\n\s+at /);
    }
    expect((await cli(['stats', '--redis', 'redis://127.0.0.1:1'])).stderr).toMatch(/ECONNREFUSED/);
  });

  it('--timeout bounds the run against a stopped Redis (SIGSTOP): exit 2 soon after it', async () => {
    const stopped = await startRedis();
    try {
      process.kill(stopped.pid, 'SIGSTOP');
      const started = Date.now();
      const run = await cli(['ls', '--redis', stopped.url, '--timeout', '1000']);
      const took = Date.now() - started;
      expect(run.code).toBe(2);
      expect(run.stderr).toMatch(/no answer from .* within 1000 ms/);
      // The process itself exits with the message, not seconds later (a functional bound, generous).
      expect(took).toBeLessThan(4000);
    } finally {
      process.kill(stopped.pid, 'SIGCONT');
      await stopped.stop();
    }
  });

  it('without ioredis installed (an optional peer): one line naming what to install, exit 2', async () => {
    // The published build, copied where only axios resolves.
    const root = mkdtempSync(join(tmpdir(), 'arc-no-ioredis-'));
    try {
      cpSync(fileURLToPath(new URL('../../dist', import.meta.url)), join(root, 'dist'), { recursive: true });
      writeFileSync(join(root, 'package.json'), '{"type":"module"}');
      mkdirSync(join(root, 'node_modules'));
      symlinkSync(
        fileURLToPath(new URL('../../node_modules/axios', import.meta.url)),
        join(root, 'node_modules/axios'),
      );
      const run = await new Promise<Run>((resolve) => {
        execFile(process.execPath, [join(root, 'dist/cli.js'), 'ls'], { timeout: 20_000 }, (error, stdout, stderr) =>
          resolve({ code: error ? Number((error as { code?: number }).code ?? 1) : 0, stdout, stderr }),
        );
      });
      expect(run.code).toBe(2);
      expect(run.stderr.trim().split('\n')).toHaveLength(1);
      expect(run.stderr).toMatch(/npm install ioredis/);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});

describe('axios-redis-cache CLI on a Redis Cluster', () => {
  let cluster: TestCluster;
  let client: RedisClient;
  beforeAll(async () => {
    cluster = await startCluster();
    client = (await storeCluster(cluster.ports)).store;
  }, 60_000);
  afterAll(async () => {
    await closeClients();
    await cluster?.stop();
  });

  it('ls, stats and evict walk every master', async () => {
    servers.upstream.handle(taggedAnswers);
    const prefix = 'cli-cluster:';
    const api = withCache(axios.create({ baseURL: servers.upstream.url }), { store: client, prefix, fleetStats: 0.1 });
    for (let i = 0; i < 12; i++) await api.get(`/keys/${i}`);
    await closeCache(api);
    const opts = ['--redis', `redis://127.0.0.1:${cluster.ports[0]}`, '--cluster', '--prefix', prefix];
    const listed = JSON.parse((await cli(['ls', ...opts, '--json'])).stdout);
    expect(listed.entries).toHaveLength(12);
    const stats = JSON.parse((await cli(['stats', ...opts, '--json'])).stdout);
    expect(stats.counters.misses).toBe(12);
    expect(stats.entries).toBe(12);
    expect((await cli(['evict', ...opts, `${servers.upstream.url}/keys/*`])).stdout).toMatch(/evicted 12 entries/);
  }, 60_000);
});

describe('axios-redis-cache CLI through Sentinel', () => {
  let sentinel: TestSentinel;
  beforeAll(async () => {
    sentinel = await startSentinel();
  }, 60_000);
  afterAll(async () => {
    await sentinel?.stop();
  });

  it('finds the master through the sentinel, lists and evicts', async () => {
    servers.upstream.handle(taggedAnswers);
    const handle = await storeSentinel(sentinel.masterName, [{ host: '127.0.0.1', port: sentinel.sentinelPort }]);
    const prefix = 'cli-sentinel:';
    const api = withCache(axios.create({ baseURL: servers.upstream.url }), {
      store: handle.store,
      prefix,
      fleetStats: false,
    });
    await api.get('/keys/s1');
    await closeCache(api);
    await handle.close();
    const opts = [
      '--sentinel',
      `127.0.0.1:${sentinel.sentinelPort}`,
      '--name',
      sentinel.masterName,
      '--prefix',
      prefix,
    ];
    const listed = JSON.parse((await cli(['ls', ...opts, '--json'])).stdout);
    expect(listed.entries.map((e: { url: string }) => e.url)).toEqual([`${servers.upstream.url}/keys/s1`]);
    expect((await cli(['evict', ...opts, `${servers.upstream.url}/keys/s1`])).code).toBe(0);
    const missing = await cli(['ls', '--sentinel', `127.0.0.1:${sentinel.sentinelPort}`, '--prefix', prefix]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/--sentinel needs --name/);
  }, 60_000);
});
