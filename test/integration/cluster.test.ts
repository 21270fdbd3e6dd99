import axios from 'axios';
import type { Cluster, Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cacheStateOf } from '../../src/api/with-cache.js';
import { clearCache, evict, evictTags, getCacheStats, type RedisClient, withCache } from '../../src/index.js';
import { slotOf } from '../../src/stores/redis/slots.js';
import { closeClients, storeCluster } from '../helpers/clients.js';
import { startCluster, type TestCluster } from '../helpers/topologies.js';
import { echoJson, startUpstream, type Upstream } from '../helpers/upstream.js';

let cluster: TestCluster;
/** The cache's client: a Cluster client of the run's library. */
let client: RedisClient;
/** The test's own (ioredis) Cluster client. */
let admin: Cluster;
let nodes: Redis[];
let upstream: Upstream;

beforeAll(async () => {
  cluster = await startCluster(3);
  admin = cluster.client();
  admin.on('error', () => {}); // one master is killed by the last test
  client = (await storeCluster(cluster.ports)).store;
  nodes = cluster.ports.map((port) => cluster.node(port));
  for (const node of nodes) node.on('error', () => {});
  // The admin client may be ready before this line is reached (storeCluster waits for its own client).
  if (admin.status !== 'ready') await new Promise<void>((resolve) => admin.once('ready', () => resolve()));
  upstream = await startUpstream();
}, 60_000);

afterAll(async () => {
  admin.disconnect();
  await closeClients();
  for (const n of nodes) n.disconnect();
  await upstream.close();
  await cluster.stop();
});

async function keysPerMaster(pattern: string): Promise<number[]> {
  return Promise.all(
    nodes.map(async (node) => {
      let cursor = '0';
      let count = 0;
      do {
        const [next, keys] = await node.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
        cursor = next;
        count += keys.length;
      } while (cursor !== '0');
      return count;
    }),
  );
}

describe('Redis Cluster (3 masters) as the store', () => {
  it('caches, spreads entries over every master, and evicts across them', async () => {
    const api = withCache(axios.create({ baseURL: upstream.url }), { store: client, prefix: 'c1:' });
    for (let i = 0; i < 60; i++) await api.get(`/item/${i}`, { cache: { tags: [i % 2 ? 'odd' : 'even'] } });
    for (let i = 0; i < 60; i++) expect((await api.get(`/item/${i}`)).cache?.status).toBe('hit');
    expect(upstream.calls('/item/')).toBe(60);
    // Concurrent hits on keys of different slots: read key by key (an MGET across slots would be refused).
    const concurrent = await Promise.all(Array.from({ length: 20 }, (_, i) => api.get(`/item/${i}`)));
    expect(concurrent.map((r) => r.cache?.status)).toEqual(concurrent.map(() => 'hit'));
    expect(concurrent.map((r) => r.data.path)).toEqual(concurrent.map((_, i) => `/item/${i}`));
    expect(upstream.calls('/item/')).toBe(60);
    expect(getCacheStats(api).storeErrors).toBe(0);
    const spread = await keysPerMaster('c1:{*}:*:GET *');
    expect(spread.reduce((a, b) => a + b, 0)).toBe(60);
    for (const count of spread) expect(count).toBeGreaterThan(0);

    expect(await evictTags(api, ['odd'])).toBe(30);
    expect((await api.get('/item/1')).cache?.status).toBe('miss');
    expect((await api.get('/item/2')).cache?.status).toBe('hit');
    expect(await evict(api, '/item/2')).toBe(1);
    expect(await evict(api, '/item/1*')).toBeGreaterThanOrEqual(1); // /item/1, /item/10…/item/19 still cached
  });

  it('clearCache removes every key of the prefix on every master, and nothing else', async () => {
    const api = withCache(axios.create({ baseURL: upstream.url }), { store: client, prefix: 'c2:' });
    for (let i = 0; i < 30; i++) await api.get(`/clear/${i}`, { cache: { tags: ['t'] } });
    for (let i = 0; i < 10; i++) await admin.set(`foreign:{${i}}`, 'keep');
    expect((await keysPerMaster('c2:*')).every((n) => n > 0)).toBe(true);
    const removed = await clearCache(api);
    expect(removed).toBeGreaterThanOrEqual(30);
    expect(await keysPerMaster('c2:*')).toEqual([0, 0, 0]);
    expect((await keysPerMaster('foreign:*')).reduce((a, b) => a + b, 0)).toBe(10);
  });

  it('soft evictions mark entries on every master: answered stale, refreshed once each, then fresh', async () => {
    const api = withCache(axios.create({ baseURL: upstream.url }), { store: client, prefix: 'c5:', fleetStats: false });
    for (let i = 0; i < 30; i++) await api.get(`/soft/${i}`, { cache: { tags: ['s'] } });
    expect(await evictTags(api, ['s'], { soft: true })).toBe(30);
    const stale = await Promise.all(Array.from({ length: 30 }, (_, i) => api.get(`/soft/${i}`)));
    expect(stale.every((r) => r.cache?.status === 'stale' && r.cache.reason === 'soft-evicted')).toBe(true);
    await new Promise((resolve) => setTimeout(resolve, 200));
    const fresh = await Promise.all(Array.from({ length: 30 }, (_, i) => api.get(`/soft/${i}`)));
    expect(fresh.every((r) => r.cache?.status === 'hit')).toBe(true);
    expect(upstream.calls('/soft/')).toBe(60); // the fills, and one refresh each
    expect(await evict(api, '/soft/1*', { soft: true })).toBe(11);
    expect(await clearCache(api, { soft: true })).toBe(30);
    expect((await api.get('/soft/7')).cache?.reason).toBe('soft-evicted');
  });

  it('makes one upstream call for 50 concurrent cold GETs, with the lease on the cluster', async () => {
    upstream.handle((req, res, n) => void setTimeout(() => echoJson(req, res, n), 50));
    // Two instances stand for two processes: each has its own in-process flight, so only the lease in
    // Redis can make them share one upstream call.
    const a = withCache(axios.create({ baseURL: upstream.url }), { store: client, prefix: 'c3:' });
    const b = withCache(axios.create({ baseURL: upstream.url }), { store: client, prefix: 'c3:' });
    const results = await Promise.all(Array.from({ length: 50 }, (_, i) => (i % 2 ? a : b).get('/herd')));
    expect(upstream.calls('/herd')).toBe(1);
    expect(results.filter((r) => r.cache?.status === 'miss')).toHaveLength(1);
    upstream.handle(echoJson);
  });

  it('a waiting instance on another client is woken by the write: sharded pub/sub on the slot’s master', async () => {
    // 200 ms: shorter than the holder's first lease renewal (a third of lockTtl), longer than the wait.
    upstream.handle((req, res, n) => void setTimeout(() => echoJson(req, res, n), 200));
    try {
      // A second client of the run's library stands for a second process (its own subscriptions).
      const other = (await storeCluster(cluster.ports)).store;
      const a = withCache(axios.create({ baseURL: upstream.url }), { store: client, prefix: 'c4:', fleetStats: false });
      const b = withCache(axios.create({ baseURL: upstream.url }), { store: other, prefix: 'c4:', fleetStats: false });
      await Promise.all(nodes.map((node) => node.config('RESETSTAT')));
      const first = a.get('/wake');
      await new Promise((resolve) => setTimeout(resolve, 50));
      const second = b.get('/wake');
      const [ra, rb] = await Promise.all([first, second]);
      expect([ra.cache?.status, rb.cache?.status]).toEqual(['miss', 'coalesced']);
      expect(rb.data).toEqual(ra.data);
      expect(upstream.calls('/wake')).toBe(1);
      const stats = await Promise.all(nodes.map((node) => node.info('commandstats')));
      const stat = (name: string, field: string) =>
        stats.reduce(
          (sum, info) => sum + Number(new RegExp(`cmdstat_${name}:.*\\b${field}=(\\d+)`).exec(info)?.[1] ?? 0),
          0,
        );
      const calls = (name: string) => stat(name, 'calls');
      // Scripts that ran (an EVALSHA answered NOSCRIPT — a master that had not seen the script yet — is
      // sent again as EVAL: counted once).
      const scripts = calls('evalsha') + calls('eval') - stat('evalsha', 'failed_calls');
      console.log(
        `[cluster] waiter woken by the write: ssubscribe ${calls('ssubscribe')}, spublish ${calls('spublish')}, publish ${calls('publish')}, scripts ${scripts}`,
      );
      // Subscribed to the lease's sharded channel and told by the holder's write on its slot's master — no
      // cluster-wide PUBLISH for it — and no polling: a's two scripts, b's read-or-lease and its look after
      // subscribing (one more, should a slow fallback look come first on a loaded host).
      expect(calls('ssubscribe')).toBe(1);
      expect(calls('spublish')).toBe(1);
      expect(scripts).toBeLessThanOrEqual(5);
    } finally {
      upstream.handle(echoJson);
    }
  });

  // Last: it kills a master of the suite's cluster.
  it('one of 3 masters SIGKILLed under load: the keys on the live masters keep hitting (breakers per node)', async () => {
    const api = withCache(axios.create({ baseURL: upstream.url }), { store: client, prefix: 'c9:', fleetStats: false });
    const paths = Array.from({ length: 96 }, (_, i) => `/per-node/${i}`);
    const keyOf = new Map<string, string>();
    for (const path of paths) keyOf.set(path, (await api.get(path)).cache?.key as string);
    const victim = cluster.ports[0] as number;
    const onVictim = (path: string) => admin.slots[slotOf(keyOf.get(path) as string)]?.[0] === `127.0.0.1:${victim}`;
    const live = paths.filter((p) => !onVictim(p));
    expect(live.length).toBeGreaterThan(30);
    expect(live.length).toBeLessThan(paths.length);
    let running = true;
    let n = 0;
    const tally = { liveHits: 0, liveRequests: 0, failed: 0 };
    const worker = async () => {
      while (running) {
        const path = paths[n++ % paths.length] as string;
        try {
          const response = await api.get(path);
          if (!onVictim(path)) {
            tally.liveRequests++;
            if (response.cache?.status === 'hit') tally.liveHits++;
          }
        } catch {
          tally.failed++;
        }
      }
    };
    const workers = Array.from({ length: 64 }, worker);
    await new Promise((resolve) => setTimeout(resolve, 300));
    cluster.kill(victim);
    const before = { ...tally };
    await new Promise((resolve) => setTimeout(resolve, 3000));
    running = false;
    await Promise.all(workers);
    const liveRequests = tally.liveRequests - before.liveRequests;
    const liveHits = tally.liveHits - before.liveHits;
    console.log(
      `[cluster] one master killed: ${liveHits} of ${liveRequests} requests for live masters' keys were hits ` +
        `(${((100 * liveHits) / liveRequests).toFixed(1)}%), ${tally.failed} failed; read breaker ${getCacheStats(api).breaker} ${JSON.stringify(cacheStateOf(api).guard.openNodes('reads'))}`,
    );
    expect(tally.failed).toBe(0);
    expect(liveHits / liveRequests).toBeGreaterThanOrEqual(0.9);
  });
});
