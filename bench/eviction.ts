/**
 * Eviction at scale: `evictTags` over 10,000 tagged entries and `clearCache` over 100,000 keys, hard
 * (deleted) and soft (marked stale), on a single redis-server and on a 3-master Redis Cluster, each started
 * here on free ports. (Under load, soft against hard: `bench/soft-eviction.ts`.)
 *
 *   node --import tsx bench/eviction.ts            (writes bench/eviction-results.json)
 */
import { writeFileSync } from 'node:fs';
import axios from 'axios';
import type { Cluster, Redis } from 'ioredis';
import { encodeEntry, TTL_POLICY } from '../src/entries/entry.js';
import { requestKeys, tagIndexKey } from '../src/entries/key.js';
import { NO_VARY } from '../src/entries/vary.js';
import { clearCache, evictTags, RedisStore, withCache } from '../src/index.js';
import { ready, startRedis } from '../test/helpers/redis-server.js';
import { startCluster } from '../test/helpers/topologies.js';

const TAGGED = 10_000;
const CLEAR_KEYS = 100_000; // each entry is 2 keys: the entry and its variants index

interface Row {
  topology: string;
  operation: string;
  keys: number;
  removed: number;
  ms: number;
}

async function fill(client: Redis | Cluster, prefix: string, entries: number, tag?: string): Promise<void> {
  const store = new RedisStore(client);
  const entry = {
    status: 200,
    statusText: 'OK',
    headers: { 'content-type': 'application/json' },
    createdAt: Date.now(),
    freshUntil: Date.now() + 600_000,
    fetchMs: 5,
    redirects: 0,
    finalUrl: '',
    vary: NO_VARY,
    tags: tag ? [tag] : [],
    bodyKind: 'string',
    blobType: '',
    policy: TTL_POLICY,
    body: Buffer.from(JSON.stringify({ value: 'x'.repeat(200) })),
  } as const;
  const batch = 2_000;
  for (let start = 0; start < entries; start += batch) {
    const writes: Promise<void>[] = [];
    for (let i = start; i < Math.min(entries, start + batch); i++) {
      const keys = requestKeys({ method: 'get', url: `https://api.test/items/${i}` }, prefix, [], undefined)!;
      const indexes = [keys.variants, ...(tag ? [tagIndexKey(prefix, tag)] : [])];
      writes.push(store.set(keys.entry, encodeEntry(entry, keys.entry), 600_000, indexes));
    }
    await Promise.all(writes);
  }
}

async function measure(topology: string, client: Redis | Cluster): Promise<Row[]> {
  const rows: Row[] = [];
  const tagged = withCache(axios.create(), { store: client, prefix: 'bench-tags:', storeTimeout: 1000 });
  await fill(client, 'bench-tags:', TAGGED, 'bulk');
  let started = performance.now();
  const marked = await evictTags(tagged, ['bulk'], { soft: true });
  rows.push({ topology, operation: 'evictTags, soft', keys: TAGGED, removed: marked, ms: performance.now() - started });
  started = performance.now();
  const removedTagged = await evictTags(tagged, ['bulk']);
  rows.push({
    topology,
    operation: 'evictTags',
    keys: TAGGED,
    removed: removedTagged,
    ms: performance.now() - started,
  });
  await clearCache(tagged);

  const all = withCache(axios.create(), { store: client, prefix: 'bench-clear:', storeTimeout: 1000 });
  await fill(client, 'bench-clear:', CLEAR_KEYS / 2);
  started = performance.now();
  const markedAll = await clearCache(all, { soft: true });
  rows.push({
    topology,
    operation: 'clearCache, soft',
    keys: CLEAR_KEYS,
    removed: markedAll,
    ms: performance.now() - started,
  });
  started = performance.now();
  const removedAll = await clearCache(all);
  rows.push({
    topology,
    operation: 'clearCache',
    keys: CLEAR_KEYS,
    removed: removedAll,
    ms: performance.now() - started,
  });
  return rows;
}

const rows: Row[] = [];
process.stderr.write('eviction: single node…\n');
const single = await startRedis();
const redis = single.client();
await ready(redis);
rows.push(...(await measure('single node', redis)));
redis.disconnect();
await single.stop();

process.stderr.write('eviction: 3-master cluster…\n');
const cluster = await startCluster(3);
const clusterClient = cluster.client();
await new Promise<void>((resolve) => clusterClient.once('ready', () => resolve()));
rows.push(...(await measure('cluster (3 masters)', clusterClient)));
clusterClient.disconnect();
await cluster.stop();

console.log('| topology | operation | keys | entries removed (soft: marked) | time |');
console.log('| --- | --- | ---: | ---: | ---: |');
for (const r of rows)
  console.log(`| ${r.topology} | ${r.operation} | ${r.keys} | ${r.removed} | ${r.ms.toFixed(0)} ms |`);
writeFileSync(
  new URL('./eviction-results.json', import.meta.url),
  `${JSON.stringify({ date: new Date().toISOString(), rows }, null, 2)}\n`,
);
