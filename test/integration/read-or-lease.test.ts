/**
 * The first read of a key a process has not seen folds the fill lease into it (one script call: read, and
 * only when absent take the lease), against a real redis-server and a real upstream. What the client sent
 * is counted with spies on the ioredis client, what the upstream received by the upstream itself.
 */
import axios from 'axios';
import type { Redis } from 'ioredis';
import { describe, expect, it, vi } from 'vitest';
import { evict, getCacheStats, withCache } from '../../src/index.js';
import { LEASE_ACQUIRE, LEASE_ACQUIRE_READ, READ_OR_LEASE } from '../../src/stores/redis/scripts.js';
import { useRedisAndUpstream } from '../helpers/suite.js';

const suite = useRedisAndUpstream();
const client = () => suite.client();

/** Spies on every way a read or a lease call can leave the client; `scripts()` names the scripts run. */
function watch(redis: Redis) {
  const get = vi.spyOn(redis, 'getBuffer');
  const mget = vi.spyOn(redis, 'mgetBuffer');
  const calls = redis as unknown as Record<'eval' | 'evalsha' | 'evalBuffer' | 'evalshaBuffer', () => unknown>;
  const scripted = [
    vi.spyOn(calls, 'eval'),
    vi.spyOn(calls, 'evalsha'),
    vi.spyOn(calls, 'evalBuffer'),
    vi.spyOn(calls, 'evalshaBuffer'),
  ];
  const names = new Map([
    [READ_OR_LEASE, 'read-or-lease'],
    [LEASE_ACQUIRE_READ, 'lease+read'],
    [LEASE_ACQUIRE, 'lease'],
  ]);
  const scripts = () =>
    scripted
      .flatMap((spy) =>
        spy.mock.calls.map((args, i) => ({ first: args as unknown[], order: spy.mock.invocationCallOrder[i] ?? 0 })),
      )
      .sort((a, b) => a.order - b.order)
      .map(({ first: [script] }) => {
        for (const [known, name] of names) if (script === known.source || script === known.sha) return name;
        return 'other';
      });
  const reset = () => {
    for (const spy of [get, mget, ...scripted]) spy.mockClear();
  };
  return { get, mget, scripts, reset };
}

describe('the first read of an unseen key takes the fill lease with it', () => {
  it('a miss costs one call before the upstream; then hits are plain reads; another process reads with one call too', async () => {
    const redis = await client();
    const prefix = 'rol1:';
    const api = withCache(axios.create({ baseURL: suite.upstream.url }), { store: redis, prefix });
    const spy = watch(redis);

    const miss = await api.get('/fold/a');
    expect(miss.cache?.status).toBe('miss');
    expect(spy.scripts()).toEqual(['read-or-lease', 'other']); // the read with the lease, then the write
    expect(spy.get).not.toHaveBeenCalled();
    expect(spy.mget).not.toHaveBeenCalled();
    expect(suite.upstream.calls('/fold/a')).toBe(1);

    spy.reset();
    const hit = await api.get('/fold/a');
    expect(hit.cache?.status).toBe('hit');
    expect(hit.data).toEqual(miss.data);
    expect(spy.get).toHaveBeenCalledTimes(1);
    expect(spy.scripts()).toEqual([]);

    // Another process (its own instance and connection) has not seen the key: one call, a hit, no lease.
    const otherRedis = await client();
    const other = withCache(axios.create({ baseURL: suite.upstream.url }), { store: otherRedis, prefix });
    const otherSpy = watch(otherRedis);
    const fromOther = await other.get('/fold/a');
    expect(fromOther.cache?.status).toBe('hit');
    expect(fromOther.data).toEqual(miss.data);
    expect(otherSpy.scripts()).toEqual(['read-or-lease']);
    expect(otherSpy.get).not.toHaveBeenCalled();
    expect(await redis.keys(`${prefix}*lease`)).toEqual([]);
    expect(suite.upstream.calls('/fold/a')).toBe(1);
  });

  it('reads an evicted key with a plain read, then with the lease again once it was found missing', async () => {
    const redis = await client();
    const api = withCache(axios.create({ baseURL: suite.upstream.url }), { store: redis, prefix: 'rol2:' });
    const first = await api.get('/fold/evicted');
    await redis.del(first.cache?.key as string);
    const spy = watch(redis);
    // Known to this process: the read is plain, finds nothing, and the lease is taken in a second call.
    expect((await api.get('/fold/evicted')).cache?.status).toBe('miss');
    expect(spy.get).toHaveBeenCalledTimes(1);
    expect(spy.scripts()[0]).toBe('lease+read');
    expect(suite.upstream.calls('/fold/evicted')).toBe(2);
  });

  it('after evict() through the cache, the next miss of the key is one call again', async () => {
    const redis = await client();
    const api = withCache(axios.create({ baseURL: suite.upstream.url }), { store: redis, prefix: 'rol4:' });
    await api.get('/fold/rotated');
    expect((await api.get('/fold/rotated')).cache?.status).toBe('hit');
    expect(await evict(api, '/fold/rotated')).toBe(1);
    const spy = watch(redis);
    expect((await api.get('/fold/rotated')).cache?.status).toBe('miss');
    expect(spy.scripts()).toEqual(['read-or-lease', 'other']);
    expect(spy.get).not.toHaveBeenCalled();
    expect(suite.upstream.calls('/fold/rotated')).toBe(2);
  });

  it('releases a lease that a timed-out read took late, through the write that follows the fetch', async () => {
    const redis = await client();
    const admin = await client();
    const prefix = 'rol3:';
    const api = withCache(axios.create({ baseURL: suite.upstream.url }), {
      store: redis,
      prefix,
      storeTimeout: 50,
      breaker: { failures: 100, cooldown: 100 }, // the breaker is not what this test is about
    });
    await api.get('/fold/warm-connection');
    // Redis runs nothing for 300 ms: the read-with-lease times out on our side, the request goes upstream
    // on its own; Redis then runs the read (taking the lease for our token) and our write (releasing it).
    await admin.call('CLIENT', 'PAUSE', '300', 'ALL');
    const response = await api.get('/fold/paused');
    expect(response.data.path).toBe('/fold/paused');
    expect(suite.upstream.calls('/fold/paused')).toBe(1);
    expect(getCacheStats(api).storeTimeouts).toBeGreaterThanOrEqual(1);
    await vi.waitFor(
      async () => {
        expect(await admin.exists(response.cache?.key as string)).toBe(1);
      },
      { timeout: 2000, interval: 25 },
    );
    expect(await admin.keys(`${prefix}*lease`)).toEqual([]);
    const again = await api.get('/fold/paused');
    expect(again.cache?.status).toBe('hit');
    expect(suite.upstream.calls('/fold/paused')).toBe(1);
  });
});
