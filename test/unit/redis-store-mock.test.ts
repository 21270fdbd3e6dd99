/**
 * RedisStore over ioredis-mock. Two limits of the mock shape what is tested here (the integration tests
 * cover them against a real redis-server):
 *
 * - ioredis-mock 8 has no `status` property, which every ioredis client has and RedisStore reads to skip
 *   commands while the client is not ready; `mockClient()` gives it the `'ready'` status of a connected client.
 * - Its Lua engine (fengari) uses 32-bit integers, so `TIME` × 1000 overflows inside INDEX_ADD: the index
 *   gets a PEXPIREAT in 1970 and vanishes at once. `set` with indexes still runs (EVALSHA → NOSCRIPT → EVAL),
 *   but indexes cannot be built through it; `deleteIndexed` is tested on indexes written with ZADD, and
 *   `evict`/`evictTags` through the mock are not tested.
 * - Its SCAN cursor is an offset into the current key list, so keys deleted between two SCAN pages shift the
 *   rest and some are skipped (real Redis guarantees them); `deleteMatching` is tested within one page.
 */
import axios, { type AxiosAdapter, AxiosHeaders } from 'axios';
import type { Redis } from 'ioredis';
import RedisMock from 'ioredis-mock';
import { describe, expect, it, vi } from 'vitest';
import { CacheOptionError, clearCache, getCacheStats, RedisStore, withCache } from '../../src/index.js';
import type { IORedisClient } from '../../src/stores/redis/store.js';

let instances = 0;

/** A fresh mock server (ioredis-mock shares data between clients of one host:port) with a connected status. */
function mockClient(options: Record<string, unknown> = {}): Redis {
  const client = new RedisMock({ port: 20_000 + instances++, ...options });
  return Object.assign(client, { status: 'ready' }) as unknown as Redis;
}

const bytes = (text: string) => Buffer.from(text);

describe('RedisStore over ioredis-mock', () => {
  it('stores bytes with a PX expiry and reads them back as a Buffer', async () => {
    const client = mockClient();
    const store = new RedisStore(client);
    const value = Buffer.from([0, 1, 2, 255, 0x41]);
    await store.set('k', value, 5_000, []);
    const read = await store.get('k');
    expect(Buffer.isBuffer(read)).toBe(true);
    expect(Buffer.from(read ?? []).equals(value)).toBe(true);
    const pttl = await client.pttl('k');
    expect(pttl).toBeGreaterThan(4_000);
    expect(pttl).toBeLessThanOrEqual(5_000);
    expect(await store.get('missing')).toBeNull();
  });

  it('rounds a fractional ttl up to whole milliseconds (never PX 0)', async () => {
    const client = mockClient();
    const store = new RedisStore(client);
    // The write script gets the TTL it passes to SET … PX (KEYS: entry, lease placeholder; ARGV: value, numbers).
    // The first call of a script on a client is an EVAL (the source), later ones EVALSHA.
    const evalCall = vi.spyOn(client as unknown as { evalBuffer: (...a: unknown[]) => Promise<unknown> }, 'evalBuffer');
    const evalsha = vi.spyOn(
      client as unknown as { evalshaBuffer: (...a: unknown[]) => Promise<unknown> },
      'evalshaBuffer',
    );
    // The write's numbers and words as one argument: TTL, now, longest lease, notice size, publish, token.
    await store.set('k', bytes('v'), 0.2, []);
    expect(evalCall).toHaveBeenCalledWith(
      expect.any(String),
      2,
      'k',
      'k',
      expect.any(Buffer),
      expect.stringMatching(/^1 \d+ 1050 65536 PUBLISH -$/),
    );
    await store.set('k', bytes('v'), 1.5, []);
    expect(evalsha).toHaveBeenCalledWith(
      expect.any(String),
      2,
      'k',
      'k',
      expect.any(Buffer),
      expect.stringMatching(/^2 \d+ 1050 65536 PUBLISH -$/),
    );
  });

  it('accepts a plain Uint8Array value', async () => {
    const store = new RedisStore(mockClient());
    const view = new Uint8Array(Uint8Array.from([9, 1, 2, 3, 9]).buffer, 1, 3);
    await store.set('k', view, 1_000, []);
    expect([...((await store.get('k')) ?? [])]).toEqual([1, 2, 3]);
  });

  it('overwrites a key of any type', async () => {
    const client = mockClient();
    const store = new RedisStore(client);
    await client.lpush('k', 'a list');
    await store.set('k', bytes('v'), 1_000, []);
    expect(await client.get('k')).toBe('v');
  });

  it('runs set with indexes through the script fallback without failing', async () => {
    const client = mockClient();
    const store = new RedisStore(client);
    await expect(store.set('k', bytes('v'), 1_000, ['idx'])).resolves.toBeUndefined();
    expect(await client.get('k')).toBe('v');
  });

  it('deletes keys and counts those that existed', async () => {
    const client = mockClient();
    const store = new RedisStore(client);
    await client.set('a', '1');
    await client.set('b', '2');
    expect(await store.delete(['a', 'b', 'c'])).toBe(2);
    expect(await client.exists('a', 'b')).toBe(0);
    expect(await store.delete([])).toBe(0);
  });

  it('deleteIndexed deletes the members of the indexes and the indexes, counting live members', async () => {
    const client = mockClient();
    const store = new RedisStore(client);
    await client.set('m1', '1');
    await client.set('m2', '2');
    await client.set('m3', '3');
    await client.zadd('i1', 1, 'm1', 2, 'm2', 3, 'gone');
    await client.zadd('i2', 1, 'm2');
    await client.zadd('i3', 1, 'm3');
    expect(await store.deleteIndexed(['i1', 'i2'])).toBe(2);
    expect(await client.exists('m1', 'm2', 'i1', 'i2')).toBe(0);
    expect(await client.get('m3')).toBe('3');
    expect(await client.exists('i3')).toBe(1);
    expect(await store.deleteIndexed(['i1'])).toBe(0);
  });

  it('deleteMatching deletes exactly the matching keys', async () => {
    const client = mockClient();
    const store = new RedisStore(client);
    for (let i = 0; i < 7; i++) await client.set(`app:{h${i}}:x`, String(i));
    await client.set('app2:x', 'other');
    await client.set('other:app:x', 'other');
    expect(await store.deleteMatching('app:*')).toBe(7);
    expect((await client.keys('*')).sort()).toEqual(['app2:x', 'other:app:x']);
    expect(await store.deleteMatching('nothing:*')).toBe(0);
  });

  it('grants a lease to one owner at a time and releases it only for that owner', async () => {
    const client = mockClient();
    const store = new RedisStore(client);
    expect(await store.acquireLease('lease', 'one', 5_000)).toBe('acquired');
    expect(await store.acquireLease('lease', 'two', 5_000)).toBe('held');
    const pttl = await client.pttl('lease');
    expect(pttl).toBeGreaterThan(4_000);
    expect(pttl).toBeLessThanOrEqual(5_000);
    await store.releaseLease('lease', 'two');
    expect(await client.get('lease')).toBe('one');
    await store.releaseLease('lease', 'one');
    expect(await client.exists('lease')).toBe(0);
    expect(await store.acquireLease('lease', 'two', 5_000)).toBe('acquired');
  });

  it('leaves the "uncacheable" marker when the owner releases with uncacheableMs', async () => {
    const client = mockClient();
    const store = new RedisStore(client);
    await store.acquireLease('lease', 'one', 5_000);
    await store.releaseLease('lease', 'one', 2_000);
    expect(await store.acquireLease('lease', 'two', 5_000)).toBe('uncacheable');
    const pttl = await client.pttl('lease');
    expect(pttl).toBeGreaterThan(1_000);
    expect(pttl).toBeLessThanOrEqual(2_000);
  });

  it('follows the client status', () => {
    const client = mockClient();
    const store = new RedisStore(client);
    expect(store.isReady()).toBe(true);
    Object.assign(client, { status: 'reconnecting' });
    expect(store.isReady()).toBe(false);
    expect(store.state()).toBe('reconnecting');
  });

  it('answers each read of a batch with its own value, absent keys with null', async () => {
    const client = mockClient();
    const store = new RedisStore(client);
    await client.set('a', 'A');
    await client.set('c', 'C');
    const values = await Promise.all(['a', 'b', 'c', 'a'].map((key) => store.get(key)));
    expect(values.map((v) => (v === null ? null : Buffer.from(v).toString()))).toEqual(['A', null, 'C', 'A']);
  });

  it('rejects a client with keyPrefix, and a bad scanCount or batchReads', () => {
    const prefixed = mockClient({ keyPrefix: 'svc:' });
    expect(() => new RedisStore(prefixed)).toThrow(CacheOptionError);
    expect(() => new RedisStore(prefixed)).toThrow(/keyPrefix/);
    expect(() => withCache(axios.create(), { store: prefixed })).toThrow(CacheOptionError);
    expect(() => new RedisStore(mockClient(), { scanCount: 0 })).toThrow(/"scanCount"/);
    expect(() => new RedisStore(mockClient(), { batchReads: 'yes' as unknown as boolean })).toThrow(
      /"batchReads".*"yes"/,
    );
    expect(() => new RedisStore({} as IORedisClient)).toThrow(CacheOptionError);
  });
});

describe('withCache over ioredis-mock', () => {
  function api(client: IORedisClient) {
    const calls: string[] = [];
    const adapter: AxiosAdapter = async (config) => {
      calls.push(config.url ?? '');
      const data = JSON.stringify({ url: config.url, call: calls.length });
      return { data, status: 200, statusText: 'OK', headers: new AxiosHeaders(), config, request: {} };
    };
    const instance = withCache(axios.create({ baseURL: 'http://api.test', adapter }), {
      store: client,
      prefix: 'svc:',
    });
    return { instance, calls };
  }

  it('caches through Redis: miss, then hit, one upstream call, with a PX expiry from ttl', async () => {
    const client = mockClient();
    const { instance, calls } = api(client);
    const miss = await instance.get('/dkim', { cache: { ttl: 30 } });
    const hit = await instance.get('/dkim');
    expect(miss.cache?.status).toBe('miss');
    expect(hit.cache?.status).toBe('hit');
    expect(hit.data).toEqual({ url: '/dkim', call: 1 });
    expect(calls).toEqual(['/dkim']);
    const key = hit.cache?.key ?? '';
    expect(key.startsWith('svc:{')).toBe(true);
    const pttl = await client.pttl(key);
    expect(pttl).toBeGreaterThan(29_000);
    expect(pttl).toBeLessThanOrEqual(30_000);
  });

  // ioredis-mock returns values from Lua through a string conversion that is not binary-safe: bytes that
  // are not valid UTF-8 come back changed. A second instance's first read goes through a script (read or
  // lease): the entry's checksum catches the change — a miss with the upstream's own bytes, never changed
  // bytes served as a hit. (Sharing an entry across instances is tested on a real Redis.)
  it('never serves bytes the store changed: a value mangled by the mock is a miss', async () => {
    const client = mockClient();
    const bytes = Buffer.from([0xff, 0x00, 0xfe, 0x80, 0x41]);
    const adapter: AxiosAdapter = async (config) => ({
      data: Buffer.from(bytes),
      status: 200,
      statusText: 'OK',
      headers: new AxiosHeaders(),
      config,
      request: {},
    });
    const instance = () =>
      withCache(axios.create({ baseURL: 'http://api.test', adapter }), { store: client, prefix: 'bin:' });
    const first = instance();
    await first.get('/bin', { responseType: 'arraybuffer' });
    expect((await first.get('/bin', { responseType: 'arraybuffer' })).cache?.status).toBe('hit'); // plain GET
    const second = instance();
    const fromScript = await second.get('/bin', { responseType: 'arraybuffer' });
    expect(fromScript.cache?.status).toBe('miss');
    expect(Buffer.from(fromScript.data).equals(bytes)).toBe(true);
    expect(getCacheStats(second).badEntries).toBeGreaterThan(0);
  });

  it('clearCache removes only keys under the prefix', async () => {
    const client = mockClient();
    const { instance, calls } = api(client);
    await instance.get('/a');
    await instance.get('/b');
    await client.set('unrelated', 'keep');
    await client.set('svc2:x', 'keep');
    expect(await clearCache(instance)).toBeGreaterThanOrEqual(2);
    expect(await client.get('unrelated')).toBe('keep');
    expect(await client.get('svc2:x')).toBe('keep');
    expect((await client.keys('svc:*')).length).toBe(0);
    expect((await instance.get('/a')).cache?.status).toBe('miss');
    expect(calls).toEqual(['/a', '/b', '/a']);
  });

  it('does not send commands while the client is not ready', async () => {
    const client = mockClient();
    const { instance, calls } = api(client);
    Object.assign(client, { status: 'reconnecting' });
    const getBuffer = vi.spyOn(client, 'getBuffer');
    const set = vi.spyOn(client, 'set');
    expect((await instance.get('/a')).cache?.status).toBe('miss');
    expect((await instance.get('/a')).cache?.status).toBe('miss');
    expect(getBuffer).not.toHaveBeenCalled();
    expect(set).not.toHaveBeenCalled();
    expect(calls).toHaveLength(2);
    expect(getCacheStats(instance).storeErrors).toBeGreaterThanOrEqual(2);
  });
});
