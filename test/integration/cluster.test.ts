import axios from 'axios';
import type { Cluster, Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { clearCache, evict, evictTags, getCacheStats, withCache } from '../../src/index.js';
import { startCluster, type TestCluster } from '../helpers/topologies.js';
import { echoJson, startUpstream, type Upstream } from '../helpers/upstream.js';

let cluster: TestCluster;
let client: Cluster;
let nodes: Redis[];
let upstream: Upstream;

beforeAll(async () => {
  cluster = await startCluster(3);
  client = cluster.client();
  nodes = cluster.ports.map((port) => cluster.node(port));
  await new Promise<void>((resolve) => client.once('ready', () => resolve()));
  upstream = await startUpstream();
}, 60_000);

afterAll(async () => {
  client.disconnect();
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
    const mget = vi.spyOn(client, 'mgetBuffer');
    const concurrent = await Promise.all(Array.from({ length: 20 }, (_, i) => api.get(`/item/${i}`)));
    expect(concurrent.map((r) => r.cache?.status)).toEqual(concurrent.map(() => 'hit'));
    expect(concurrent.map((r) => r.data.path)).toEqual(concurrent.map((_, i) => `/item/${i}`));
    expect(mget).not.toHaveBeenCalled();
    mget.mockRestore();
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
    for (let i = 0; i < 10; i++) await client.set(`foreign:{${i}}`, 'keep');
    expect((await keysPerMaster('c2:*')).every((n) => n > 0)).toBe(true);
    const removed = await clearCache(api);
    expect(removed).toBeGreaterThanOrEqual(30);
    expect(await keysPerMaster('c2:*')).toEqual([0, 0, 0]);
    expect((await keysPerMaster('foreign:*')).reduce((a, b) => a + b, 0)).toBe(10);
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
});
