// Compiled by test/dist/types.test.ts against the published declarations with both client libraries
// installed: every client a user makes is accepted as `store` without a cast.
import axios from 'axios';
import { Cluster, Redis } from 'ioredis';
import { createClient, createCluster, createSentinel } from 'redis';
import { RedisStore, withCache } from '../../dist/index.js';

// node-redis, as the seed articles connect: createClient(), connected by its owner after withCache.
const client = createClient({ url: 'redis://127.0.0.1:6379' });
withCache(axios.create(), { store: client, ttl: 60 });
void client.connect();
withCache(axios.create(), { store: createClient().withTypeMapping({}) });
withCache(axios.create(), { store: createCluster({ rootNodes: [{ url: 'redis://127.0.0.1:7000' }] }) });
withCache(axios.create(), {
  store: createSentinel({ name: 'mymaster', sentinelRootNodes: [{ host: '127.0.0.1', port: 26379 }] }),
});
new RedisStore(createClient(), { batchReads: false });

// ioredis, as before.
withCache(axios.create(), { store: new Redis() });
withCache(axios.create(), { store: new Cluster([{ host: '127.0.0.1', port: 7000 }]) });
new RedisStore(new Redis({ lazyConnect: true }));
