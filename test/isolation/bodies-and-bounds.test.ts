import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import axios from 'axios';
import { describe, expect, it } from 'vitest';
import { CacheOptionError, LIMITS, MemoryStore, withCache } from '../../src/index.js';
import { synced } from '../helpers/clients.js';
import { useRedisAndUpstream } from '../helpers/suite.js';

/**
 * Bodies as axios gives them (`data:` URLs), errors of the user's own axios class whichever module format
 * each side was loaded in, and bounds that hold: stored lifetimes capped, `maxEntryBytes` no larger than a
 * read can serve.
 */
const servers = useRedisAndUpstream();
const ROOT = fileURLToPath(new URL('../..', import.meta.url));

describe('data: URLs', () => {
  it.each([
    ['a default request, then responseType text', [undefined, 'text'] as const],
    ['responseType text, then a default request', ['text', undefined] as const],
    ['json, then arraybuffer', ['json', 'arraybuffer'] as const],
  ])('%s: each gets the type plain axios gives it', async (_, types) => {
    const url = 'data:text/plain;base64,MTIz'; // "123"
    const plain = axios.create();
    const api = withCache(axios.create(), { store: new MemoryStore() });
    for (const responseType of types) {
      const config = responseType ? { responseType } : {};
      const expected = (await plain.get(url, config)).data;
      const got = await api.get(url, config);
      expect(got.data).toStrictEqual(expected);
      expect(got.cache?.status).toBe('bypass');
    }
  });
});

/** Run a script with node in the project root and return its stdout lines. */
function node(args: string[], script: string): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [...args, '-e', script], { cwd: ROOT, timeout: 20_000 }, (error, stdout, stderr) =>
      error ? reject(new Error(`${error.message}\n${stderr}`)) : resolve(stdout.trim()),
    );
  });
}

describe('the user’s own axios class, whatever module format each side was loaded in', () => {
  const scenario = (load: string) => `
    const http = require('node:http');
    (async () => {
      const { userAxios, withCache } = await (${load})();
      const server = http.createServer((q, s) => { s.statusCode = q.url === '/ok' ? 200 : 404; s.end('x'); });
      await new Promise((r) => server.listen(0, '127.0.0.1', r));
      const api = withCache(userAxios.create({ baseURL: 'http://127.0.0.1:' + server.address().port }), { statuses: [200, 404] });
      const out = [];
      for (let i = 0; i < 2; i++) {
        const e = await api.get('/missing').catch((e) => e);
        out.push(e instanceof userAxios.AxiosError, e.response.cache.status);
        const r = await api.get('/ok');
        out.push(r.headers instanceof userAxios.AxiosHeaders, r.cache.status);
      }
      const timedOut = await api.get('/ok', { cache: false, timeout: 1, signal: AbortSignal.abort() }).catch((e) => e);
      out.push(userAxios.isCancel(timedOut) || timedOut instanceof userAxios.AxiosError);
      console.log(out.join(' '));
      server.close();
    })();`;

  it('an ESM axios instance with the CommonJS build of the cache', async () => {
    const out = await node(
      [],
      scenario(
        `async () => ({ userAxios: (await import('axios')).default, withCache: require('./dist/index.cjs').withCache })`,
      ),
    );
    expect(out).toBe('true miss true miss true hit true hit true');
  });

  it('a CommonJS axios instance with the ESM build of the cache', async () => {
    const out = await node(
      [],
      scenario(`async () => ({ userAxios: require('axios'), withCache: (await import('./dist/index.js')).withCache })`),
    );
    expect(out).toBe('true miss true miss true hit true hit true');
  });
});

describe('bounds', () => {
  it.each([
    ['Expires in year 9999', { expires: 'Fri, 31 Dec 9999 23:59:59 GMT' }],
    ['max-age=99999999999', { 'cache-control': 'max-age=99999999999' }],
    ['stale-while-revalidate=99999999999', { 'cache-control': 'max-age=1, stale-while-revalidate=99999999999' }],
    ['stale-if-error=99999999999', { 'cache-control': 'max-age=1, stale-if-error=99999999999' }],
  ])('%s: kept in Redis for at most a year past its freshness cap', async (_, headers) => {
    servers.upstream.handle((_req, res) => {
      res.setHeader('content-type', 'application/json');
      res.setHeader('date', new Date().toUTCString());
      for (const [name, value] of Object.entries(headers)) res.setHeader(name, value);
      res.end('{"long":true}');
    });
    const client = await servers.client();
    const store = await servers.store();
    const api = withCache(axios.create({ baseURL: servers.upstream.url }), {
      store,
      httpSemantics: true,
      keep: 0,
      prefix: `bounds${Object.keys(headers).join('')}${String(Object.values(headers)[0]).length}:`,
      fleetStats: false,
    });
    const key = (await api.get('/long')).cache?.key as string;
    await synced(store);
    const ttlMs = await client.pttl(key);
    // Freshness at most a year, and a stale window at most a year on top of it.
    expect(ttlMs).toBeGreaterThan(0);
    expect(ttlMs).toBeLessThanOrEqual(2 * LIMITS.seconds * 1000);
    expect((await api.get('/long')).cache?.status).toBe('hit');
  });

  it('maxEntryBytes beyond what a read serves within storeTimeout is refused, naming the bound', () => {
    const install = (options: object) => () => withCache(axios.create(), options);
    expect(install({ maxEntryBytes: 512 * 1024 * 1024 })).toThrow(CacheOptionError);
    expect(install({ maxEntryBytes: 512 * 1024 * 1024 })).toThrow(/at most 4194304 bytes with storeTimeout 50 ms/);
    expect(install({ maxEntryBytes: 4 * 1024 * 1024 })).not.toThrow();
    expect(install({ maxEntryBytes: 8 * 1024 * 1024 })).toThrow(CacheOptionError);
    expect(install({ maxEntryBytes: 512 * 1024 * 1024, storeTimeout: 6400 })).not.toThrow();
  });

  it('the largest entry the default budget allows (4 MiB) is stored and served from Redis as a hit', async () => {
    const size = 4 * 1024 * 1024 - 4096; // the body, leaving room for the entry's head
    servers.upstream.handle((_req, res) => {
      res.setHeader('content-type', 'application/octet-stream');
      res.end(Buffer.alloc(size, 7));
    });
    const api = withCache(axios.create({ baseURL: servers.upstream.url, responseType: 'arraybuffer' }), {
      store: await servers.store(),
      maxEntryBytes: 4 * 1024 * 1024,
      prefix: 'bounds-large:',
      fleetStats: false,
    });
    const key = (await api.get('/large')).cache?.key as string;
    // The write is not awaited by the caller: wait until Redis has it.
    const admin = await servers.client();
    for (let i = 0; i < 100 && (await admin.exists(key)) === 0; i++) await new Promise((r) => setTimeout(r, 50));
    const statuses: string[] = [];
    for (let i = 0; i < 3; i++) {
      const r = await api.get('/large');
      expect((r.data as ArrayBuffer).byteLength).toBe(size);
      statuses.push(r.cache?.status as string);
    }
    expect(statuses).toEqual(['hit', 'hit', 'hit']);
    expect(servers.upstream.calls('/large')).toBe(1);
  });
});
