import axios, { AxiosError } from 'axios';
import type { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { tagIndexKey } from '../../src/entries/key.js';
import {
  type CachedAxiosInstance,
  clearCache,
  evict,
  evictTags,
  getCacheStats,
  type RedisClient,
  withCache,
} from '../../src/index.js';
import { closeClients, storeClient, synced } from '../helpers/clients.js';
import { type RedisServer, ready, startRedis } from '../helpers/redis-server.js';
import { echoJson, startUpstream, type Upstream } from '../helpers/upstream.js';

let server: RedisServer;
let redis: Redis;
/** The cache's own client: of the run's library (ioredis or node-redis); `redis` is the test's. */
let store: RedisClient;
let upstream: Upstream;
let api: CachedAxiosInstance;
let prefix: string;
let seq = 0;

beforeAll(async () => {
  server = await startRedis();
  redis = server.client();
  await ready(redis);
  store = (await storeClient(server.port)).store;
  upstream = await startUpstream();
});

afterAll(async () => {
  redis.disconnect();
  await closeClients();
  await upstream.close();
  await server.stop();
});

beforeEach(() => {
  upstream.handle(echoJson);
  prefix = `t${++seq}:`;
  api = withCache(axios.create({ baseURL: upstream.url }), { store, ttl: 60, prefix });
});

afterEach(() => {
  expect(getCacheStats(api).inFlight).toBe(0);
});

describe('hits, misses and expiry (counted at the upstream)', () => {
  it('serves the second request from Redis without calling upstream', async () => {
    const first = await api.get('/dkim/example.com');
    const second = await api.get('/dkim/example.com');
    expect(upstream.calls('/dkim/example.com')).toBe(1);
    expect(first.cache?.status).toBe('miss');
    expect(second.cache?.status).toBe('hit');
    expect(second.data).toEqual(first.data);
    expect(second.cache?.key).toBe(first.cache?.key);
    expect(await redis.exists(first.cache?.key as string)).toBe(1);
  });

  it('stores with a Redis expiry equal to the TTL', async () => {
    const res = await api.get('/ttl', { cache: { ttl: 30 } });
    await synced(store);
    const pttl = await redis.pttl(res.cache?.key as string);
    expect(pttl).toBeGreaterThan(29_000);
    expect(pttl).toBeLessThanOrEqual(30_000);
    const fractional = await api.get('/ttl-fraction', { cache: { ttl: 2.5 } });
    await synced(store);
    const pttl2 = await redis.pttl(fractional.cache?.key as string);
    expect(pttl2).toBeGreaterThan(2_000);
    expect(pttl2).toBeLessThanOrEqual(2_500);
  });

  it('goes upstream again once the entry has expired', async () => {
    await api.get('/short', { cache: { ttl: 0.1 } });
    await api.get('/short', { cache: { ttl: 0.1 } });
    expect(upstream.calls('/short')).toBe(1);
    await new Promise((r) => setTimeout(r, 150));
    const after = await api.get('/short', { cache: { ttl: 0.1 } });
    expect(after.cache?.status).toBe('miss');
    expect(upstream.calls('/short')).toBe(2);
  });

  it('keys a request by the URL it puts on the wire: params, or the same query in the URL', async () => {
    await api.get('/q?a=1&b=2');
    const second = await api.get('/q', { params: { a: 1, b: 2 } });
    const third = await api.get('/q', {
      params: new URLSearchParams([
        ['a', '1'],
        ['b', '2'],
      ]),
    });
    expect(second.cache?.status).toBe('hit');
    expect(third.cache?.status).toBe('hit');
    expect(upstream.calls('/q')).toBe(1);
    // The same pairs in another order are another request on the wire: the upstream answers it.
    const reordered = await api.get('/q?b=2&a=1');
    expect(reordered.cache?.status).toBe('miss');
    expect(upstream.received.at(-1)?.url).toBe('/q?b=2&a=1');
    expect(upstream.calls('/q')).toBe(2);
    const other = await api.get('/q', { params: { a: 1, b: 3 } });
    expect(other.cache?.status).toBe('miss');
    expect(upstream.calls('/q')).toBe(3);
  });
});

describe('per-request options', () => {
  it('cache: false neither reads nor writes', async () => {
    const first = await api.get('/bypass');
    const bypassed = await api.get('/bypass', { cache: false });
    expect(bypassed.cache).toEqual({ status: 'bypass', key: null, age: 0, source: 'upstream', ttl: null });
    expect(upstream.calls('/bypass')).toBe(2);
    const stillCached = await api.get('/bypass');
    expect(stillCached.cache?.status).toBe('hit');
    expect(stillCached.data.call).toBe(first.data.call);
  });

  it('refresh: true fetches and overwrites', async () => {
    const first = await api.get('/refresh');
    const refreshed = await api.get('/refresh', { cache: { refresh: true } });
    expect(refreshed.cache?.status).toBe('miss');
    expect(refreshed.data.call).not.toBe(first.data.call);
    const after = await api.get('/refresh');
    expect(after.cache?.status).toBe('hit');
    expect(after.data.call).toBe(refreshed.data.call);
    expect(upstream.calls('/refresh')).toBe(2);
  });

  it('rejects an invalid per-request ttl before anything is sent', async () => {
    await expect(api.get('/invalid', { cache: { ttl: -1 } })).rejects.toMatchObject({
      code: 'ERR_CACHE_OPTION',
      option: 'cache.ttl',
    });
    expect(upstream.calls('/invalid')).toBe(0);
  });
});

describe('what is not cached', () => {
  it('does not cache POST', async () => {
    await api.post('/orders', { a: 1 });
    const second = await api.post('/orders', { a: 1 });
    expect(second.cache?.status).toBe('bypass');
    expect(upstream.calls('/orders')).toBe(2);
    expect(upstream.received.at(-1)?.body).toBe('{"a":1}');
  });

  it('does not cache a 404, and rejects it with a real AxiosError', async () => {
    upstream.handle((_req, res) => {
      res.statusCode = 404;
      res.end('{"error":"no such domain"}');
    });
    for (let i = 0; i < 2; i++) {
      const error = await api.get('/missing').catch((e: unknown) => e);
      expect(error).toBeInstanceOf(AxiosError);
      expect((error as AxiosError).response?.status).toBe(404);
      expect((error as AxiosError).response?.data).toEqual({ error: 'no such domain' });
    }
    expect(upstream.calls('/missing')).toBe(2);
  });

  it('replays a stored 404 as the same rejection when statuses allow it', async () => {
    const api404 = withCache(axios.create({ baseURL: upstream.url }), {
      store,
      prefix: `${prefix}404:`,
      statuses: [[200, 299], 404],
    });
    upstream.handle((_req, res) => {
      res.statusCode = 404;
      res.end('{"error":"gone"}');
    });
    const first = (await api404.get('/gone').catch((e: unknown) => e)) as AxiosError;
    const second = (await api404.get('/gone').catch((e: unknown) => e)) as AxiosError;
    expect(second).toBeInstanceOf(AxiosError);
    expect(second.code).toBe(AxiosError.ERR_BAD_REQUEST);
    expect(second.response?.status).toBe(404);
    expect(second.response?.data).toEqual({ error: 'gone' });
    expect((second.response as unknown as { cache: { status: string } }).cache?.status).toBe('hit');
    expect(first.message).toBe(second.message);
    expect(upstream.calls('/gone')).toBe(1);
  });

  it('never stores Cache-Control: no-store', async () => {
    upstream.handle((_req, res) => {
      res.setHeader('cache-control', 'no-store');
      res.end('secret');
    });
    await api.get('/no-store');
    await api.get('/no-store');
    expect(upstream.calls('/no-store')).toBe(2);
  });
});

describe('bodies and headers', () => {
  it('returns identical bytes for arraybuffer responses on a hit', async () => {
    const bytes = Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 7919) % 256));
    upstream.handle((_req, res) => {
      res.setHeader('content-type', 'application/octet-stream');
      res.end(bytes);
    });
    const miss = await api.get('/blob.bin', { responseType: 'arraybuffer' });
    const hit = await api.get('/blob.bin', { responseType: 'arraybuffer' });
    expect(hit.cache?.status).toBe('hit');
    expect(Buffer.compare(Buffer.from(hit.data), bytes)).toBe(0);
    expect(Buffer.compare(Buffer.from(miss.data), bytes)).toBe(0);
    expect(upstream.calls('/blob.bin')).toBe(1);
  });

  it("does not store an answer that sets a cookie: a second visitor never gets the first one's token", async () => {
    let visitor = 0;
    upstream.handle((_req, res) => {
      visitor++;
      res.setHeader('set-cookie', `csrf=${visitor}`);
      res.end(JSON.stringify({ csrfToken: `token-of-visitor-${visitor}` }));
    });
    const first = await api.get('/login-form');
    const second = await api.get('/login-form');
    expect(first.data.csrfToken).toBe('token-of-visitor-1');
    expect(second.data.csrfToken).toBe('token-of-visitor-2');
    expect(second.cache?.status).toBe('miss');
    expect(upstream.calls('/login-form')).toBe(2);
    await synced(store);
    expect(await redis.exists(first.cache?.key as string)).toBe(0);
  });

  it('never stores or replays set-cookie, even when such answers may be stored', async () => {
    upstream.handle((_req, res) => {
      res.setHeader('set-cookie', 'session=abc');
      res.setHeader('x-key-version', '7');
      res.end('{"ok":true}');
    });
    const miss = await api.get('/cookie', { cache: { allowSetCookie: true } });
    const hit = await api.get('/cookie');
    expect(miss.headers['set-cookie']).toEqual(['session=abc']);
    expect(hit.headers['set-cookie']).toBeUndefined();
    expect(hit.headers['x-key-version']).toBe('7');
    const raw = (await redis.getBuffer(hit.cache?.key as string)) as Buffer;
    expect(raw.includes('session=abc')).toBe(false);
  });
});

describe('credentials', () => {
  it('keeps one entry per Authorization value, hashed in the key', async () => {
    const alice = await api.get('/me', { headers: { Authorization: 'Bearer alice-token' } });
    const bob = await api.get('/me', { headers: { Authorization: 'Bearer bob-token' } });
    const aliceAgain = await api.get('/me', { headers: { Authorization: 'Bearer alice-token' } });
    expect(bob.cache?.status).toBe('miss');
    expect(aliceAgain.cache?.status).toBe('hit');
    expect(aliceAgain.data.call).toBe(alice.data.call);
    expect(upstream.calls('/me')).toBe(2);
    await synced(store);
    const keys = await redis.keys(`${prefix}*`);
    expect(keys.join('\n')).not.toMatch(/alice|bob|token/);
  });

  it('never puts the query string in clear in a key', async () => {
    await api.get('/search', { params: { apiKey: 'sk_live_123' } });
    await synced(store);
    const keys = await redis.keys(`${prefix}*`);
    expect(keys.length).toBeGreaterThan(0);
    expect(keys.join('\n')).not.toContain('sk_live_123');
  });
});

describe('coalescing', () => {
  it('makes one upstream call for 100 concurrent identical cold GETs', async () => {
    upstream.handle((req, res, n) => {
      setTimeout(() => echoJson(req, res, n), 30);
    });
    const responses = await Promise.all(Array.from({ length: 100 }, () => api.get('/popular')));
    expect(upstream.calls('/popular')).toBe(1);
    const statuses = responses.map((r) => r.cache?.status);
    expect(statuses.filter((s) => s === 'miss')).toHaveLength(1);
    expect(statuses.filter((s) => s === 'coalesced')).toHaveLength(99);
    expect(new Set(responses.map((r) => r.data)).size).toBe(100); // each caller owns its data
  });
});

describe('eviction', () => {
  it('evict removes every variant of the exact request', async () => {
    await api.get('/dkim/a.com', { headers: { Authorization: 'one' } });
    await api.get('/dkim/a.com', { headers: { Authorization: 'two' } });
    await api.get('/dkim/b.com');
    expect(await evict(api, '/dkim/a.com')).toBe(2);
    expect((await api.get('/dkim/a.com', { headers: { Authorization: 'one' } })).cache?.status).toBe('miss');
    expect((await api.get('/dkim/b.com')).cache?.status).toBe('hit');
    expect(await evict(api, { url: '/dkim/b.com', method: 'get' })).toBe(1);
    expect(await evict(api, '/never-cached')).toBe(0);
  });

  it('evictTags removes exactly the tagged entries', async () => {
    await api.get('/t/1', { cache: { tags: ['domain:a'] } });
    await api.get('/t/2', { cache: { tags: ['domain:a', 'all'] } });
    await api.get('/t/3', { cache: { tags: ['domain:b'] } });
    expect(await evictTags(api, ['domain:a'])).toBe(2);
    expect((await api.get('/t/1')).cache?.status).toBe('miss');
    expect((await api.get('/t/3')).cache?.status).toBe('hit');
  });

  it('clearCache removes everything under the prefix and nothing else', async () => {
    await redis.set('foreign:key', 'keep me');
    const other = withCache(axios.create({ baseURL: upstream.url }), { store, prefix: `${prefix}other:x` });
    await other.get('/other');
    await api.get('/c/1', { cache: { tags: ['x'] } });
    await api.get('/c/2');
    const removed = await clearCache(api);
    expect(removed).toBeGreaterThanOrEqual(2);
    expect(await redis.get('foreign:key')).toBe('keep me');
    expect((await api.get('/c/1')).cache?.status).toBe('miss');
    // A prefix that merely starts with ours is still ours: "t1:" clears "t1:other:x..." too. Use distinct prefixes.
    await redis.del('foreign:key');
  });
});

describe('representations', () => {
  it('keeps text and arraybuffer answers of one URL apart, and evicts both', async () => {
    const text = await api.get('/doc');
    const bytes = await api.get('/doc', { responseType: 'arraybuffer' });
    expect(typeof text.data).toBe('object');
    expect(Buffer.isBuffer(bytes.data)).toBe(true);
    expect(bytes.cache?.status).toBe('miss');
    const bytesHit = await api.get('/doc', { responseType: 'arraybuffer' });
    const textHit = await api.get('/doc', { responseType: 'json' });
    expect(Buffer.isBuffer(bytesHit.data)).toBe(true);
    expect(textHit.data).toEqual(text.data);
    expect([bytesHit.cache?.status, textHit.cache?.status]).toEqual(['hit', 'hit']);
    expect(await evict(api, '/doc')).toBe(2);
  });
});

describe('eviction by pattern and by response tags', () => {
  it('evicts every entry whose URL matches a glob pattern, any variant, nothing else', async () => {
    await api.get('/domains/a.com/dkim');
    await api.get('/domains/b.com/dkim', { headers: { Authorization: 'x' } });
    await api.get('/domains/b.com/dkim', { params: { v: 2 } });
    await api.get('/domainsX/c.com');
    await api.get('/users/1');
    expect(await evict(api, '/domains/*')).toBe(3);
    expect((await api.get('/domains/a.com/dkim')).cache?.status).toBe('miss');
    expect((await api.get('/domainsX/c.com')).cache?.status).toBe('hit');
    expect((await api.get('/users/1')).cache?.status).toBe('hit');
    await expect(evict(api, '/domains/*?x=1')).rejects.toMatchObject({ code: 'ERR_CACHE_OPTION' });
  });

  it('evicts by RegExp over origin and path', async () => {
    await api.get('/r/1.json');
    await api.get('/r/2.xml');
    expect(await evict(api, /\/r\/\d+\.json$/)).toBe(1);
    expect((await api.get('/r/2.xml')).cache?.status).toBe('hit');
  });

  it('stores tags named by the upstream in a response header when tagHeader is set', async () => {
    const tagged = withCache(axios.create({ baseURL: upstream.url }), {
      store,
      prefix: `${prefix}tags:`,
      tagHeader: 'cache-tag',
    });
    upstream.handle((req, res, n) => {
      res.setHeader('cache-tag', req.url?.includes('a.com') ? 'domain:a.com, dkim' : 'domain:b.com dkim');
      echoJson(req, res, n);
    });
    await tagged.get('/h/a.com');
    await tagged.get('/h/b.com');
    expect(await evictTags(tagged, ['domain:a.com'])).toBe(1);
    expect((await tagged.get('/h/b.com')).cache?.status).toBe('hit');
    expect(await evictTags(tagged, ['dkim'])).toBe(1); // a.com's entry is already gone
  });
});

describe('index hygiene', () => {
  it('forgets expired members of a tag index and lets the index expire with its last member', async () => {
    const index = tagIndexKey(prefix, 'busy');
    await Promise.all(
      Array.from({ length: 20 }, (_, i) => api.get(`/hyg/${i}`, { cache: { ttl: 0.4, tags: ['busy'] } })),
    );
    await synced(store);
    expect(await redis.zcard(index)).toBe(20);
    expect(await redis.pttl(index)).toBeLessThanOrEqual(400);
    await new Promise((r) => setTimeout(r, 450));
    await api.get('/hyg/new', { cache: { ttl: 30, tags: ['busy'] } });
    await synced(store);
    expect(await redis.zcard(index)).toBe(1); // the 20 expired members were pruned
    const pttl = await redis.pttl(index);
    expect(pttl).toBeGreaterThan(29_000);
    expect(pttl).toBeLessThanOrEqual(30_000);
  });
});
