import axios from 'axios';
import type { Redis } from 'ioredis';
import { beforeAll, describe, expect, it } from 'vitest';
import { tagIndexKey } from '../../src/entries/key.js';
import {
  type CacheError,
  CacheOptionError,
  type CacheOptions,
  CacheStoreError,
  evict,
  evictTags,
  getCacheStats,
  withCache,
} from '../../src/index.js';
import { storeClient, synced } from '../helpers/clients.js';
import { entryBytes } from '../helpers/entries.js';
import { useRedisAndUpstream } from '../helpers/suite.js';

/**
 * Foreign and mistyped values in Redis cost the request they sit under, never the store: a lease that
 * cannot be a live holder's is not waited on; a value of the wrong type at an index, an entry key or the
 * counters is replaced (or that request misses) without opening a breaker; another key's entry planted
 * under a hot key is a miss that the refill overwrites, without dropping the user's connection.
 */
const servers = useRedisAndUpstream();
let prefixes = 0;
let admin: Redis;

beforeAll(async () => {
  admin = await servers.client();
  servers.upstream.handle((req, res) => {
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ path: req.url }));
  });
});

async function cachedApi(options: CacheOptions = {}) {
  const handle = await storeClient(servers.server.port);
  const client = handle.store;
  const errors: CacheError[] = [];
  const api = withCache(axios.create({ baseURL: servers.upstream.url }), {
    store: client,
    prefix: `hostile${++prefixes}:`,
    fleetStats: false,
    onError: (error) => errors.push(error),
    ...options,
  });
  // The connections the user's client made beyond its first: the cache must not make it reconnect.
  return { api, client, errors, reconnects: () => handle.connects() - 1 };
}

/** The keys a request is stored under, learnt from a first fill (then deleted, as if never stored). */
async function keysOf(
  api: Awaited<ReturnType<typeof cachedApi>>['api'],
  path: string,
  config: { headers?: Record<string, string> } = {},
) {
  const entry = (await api.get(path, config)).cache?.key as string;
  const base = entry.slice(0, entry.indexOf('}:') + 2);
  const vid = entry.slice(base.length, entry.indexOf(':', base.length));
  await evict(api, { url: path, ...config });
  return { entry, variants: `${base}variants`, lease: `${base}${vid}:lease` };
}

describe('planted leases', () => {
  it.each([
    ['with no expiry', (key: string) => admin.set(key, 'not-ours')],
    ['with an expiry far beyond lockTtl', (key: string) => admin.set(key, 'not-ours', 'PX', 3_600_000)],
    ['of another type', (key: string) => admin.hset(key, 'a', '1')],
  ])(
    'a lease key %s is taken over, not waited on (lockWait 60 s: waiting would time the test out)',
    async (_, plant) => {
      const { api } = await cachedApi({ lockWait: 60_000 });
      const path = `/lease/${prefixes}`;
      const keys = await keysOf(api, path);
      await plant(keys.lease);
      const calls = servers.upstream.calls(path);
      const response = await api.get(path);
      expect(response.cache?.status).toBe('miss');
      expect(servers.upstream.calls(path)).toBe(calls + 1);
      expect((await api.get(path)).cache?.status).toBe('hit');
    },
  );

  it('a live lease (within lockTtl) is still waited on: the holder’s answer is shared', async () => {
    const { api } = await cachedApi({ lockTtl: 1000, lockWait: 5000 });
    const prefix = `hostile${prefixes}:`;
    const path = `/lease-live/${prefixes}`;
    const keys = await keysOf(api, path);
    await admin.set(keys.lease, 'another-process', 'PX', 900);
    const calls = servers.upstream.calls(path);
    const waiting = api.get(path);
    await new Promise((resolve) => setTimeout(resolve, 100));
    // The holder (another process of the fleet) stores its answer; the waiter takes it.
    const holder = withCache(axios.create({ baseURL: servers.upstream.url }), {
      store: await servers.store(),
      prefix,
      fleetStats: false,
    });
    await holder.get(path, { cache: { refresh: true } });
    const answer = await waiting;
    expect(answer.cache?.status).toBe('coalesced');
    expect(answer.cache?.source).toBe('fleet');
    expect(servers.upstream.calls(path)).toBe(calls + 1);
  });
});

describe('values of the wrong type under our keys', () => {
  it.each([
    ['the variants index', 'variants' as const],
    ['the entry key', 'entry' as const],
  ])('at %s: that request misses and is stored; the breakers stay closed, other keys unaffected', async (_, which) => {
    const { api, errors } = await cachedApi();
    const path = `/wrongtype/${which}`;
    // A variant of its own (a credential): its entry is listed in the request's variants index.
    const config = { headers: { authorization: 'Bearer tenant-a' } };
    const keys = await keysOf(api, path, config);
    await api.get('/other'); // another key, stored
    await admin.set(keys.variants, 'x'); // (a string where a sorted set belongs)
    if (which === 'entry') {
      await admin.del(keys.variants);
      await admin.hset(keys.entry, 'planted', '1');
    }
    for (let i = 0; i < 20; i++) await api.get(path, config);
    const stats = getCacheStats(api);
    expect(stats.breaker).toBe('closed');
    expect(stats.writeBreaker).toBe('closed');
    expect((await api.get(path, config)).cache?.status).toBe('hit');
    expect((await api.get('/other')).cache?.status).toBe('hit');
    expect(await admin.type(keys.variants)).toBe('zset');
    expect(errors.filter((e) => e.code === 'ERR_CACHE_STORE_TIMEOUT')).toEqual([]);
    // The eviction of that request works as well (every variant: the credential's).
    expect(await evict(api, path)).toBe(1);
  });

  it('at a tag index: entries with that tag are stored and evicted by it', async () => {
    const { api } = await cachedApi();
    const tagKey = tagIndexKey(`hostile${prefixes}:`, 'tenant:42');
    await admin.set(tagKey, 'x');
    for (let i = 0; i < 10; i++) await api.get(`/tagged/${i}`, { cache: { tags: ['tenant:42'] } });
    expect(getCacheStats(api).writeBreaker).toBe('closed');
    expect((await api.get('/tagged/3', { cache: { tags: ['tenant:42'] } })).cache?.status).toBe('hit');
    expect(await evictTags(api, ['tenant:42'])).toBe(10);
    // A tag index of another type when evicting: what it should list cannot be found, so the eviction
    // says so (a silent 0 would leave the tagged entries served).
    await admin.hset(tagIndexKey(`hostile${prefixes}:`, 'tenant:43'), 'a', '1');
    await expect(evictTags(api, ['tenant:43'])).rejects.toBeInstanceOf(CacheStoreError);
  });

  it('at the fleet counters: reports replace it, the write breaker stays closed', async () => {
    const { api } = await cachedApi({ fleetStats: 0.1 });
    await admin.set(`hostile${prefixes}:{stats}`, 'x');
    for (let i = 0; i < 30; i++) await api.get(`/counted/${i % 3}`);
    await new Promise((resolve) => setTimeout(resolve, 400));
    const fleet = await getCacheStats(api, { fleet: true });
    expect(getCacheStats(api).writeBreaker).toBe('closed');
    expect(fleet.counters.hits + fleet.counters.misses).toBeGreaterThan(0);
  });
});

describe('another key’s entry planted under a hot key', () => {
  it('is a miss that the refill overwrites: the user’s connection is never dropped', async () => {
    const { api, client, reconnects } = await cachedApi();
    const hot = (await api.get('/hot')).cache?.key as string;
    await synced(client);
    const before = reconnects();
    // A valid entry — of another key — written under the hot key, again and again.
    const foreign = entryBytes(`${hot.slice(0, hot.indexOf('}:') + 2)}_:GET http://elsewhere/secret`, {
      body: Buffer.from('{"path":"/secret"}'),
    });
    const wrong: string[] = [];
    for (let round = 0; round < 10; round++) {
      await admin.set(hot, foreign, 'PX', 60_000);
      const answers = await Promise.all(Array.from({ length: 20 }, () => api.get('/hot')));
      for (const a of answers) if (a.data.path !== '/hot') wrong.push(a.data.path);
      await new Promise((resolve) => setTimeout(resolve, 150));
    }
    expect(wrong).toEqual([]);
    expect(getCacheStats(api).distrusts).toBe(0);
    expect(reconnects() - before).toBe(0);
    expect((await api.get('/hot')).cache?.status).toBe('hit');
  });
});

describe('tags per request', () => {
  it('10,000 tags on one request are refused where they are given, naming the bound', async () => {
    const { api } = await cachedApi();
    const tags = Array.from({ length: 10_000 }, (_, i) => `t${i}`);
    const caught = await api.get('/many-tags', { cache: { tags } }).catch((error: unknown) => error);
    expect(caught).toBeInstanceOf(CacheOptionError);
    expect((caught as Error).message).toMatch(/at most 64 tags, got "10000 tags"/);
  });

  it('tags with control characters are refused like cache.key', async () => {
    const { api } = await cachedApi();
    const caught = await api.get('/bad-tag', { cache: { tags: ['ok', 'a\u001b[2Jb'] } }).catch((e: unknown) => e);
    expect(caught).toBeInstanceOf(CacheOptionError);
    expect((caught as CacheOptionError).message).toMatch(/cache\.tags\[1\]/);
  });

  it('an answer whose tag header lists more than the bound is not stored (an eviction by a tag left out would miss it)', async () => {
    servers.upstream.handle((req, res) => {
      res.setHeader('content-type', 'application/json');
      res.setHeader('cache-tag', Array.from({ length: 200 }, (_, i) => `t${i}`).join(','));
      res.end(JSON.stringify({ path: req.url }));
    });
    const { api } = await cachedApi({ tagHeader: 'cache-tag' });
    await api.get('/header-tags');
    const again = await api.get('/header-tags');
    expect(again.cache?.status).toBe('miss');
    expect(await admin.keys(`hostile${prefixes}:tag:*`)).toEqual([]); // no 200 tag indexes
    servers.upstream.handle((req, res) => {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ path: req.url }));
    });
  });
});
