/**
 * The first read of a key a process has not seen folds the fill lease into it (one script call: read, and
 * only when absent take the lease), against a real redis-server and a real upstream. What the client sent
 * is counted with spies on the ioredis client, what the upstream received by the upstream itself.
 */
import axios from 'axios';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { evict, getCacheStats, type RedisClient, withCache } from '../../src/index.js';
import { LEASE_ACQUIRE, LEASE_ACQUIRE_READ, READ_OR_LEASE } from '../../src/stores/redis/scripts.js';
import { synced } from '../helpers/clients.js';
import { type CommandLog, monitor } from '../helpers/monitor.js';
import { useRedisAndUpstream } from '../helpers/suite.js';

const suite = useRedisAndUpstream();

const names = new Map([
  [READ_OR_LEASE, 'read-or-lease'],
  [LEASE_ACQUIRE_READ, 'lease+read'],
  [LEASE_ACQUIRE, 'lease'],
]);

/**
 * What the server executed for the cache (MONITOR: either client library): `scripts()` names the scripts
 * run, `gets()` / `mgets()` count the plain reads. Call `settled()` after the requests and before looking.
 */
async function watch(store: RedisClient) {
  const log = await monitor(suite.server.port);
  logs.push(log);
  const of = (name: string) => log.commands().filter(([command]) => command === name);
  return {
    settled: () => log.flush(store),
    gets: () => of('GET').length,
    mgets: () => of('MGET').length,
    scripts: () =>
      log
        .commands()
        .filter(([command]) => command === 'EVAL' || command === 'EVALSHA')
        .map(([, script]) => {
          for (const [known, name] of names) if (script === known.source || script === known.sha) return name;
          return 'other';
        }),
    reset: () => log.clear(),
  };
}

const logs: CommandLog[] = [];
afterAll(async () => {
  for (const log of logs) await log.stop();
});

describe('the first read of an unseen key takes the fill lease with it', () => {
  it('a miss costs one call before the upstream; then hits are plain reads; another process reads with one call too', async () => {
    const redis = await suite.client();
    const prefix = 'rol1:';
    const store = await suite.store();
    const api = withCache(axios.create({ baseURL: suite.upstream.url }), { store, prefix });
    const spy = await watch(store);

    const miss = await api.get('/fold/a');
    expect(miss.cache?.status).toBe('miss');
    await spy.settled();
    expect(spy.scripts()).toEqual(['read-or-lease', 'other']); // the read with the lease, then the write
    expect(spy.gets()).toBe(0);
    expect(spy.mgets()).toBe(0);
    expect(suite.upstream.calls('/fold/a')).toBe(1);

    spy.reset();
    const hit = await api.get('/fold/a');
    expect(hit.cache?.status).toBe('hit');
    expect(hit.data).toEqual(miss.data);
    await spy.settled();
    expect(spy.gets()).toBe(1);
    expect(spy.scripts()).toEqual([]);

    // Another process (its own instance and connection) has not seen the key: one call, a hit, no lease.
    const otherStore = await suite.store();
    const other = withCache(axios.create({ baseURL: suite.upstream.url }), { store: otherStore, prefix });
    const otherSpy = await watch(otherStore);
    const fromOther = await other.get('/fold/a');
    expect(fromOther.cache?.status).toBe('hit');
    expect(fromOther.data).toEqual(miss.data);
    await otherSpy.settled();
    expect(otherSpy.scripts()).toEqual(['read-or-lease']);
    expect(otherSpy.gets()).toBe(0);
    expect(await redis.keys(`${prefix}*lease`)).toEqual([]);
    expect(suite.upstream.calls('/fold/a')).toBe(1);
  });

  it('reads an evicted key with a plain read, then with the lease again once it was found missing', async () => {
    const redis = await suite.client();
    const store = await suite.store();
    const api = withCache(axios.create({ baseURL: suite.upstream.url }), { store, prefix: 'rol2:' });
    const first = await api.get('/fold/evicted');
    await synced(store);
    await redis.del(first.cache?.key as string);
    const spy = await watch(store);
    // Known to this process: the read is plain, finds nothing, and the lease is taken in a second call.
    expect((await api.get('/fold/evicted')).cache?.status).toBe('miss');
    await spy.settled();
    expect(spy.gets()).toBe(1);
    expect(spy.scripts()[0]).toBe('lease+read');
    expect(suite.upstream.calls('/fold/evicted')).toBe(2);
  });

  it('after evict() through the cache, the next miss of the key is one call again', async () => {
    const store = await suite.store();
    const api = withCache(axios.create({ baseURL: suite.upstream.url }), { store, prefix: 'rol4:' });
    await api.get('/fold/rotated');
    expect((await api.get('/fold/rotated')).cache?.status).toBe('hit');
    expect(await evict(api, '/fold/rotated')).toBe(1);
    const spy = await watch(store);
    expect((await api.get('/fold/rotated')).cache?.status).toBe('miss');
    await spy.settled();
    expect(spy.scripts()).toEqual(['read-or-lease', 'other']);
    expect(spy.gets()).toBe(0);
    expect(suite.upstream.calls('/fold/rotated')).toBe(2);
  });

  it('releases a lease that a timed-out read took late, through the write that follows the fetch', async () => {
    const admin = await suite.client();
    const prefix = 'rol3:';
    const api = withCache(axios.create({ baseURL: suite.upstream.url }), {
      store: await suite.store(),
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
