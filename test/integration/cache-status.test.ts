import axios from 'axios';
import { afterAll, describe, expect, it } from 'vitest';
import { CacheOptionError, closeCache, withCache } from '../../src/index.js';
import { useRedisAndUpstream } from '../helpers/suite.js';

/** `cacheStatus`: an RFC 9211 `Cache-Status` member on every answer, against real Redis and upstream. */
const servers = useRedisAndUpstream();
const closers: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const close of closers) await close();
});

async function instance(cacheStatus: boolean | string, extra: Record<string, unknown> = {}) {
  const api = withCache(axios.create({ baseURL: servers.upstream.url }), {
    store: await servers.store(),
    prefix: `status-${closers.length}:`,
    cacheStatus,
    ...extra,
  });
  closers.push(() => closeCache(api));
  return api;
}

describe('Cache-Status (RFC 9211)', () => {
  it('says miss, hit with the freshness left, bypass; after the upstream caches own members', async () => {
    servers.upstream.handle((_req, res) => {
      res.setHeader('cache-status', 'edge-cdn; hit');
      res.setHeader('etag', '"1"');
      res.end('{"ok":true}');
    });
    const api = await instance(true, { ttl: 30 });
    expect((await api.get('/s')).headers['cache-status']).toBe(
      'edge-cdn; hit, axios-redis-cache; fwd=uri-miss; fwd-status=200',
    );
    expect((await api.get('/s')).headers['cache-status']).toMatch(
      /^edge-cdn; hit, axios-redis-cache; hit; ttl=(29|30)$/,
    );
    expect((await api.get('/s', { cache: false })).headers['cache-status']).toBe(
      'edge-cdn; hit, axios-redis-cache; fwd=bypass; fwd-status=200',
    );
  });

  it('says a revalidation was forwarded as stale and answered 304, and names the cache as told', async () => {
    servers.upstream.handle((req, res) => {
      res.setHeader('etag', '"1"');
      if (req.headers['if-none-match'] === '"1"') {
        res.statusCode = 304;
        res.end();
        return;
      }
      res.end('{"ok":true}');
    });
    const api = await instance('keys-cache', { ttl: 0.1 });
    await api.get('/r');
    await new Promise((r) => setTimeout(r, 150));
    const renewed = await api.get('/r');
    expect(renewed.cache?.status).toBe('revalidated');
    expect(renewed.headers['cache-status']).toBe('keys-cache; fwd=stale; fwd-status=304; ttl=0');
  });

  it('is on the response of a rejected answer too, and off by default', async () => {
    servers.upstream.handle((_req, res) => {
      res.statusCode = 404;
      res.end('no');
    });
    const api = await instance(true);
    const error = (await api.get('/missing').catch((e: unknown) => e)) as {
      response?: { headers: Record<string, string> };
    };
    expect(error.response?.headers['cache-status']).toBe('axios-redis-cache; fwd=uri-miss; fwd-status=404');
    const plain = withCache(axios.create({ baseURL: servers.upstream.url }), { store: await servers.store() });
    closers.push(() => closeCache(plain));
    servers.upstream.handle((_req, res) => {
      res.end('x');
    });
    expect((await plain.get('/plain')).headers['cache-status']).toBeUndefined();
  });

  it('refuses a name that is not a token', () => {
    expect(() => withCache(axios.create(), { cacheStatus: 'my cache' })).toThrow(CacheOptionError);
  });
});
