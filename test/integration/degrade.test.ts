import axios, { type AxiosResponse } from 'axios';
import { Redis, type RedisOptions } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  type CacheError,
  CacheStoreError,
  clearCache,
  evict,
  evictTags,
  getCacheStats,
  type RedisClient,
  RedisStore,
  withCache,
} from '../../src/index.js';
import { closeClients, LIBRARY, type StoreClientOptions, storeClient } from '../helpers/clients.js';
import { freePort, type RedisServer, ready, startRedis } from '../helpers/redis-server.js';
import { startTcpProxy, type TcpProxy } from '../helpers/tcp-proxy.js';
import { echoJson, startUpstream, type Upstream } from '../helpers/upstream.js';

/**
 * A sick Redis, a misconfigured one, a connection that goes silent: no request fails, nothing piles up,
 * and the cache comes back by itself. Private redis-server processes and a TCP proxy; the upstream counts
 * what it receives.
 */
let upstream: Upstream;
let prefixes = 0;
const clients: Redis[] = [];
const servers: RedisServer[] = [];

beforeAll(async () => {
  upstream = await startUpstream();
});
afterAll(async () => {
  await upstream?.close();
});
afterEach(async () => {
  for (const client of clients.splice(0)) client.disconnect();
  await closeClients();
  for (const server of servers.splice(0)) await server.stop();
  upstream.handle(echoJson);
});

async function server(args: string[] = []): Promise<RedisServer> {
  const started = await startRedis(args);
  servers.push(started);
  return started;
}

async function client(port: number, options: RedisOptions = {}): Promise<Redis> {
  const redis = new Redis({ port, host: '127.0.0.1', maxRetriesPerRequest: 1, ...options });
  redis.on('error', () => {});
  clients.push(redis);
  if (!options.lazyConnect) await ready(redis);
  return redis;
}

/** A store client of the run's library (ioredis or node-redis), connected. */
async function storeOf(port: number, options: StoreClientOptions = {}): Promise<RedisClient> {
  return (await storeClient(port, options)).store;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** `n` requests at once; every one must succeed. */
async function burst(api: ReturnType<typeof withCache>, paths: string[]): Promise<AxiosResponse[]> {
  return Promise.all(paths.map((path) => api.get(path)));
}

describe('a connection that goes silent (half-open)', () => {
  let proxy: TcpProxy;
  let redis: RedisServer;
  beforeAll(async () => {
    redis = await startRedis();
    proxy = await startTcpProxy(redis.port);
  });
  afterAll(async () => {
    await proxy?.close();
    await redis?.stop();
  });

  it.each<[string, { breaker?: false }]>([
    ['with the breaker', {}],
    ['without the breaker', { breaker: false }],
  ])('is replaced, %s: no request fails, hits come back by themselves', async (_, extra) => {
    const store = await storeOf(proxy.port);
    const errors: CacheError[] = [];
    const api = withCache(axios.create({ baseURL: upstream.url }), {
      store,
      prefix: `silent${++prefixes}:`,
      onError: (error) => errors.push(error),
      ...extra,
    });
    const paths = Array.from({ length: 16 }, (_, i) => `/silent/${prefixes}/${i}`);
    await burst(api, paths);
    expect((await burst(api, paths)).every((r) => r.cache?.status === 'hit')).toBe(true);

    proxy.stall(); // the connection in use goes silent: no FIN, no RST
    const stalledAt = Date.now();
    let failed = 0;
    let firstHitAfter = -1;
    let requests = 0;
    while (Date.now() - stalledAt < 4000 && firstHitAfter < 0) {
      const answers = await Promise.all(paths.map((path) => api.get(path).catch(() => null)));
      requests += answers.length;
      failed += answers.filter((a) => a === null).length;
      if (answers.some((a) => a?.cache?.status === 'hit')) firstHitAfter = Date.now() - stalledAt;
      await sleep(20);
    }
    console.log(
      `[degrade] half-open connection ${JSON.stringify(extra)}: ${requests} requests, ${failed} failed, ` +
        `hits again ${firstHitAfter} ms after the connection went silent, reconnects ${getCacheStats(api).distrusts}`,
    );
    expect(failed).toBe(0);
    expect(firstHitAfter).toBeGreaterThan(0);
    expect(getCacheStats(api).distrusts).toBeGreaterThan(0);
    expect(errors.some((e) => /no reply for/.test(e.message))).toBe(true);
  });
});

describe('leases after a stall', () => {
  it('leaves no lease behind when Redis pauses while misses take their leases', async () => {
    const redis = await server();
    const store = await storeOf(redis.port);
    const admin = await client(redis.port);
    const api = withCache(axios.create({ baseURL: upstream.url }), { store, prefix: 'paused:' });
    await api.get('/warm-up');
    await admin.call('CLIENT', 'PAUSE', '1000', 'ALL');
    const pausedAt = Date.now();
    const answers = await Promise.all(Array.from({ length: 8 }, (_, i) => api.get(`/cold/${i}`).catch(() => null)));
    expect(answers.every((a) => a !== null)).toBe(true);
    // After the pause, the late lease calls run, and so do their releases: nothing is left to stall the fleet.
    await sleep(Math.max(0, 1000 - (Date.now() - pausedAt)) + 300);
    const leases = await admin.keys('paused:*lease');
    console.log(`[degrade] CLIENT PAUSE 1 s during 8 cold misses: ${leases.length} leases left 300 ms after it ended`);
    expect(leases).toEqual([]);
  });
});

describe('writes refused, reads fine', () => {
  async function warmedBy(port: number, prefix: string, paths: string[]): Promise<void> {
    const writer = withCache(axios.create({ baseURL: upstream.url }), { store: await storeOf(port), prefix });
    await burst(writer, paths);
    await sleep(50); // the writes the answers did not wait for
  }

  it('maxmemory reached with noeviction (writes fail with OOM): hits go on, no breaker on reads', async () => {
    const redis = await server(['--maxmemory', '2mb', '--maxmemory-policy', 'noeviction']);
    const paths = Array.from({ length: 20 }, (_, i) => `/oom/${i}`);
    await warmedBy(redis.port, 'oom:', paths);
    const filler = await client(redis.port);
    for (let i = 0; i < 100; i++) await filler.set(`fill:${i}`, 'x'.repeat(100_000)).catch(() => {});
    const api = withCache(axios.create({ baseURL: upstream.url }), {
      store: await storeOf(redis.port),
      prefix: 'oom:',
    });
    const before = upstream.received.length;
    for (let round = 0; round < 5; round++) {
      await burst(api, [...paths, `/oom/cold/${round}`]);
    }
    const stats = getCacheStats(api);
    console.log(
      `[degrade] OOM: ${stats.hits} hits of ${5 * 21} requests, upstream calls ${upstream.received.length - before}, ` +
        `read breaker ${stats.breaker}, write breaker ${stats.writeBreaker}`,
    );
    expect(stats.hits).toBe(5 * 20);
    expect(stats.breaker).toBe('closed');
    expect(upstream.received.length - before).toBe(5);
  });

  it('a read-only replica: hits from what was replicated, writes not tried again at once', async () => {
    const primary = await server(['--repl-diskless-sync-delay', '0']);
    const replica = await server(['--replicaof', '127.0.0.1', String(primary.port)]);
    const paths = Array.from({ length: 10 }, (_, i) => `/ro/${i}`);
    await warmedBy(primary.port, 'ro:', paths);
    const admin = await client(replica.port);
    // Each entry, replicated (the plain variant of a request needs no variants index).
    for (let i = 0; i < 250 && (await admin.dbsize()) < 10; i++) await sleep(20);
    expect(await admin.dbsize()).toBeGreaterThanOrEqual(10);
    const errors: CacheError[] = [];
    const api = withCache(axios.create({ baseURL: upstream.url }), {
      store: await storeOf(replica.port),
      prefix: 'ro:',
      onError: (error) => errors.push(error),
    });
    for (let round = 0; round < 5; round++) await burst(api, [...paths, `/ro/cold/${round}`]);
    const stats = getCacheStats(api);
    const readOnly = errors.filter((e) => /READONLY/.test(String((e.cause as Error | undefined)?.message)));
    console.log(
      `[degrade] read-only replica: ${stats.hits} hits of ${5 * 11}, READONLY errors reported ${readOnly.length}`,
    );
    expect(stats.hits).toBe(5 * 10);
    expect(stats.breaker).toBe('closed');
    expect(readOnly.length).toBeGreaterThan(0);
    expect(readOnly.length).toBe(1); // learnt once, reported once, not tried on every miss
  });

  it('an ACL user without EVAL and PUBLISH: plain GET/SET, no fleet lease, reported, and it still caches', async () => {
    const redis = await server();
    const admin = await client(redis.port);
    await admin.call('ACL', 'SETUSER', 'app', 'on', '>secret', '~*', '&*', '+@all', '-@scripting', '-publish');
    const errors: CacheError[] = [];
    const api = withCache(axios.create({ baseURL: upstream.url }), {
      store: await storeOf(redis.port, { username: 'app', password: 'secret' }),
      prefix: 'acl:',
      onError: (error) => errors.push(error),
    });
    const paths = Array.from({ length: 10 }, (_, i) => `/acl/${i}`);
    for (let round = 0; round < 4; round++) await burst(api, paths);
    await sleep(50);
    const stats = getCacheStats(api);
    const noperm = errors.filter((e) => /NOPERM/.test(String((e.cause as Error | undefined)?.message)));
    console.log(`[degrade] ACL without scripting: ${stats.hits} hits of 40, NOPERM reported ${noperm.length} time(s)`);
    expect(stats.hits).toBeGreaterThanOrEqual(20);
    expect((await burst(api, paths)).every((r) => r.cache?.status === 'hit')).toBe(true);
    expect(noperm.length).toBeGreaterThan(0);
    expect(noperm.length).toBeLessThanOrEqual(2); // EVAL and PUBLISH, once each
    expect(stats.breaker).toBe('closed');
  });
});

describe('start-up', () => {
  it.skipIf(LIBRARY !== 'ioredis')(
    'a lazyConnect client is connected on first use, and the cache is used',
    async () => {
      const redis = await server();
      const lazy = await client(redis.port, { lazyConnect: true });
      const api = withCache(axios.create({ baseURL: upstream.url }), { store: lazy, prefix: 'lazy:' });
      await api.get('/lazy');
      const hit = await api.get('/lazy');
      expect(lazy.status).toBe('ready');
      expect(hit.cache?.status).toBe('hit');
    },
  );

  it('a client still connecting is waited for (within the budget), not skipped', async () => {
    const redis = await server();
    // ioredis connects by itself; node-redis is connected by its owner, as the seed articles do: right
    // after withCache, not awaited before the first request.
    const connecting = await storeClient(redis.port, { notConnected: true, ioredis: { lazyConnect: false } });
    const api = withCache(axios.create({ baseURL: upstream.url }), {
      store: connecting.store,
      prefix: 'starting:',
      storeTimeout: 500,
    });
    if (LIBRARY === 'node-redis') void (connecting.store as unknown as { connect(): Promise<unknown> }).connect();
    expect(connecting.ready()).toBe(false);
    const first = await api.get('/starting');
    expect(first.cache?.status).toBe('miss');
    expect(getCacheStats(api).storeErrors).toBe(0);
    expect((await api.get('/starting')).cache?.status).toBe('hit');
  });

  it.skipIf(LIBRARY !== 'node-redis')(
    'a node-redis client its owner never connects is never connected by the cache',
    async () => {
      const redis = await server();
      const unconnected = await storeClient(redis.port, { notConnected: true });
      const api = withCache(axios.create({ baseURL: upstream.url }), { store: unconnected.store, prefix: 'never:' });
      for (let i = 0; i < 3; i++) expect((await api.get('/never')).status).toBe(200);
      expect((unconnected.store as unknown as { isOpen: boolean }).isOpen).toBe(false);
      expect(unconnected.connects()).toBe(0);
    },
  );
});

describe('a first connection that fails', () => {
  it('settles what waits for the start, so nothing stays pending; then fails fast', async () => {
    const port = await freePort(); // nothing listens there
    const failing = await storeClient(port, {
      notConnected: true,
      ioredis: { lazyConnect: false, retryStrategy: () => 1000 },
    });
    if (LIBRARY === 'node-redis') {
      (failing.store as unknown as { connect(): Promise<unknown> }).connect().catch(() => {});
    }
    const store = new RedisStore(failing.store);
    const starting = store.whenStarted();
    expect(starting).not.toBeNull();
    const outcome = await Promise.race([
      (starting as Promise<void>).then(() => 'settled'),
      sleep(2000).then(() => 'still pending'),
    ]);
    expect(outcome).toBe('settled');
    for (let i = 0; i < 100 && store.whenStarted() !== null; i++) await sleep(5);
    expect(store.whenStarted()).toBeNull(); // failed once: calls fail at once instead of waiting
    const api = withCache(axios.create({ baseURL: upstream.url }), { store, prefix: 'refused:' });
    const before = upstream.received.length;
    expect((await api.get('/refused')).status).toBe(200);
    expect(upstream.received.length - before).toBe(1);
  });
});

describe('eviction against a sick store', () => {
  it('rejects within evictTimeout with CacheStoreError when Redis is gone, never a raw client error', async () => {
    const redis = await server();
    const store = await storeOf(redis.port, { ioredis: { maxRetriesPerRequest: 20 } });
    const api = withCache(axios.create({ baseURL: upstream.url }), { store, prefix: 'gone:', evictTimeout: 300 });
    await api.get('/gone');
    await redis.kill();
    for (const run of [() => evict(api, '/gone'), () => evictTags(api, ['t']), () => clearCache(api)]) {
      const started = Date.now();
      const error = await run().then(
        () => null,
        (e: unknown) => e,
      );
      const took = Date.now() - started;
      expect(error).toBeInstanceOf(CacheStoreError);
      expect(took).toBeLessThan(2000);
    }
  });

  it('a key of the wrong type is a CacheStoreError with the cause attached', async () => {
    const redis = await server();
    const store = await storeOf(redis.port);
    const admin = await client(redis.port);
    const api = withCache(axios.create({ baseURL: upstream.url }), { store, prefix: 'wrongtype:' });
    const { cache } = await api.get('/typed', { cache: { tags: ['t'] } });
    await sleep(20);
    const tagIndex = (await admin.keys('wrongtype:tag:*'))[0] as string;
    await admin.del(tagIndex);
    await admin.set(tagIndex, 'not a sorted set');
    const error = await evictTags(api, ['t']).then(
      () => null,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(CacheStoreError);
    expect(String((error as CacheStoreError).cause)).toMatch(/WRONGTYPE/);
    expect(cache?.key).toBeTruthy();
  });
});

describe('recovery', () => {
  it('hits come back within one probe after a pause ends, not a fixed cooldown', async () => {
    const redis = await server();
    const store = await storeOf(redis.port);
    const admin = await client(redis.port);
    const api = withCache(axios.create({ baseURL: upstream.url }), { store, prefix: 'recover:' });
    const paths = Array.from({ length: 8 }, (_, i) => `/recover/${i}`);
    await burst(api, paths);
    await admin.call('CLIENT', 'PAUSE', '600', 'ALL');
    const pausedAt = Date.now();
    while (Date.now() - pausedAt < 550) await burst(api, paths); // the breaker opens
    expect(getCacheStats(api).breaker).not.toBe('closed');
    let back = -1;
    while (back < 0 && Date.now() - pausedAt < 5000) {
      const answers = await burst(api, paths);
      if (answers.some((a) => a.cache?.status === 'hit')) back = Date.now() - pausedAt - 600;
      await sleep(10);
    }
    console.log(`[degrade] CLIENT PAUSE 600 ms: hits again ${back} ms after it ended`);
    expect(back).toBeGreaterThanOrEqual(0);
    expect(back).toBeLessThan(1000);
  });
});

describe('the time a stalled Redis can add, whatever the CPU load', () => {
  it('bounds each store call at 4 × storeTimeout of wall-clock time with the event loop 90% busy', async () => {
    const redis = await server();
    const store = await storeOf(redis.port);
    const admin = await client(redis.port);
    const api = withCache(axios.create({ baseURL: upstream.url }), { store, prefix: 'busy:' });
    const paths = Array.from({ length: 8 }, (_, i) => `/busy/${i}`);
    for (const path of paths) await api.get(path);
    await admin.call('CLIENT', 'PAUSE', '3000', 'ALL');
    // 45 ms of work in every 50 ms: the loop is idle 10% of the time.
    const burner = setInterval(() => {
      const until = performance.now() + 45;
      while (performance.now() < until) {}
    }, 50);
    const latencies: number[] = [];
    try {
      for (const path of paths) {
        const started = performance.now();
        const response = await api.get(path);
        latencies.push(performance.now() - started);
        expect(response.status).toBe(200);
      }
    } finally {
      clearInterval(burner);
    }
    const max = Math.max(...latencies);
    console.log(
      `[degrade] Redis paused, loop 90% busy: request latencies ${latencies.map((ms) => ms.toFixed(0)).join(', ')} ms`,
    );
    // One store call on a warm key (the read), at most 200 ms each, plus the upstream call and the busy
    // loop's own delays; before the bound, a call could wait 40 × storeTimeout (2 s).
    expect(max).toBeLessThan(1000);
  });
});

describe('announcements', () => {
  async function publishes(admin: Redis): Promise<number> {
    const stats = String(await admin.info('commandstats'));
    return Number(/cmdstat_publish:calls=(\d+)/.exec(stats)?.[1] ?? 0);
  }

  it('are not published while no process listens (no l1 anywhere), and are again once one does', async () => {
    const redis = await server();
    const admin = await client(redis.port);
    const api = withCache(axios.create({ baseURL: upstream.url }), {
      store: await storeOf(redis.port),
      prefix: 'pub:',
    });
    for (let i = 0; i < 20; i++) await api.get(`/pub/a/${i}`);
    await sleep(20);
    const unheard = await publishes(admin);
    expect(unheard).toBeLessThanOrEqual(1);
    // A process with an in-process layer subscribes; once the quiet second has passed, every write announces.
    const listener = withCache(axios.create({ baseURL: upstream.url }), {
      store: await storeOf(redis.port),
      prefix: 'pub:',
      l1: {},
    });
    await sleep(1100);
    for (let i = 0; i < 10; i++) await api.get(`/pub/b/${i}`);
    await sleep(20);
    const heard = (await publishes(admin)) - unheard;
    console.log(
      `[degrade] announcements: ${unheard} for 20 writes nobody listened to, ${heard} for 10 writes with a listener`,
    );
    expect(heard).toBeGreaterThanOrEqual(10);
    await (await import('../../src/index.js')).closeCache(listener);
  });
});
