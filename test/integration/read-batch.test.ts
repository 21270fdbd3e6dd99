/**
 * Reads of one tick go to Redis as one MGET (RedisStore's ReadBatch), against a real redis-server and a real
 * upstream: what the server executed is read with MONITOR (either client library), what the upstream
 * received by the upstream itself.
 */
import axios from 'axios';
import type { Redis } from 'ioredis';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { getCacheStats, type RedisClient, RedisStore, withCache } from '../../src/index.js';
import { failNext, LIBRARY, synced } from '../helpers/clients.js';
import { type CommandLog, monitor } from '../helpers/monitor.js';
import { useRedisAndUpstream } from '../helpers/suite.js';

const suite = useRedisAndUpstream();
const logs: CommandLog[] = [];
afterAll(async () => {
  for (const log of logs) await log.stop();
});

/** The plain reads the server executed for `store` from now on (MGETs with their key counts, GETs). */
async function reads(store: RedisClient) {
  const log = await monitor(suite.server.port);
  logs.push(log);
  return async () => {
    await log.flush(store);
    const commands = log.commands();
    return {
      mgets: commands.filter(([c]) => c === 'MGET').map((c) => c.length - 1),
      gets: commands.filter(([c]) => c === 'GET').length,
    };
  };
}

// A trailing slash keeps each path from being a prefix of another (the upstream counts calls by prefix).
const paths = (n: number, tag: string) => Array.from({ length: n }, (_, i) => `/batch/${tag}/${i}/`);

describe('read batching', () => {
  it('sends the hits of one tick as one MGET and answers each with its own entry', async () => {
    const store = await suite.store();
    const api = withCache(axios.create({ baseURL: suite.upstream.url }), { store, prefix: 'rb1:' });
    const urls = paths(20, 'a');
    for (const url of urls) await api.get(url);
    const sent = await reads(store);

    const responses = await Promise.all(urls.map((url) => api.get(url)));

    expect(responses.map((r) => r.cache?.status)).toEqual(urls.map(() => 'hit'));
    expect(responses.map((r) => r.data.path)).toEqual(urls);
    expect(await sent()).toEqual({ mgets: [20], gets: 0 });
    for (const url of urls) expect(suite.upstream.calls(url)).toBe(1);
    expect(getCacheStats(api).storeErrors).toBe(0);
  });

  it('sends a lone read as a plain GET', async () => {
    const store = await suite.store();
    const api = withCache(axios.create({ baseURL: suite.upstream.url }), { store, prefix: 'rb2:' });
    await api.get('/batch/lone');
    const sent = await reads(store);
    expect((await api.get('/batch/lone')).cache?.status).toBe('hit');
    expect(await sent()).toEqual({ mgets: [], gets: 1 });
  });

  it('mixes hits and misses in one batch: misses go upstream, hits do not', async () => {
    const api = withCache(axios.create({ baseURL: suite.upstream.url }), {
      store: await suite.store(),
      prefix: 'rb3:',
    });
    const warm = paths(5, 'warm');
    const cold = paths(5, 'cold');
    for (const url of warm) await api.get(url);
    const responses = await Promise.all([...warm, ...cold].map((url) => api.get(url)));
    expect(responses.map((r) => r.cache?.status)).toEqual([...warm.map(() => 'hit'), ...cold.map(() => 'miss')]);
    expect(responses.map((r) => r.data.path)).toEqual([...warm, ...cold]);
    for (const url of [...warm, ...cold]) expect(suite.upstream.calls(url)).toBe(1);
  });

  // ioredis only: node-redis writes the commands of one tick together by itself.
  it.skipIf(LIBRARY !== 'ioredis')(
    'holds the commands of one tick for one socket write, never leaves the socket held, and stores every miss',
    async () => {
      const redis = (await suite.store()) as Redis;
      const api = withCache(axios.create({ baseURL: suite.upstream.url }), { store: redis, prefix: 'rb7:' });
      const urls = paths(30, 'many-cold');
      const cork = vi.spyOn(redis.stream, 'cork');
      const first = await Promise.all(urls.map((url) => api.get(url)));
      expect(cork).toHaveBeenCalled();
      // One hold per tick, not per command: the 30 lease calls, sent in the tick their MGET answered, share
      // one; each write follows its own upstream answer.
      expect(cork.mock.calls.length).toBeLessThan(2 * urls.length);
      cork.mockRestore();
      await new Promise((resolve) => setImmediate(resolve));
      expect(redis.stream.writableCorked).toBe(0); // nothing left held
      expect(first.map((r) => r.cache?.status)).toEqual(urls.map(() => 'miss'));
      const again = await Promise.all(urls.map((url) => api.get(url)));
      expect(again.map((r) => r.cache?.status)).toEqual(urls.map(() => 'hit'));
      expect(again.map((r) => r.data.path)).toEqual(urls);
      for (const url of urls) expect(suite.upstream.calls(url)).toBe(1);
      expect(await redis.exists(...urls.map((_, i) => first[i]?.cache?.key as string))).toBe(30);
    },
  );

  it('sends queued reads before any later command, so commands reach Redis in the order they were made', async () => {
    const redis = await suite.client();
    const store = new RedisStore(await suite.store());
    await redis.set('rb4:k', 'v');
    const read = store.get('rb4:k'); // queued until the end of the tick…
    const removed = store.delete(['rb4:k']); // …but sent before this DELETE
    expect(Buffer.from((await read) ?? []).toString()).toBe('v');
    expect(await removed).toBe(1);
    expect(await store.get('rb4:k')).toBeNull();
  });

  it('with batchReads: false, every read is its own GET', async () => {
    const client = await suite.store();
    const store = new RedisStore(client, { batchReads: false });
    const api = withCache(axios.create({ baseURL: suite.upstream.url }), { store, prefix: 'rb5:' });
    const urls = paths(6, 'unbatched');
    for (const url of urls) await api.get(url);
    const sent = await reads(client);
    const responses = await Promise.all(urls.map((url) => api.get(url)));
    expect(responses.every((r) => r.cache?.status === 'hit')).toBe(true);
    expect(await sent()).toEqual({ mgets: [], gets: 6 });
  });

  it('turns a failed MGET into a miss for every read of the batch, each answered right without a wrong hit', async () => {
    const store = await suite.store();
    const api = withCache(axios.create({ baseURL: suite.upstream.url }), { store, prefix: 'rb6:' });
    const urls = paths(4, 'failing');
    for (const url of urls) await api.get(url);
    await synced(store);
    const restore = failNext(store, 'MGET', new Error('connection lost mid-reply'));
    const responses = await Promise.all(urls.map((url) => api.get(url)));
    expect(responses.map((r) => r.data.path)).toEqual(urls);
    // Each read failed, so each request went on to the fill path, whose lease script re-reads the entry:
    // found there, it is served without an upstream call.
    expect(responses.map((r) => r.cache?.status)).toEqual(urls.map(() => 'coalesced'));
    for (const url of urls) expect(suite.upstream.calls(url)).toBe(1);
    expect(getCacheStats(api).storeErrors).toBe(4);
    restore();
  });
});
