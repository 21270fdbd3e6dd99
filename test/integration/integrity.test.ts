import axios, { type AxiosResponse } from 'axios';
import type { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import {
  type CacheError,
  CacheOptionError,
  getCacheStats,
  type RedisClient,
  RedisStore,
  type RequestCacheOptions,
  withCache,
} from '../../src/index.js';
import { closeClients, storeClient } from '../helpers/clients.js';
import { entryBytes } from '../helpers/entries.js';
import { type RedisServer, ready, startRedis } from '../helpers/redis-server.js';
import { bulkReply, startTcpProxy, type TcpProxy } from '../helpers/tcp-proxy.js';
import { startUpstream, type Upstream } from '../helpers/upstream.js';

/**
 * A stored answer is only ever served for the request that stored it. A real redis-server, a TCP proxy
 * between the client and Redis that lies (an extra reply that shifts every later one, garbage bytes,
 * bytes changed in place), values planted in Redis, and an upstream whose every answer names the user and
 * the path it was for: a body served to anyone else is a wrong answer, and there must be none.
 */
let server: RedisServer;
let upstream: Upstream;
let admin: Redis;
let prefixes = 0;

beforeAll(async () => {
  server = await startRedis();
  upstream = await startUpstream();
  admin = server.client();
  await ready(admin);
});

afterAll(async () => {
  admin?.disconnect();
  await upstream?.close();
  await server?.stop();
});

afterEach(async () => {
  await closeClients();
  upstream.handle(answerFor);
});

/** The upstream's answer names who asked for what (and is long enough to be batched, checked, changed). */
function answerFor(req: { url: string; headers: Record<string, unknown> }, res: import('node:http').ServerResponse) {
  res.setHeader('content-type', 'application/json');
  const who = String(req.headers.authorization ?? req.headers['x-api-key'] ?? 'anonymous');
  res.end(JSON.stringify({ who, path: req.url, padding: PADDING }));
}

const PADDING = 'p'.repeat(300);

const USERS = ['Bearer alice', 'Bearer bob', 'Bearer carol'];
const PATHS = Array.from({ length: 10 }, (_, i) => `/item/${i}`);

/** The value stored under `key`, once the write that a response does not wait for has landed. */
async function storedValue(key: string): Promise<Buffer> {
  for (let attempt = 0; attempt < 100; attempt++) {
    const value = await admin.getBuffer(key);
    if (value) return value;
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  throw new Error(`nothing stored under ${key}`);
}

/** A store client of the run's library connected through `port` (the proxy, or the server itself). */
async function clientThrough(port: number): Promise<RedisClient> {
  return (await storeClient(port)).store;
}

interface Tally {
  requests: number;
  wrong: number;
  failed: number;
  statuses: Record<string, number>;
}

/** Every user asks for every path at once, `rounds` times; each answer is checked against who asked for what. */
async function load(api: ReturnType<typeof withCache>, rounds: number, tally?: Tally): Promise<Tally> {
  const t = tally ?? { requests: 0, wrong: 0, failed: 0, statuses: {} };
  for (let r = 0; r < rounds; r++) {
    const asked = USERS.flatMap((who) => PATHS.map((path) => ({ who, path })));
    const answers = await Promise.all(
      asked.map(({ who, path }) =>
        api.get(path, { headers: { Authorization: who } }).then(
          (response: AxiosResponse) => response,
          () => null,
        ),
      ),
    );
    answers.forEach((response, i) => {
      t.requests++;
      if (!response) {
        t.failed++;
        return;
      }
      const status = response.cache?.status ?? 'none';
      t.statuses[status] = (t.statuses[status] ?? 0) + 1;
      const { who, path } = asked[i] as { who: string; path: string };
      // The whole body must be what the upstream sent for this user and path.
      const { data } = response;
      if (data.who !== who || data.path !== path || data.padding !== PADDING || Object.keys(data).length !== 3) {
        t.wrong++;
      }
    });
  }
  return t;
}

function cachedThrough(client: RedisClient, extra: { batchReads?: boolean } = {}) {
  const errors: CacheError[] = [];
  const api = withCache(axios.create({ baseURL: upstream.url }), {
    store: extra.batchReads === false ? new RedisStore(client, { batchReads: false }) : client,
    prefix: `integrity${++prefixes}:`,
    onError: (error) => errors.push(error),
  });
  return { api, errors };
}

describe('a connection that lies', () => {
  let proxy: TcpProxy;
  beforeAll(async () => {
    proxy = await startTcpProxy(server.port);
  });
  afterAll(async () => {
    await proxy?.close();
  });
  afterEach(() => {
    proxy.onChunk = null;
    proxy.onReply = null;
  });

  it.each([
    ['reads batched', true],
    ['reads one by one', false],
  ])(
    'one extra reply (every later reply shifted by one), %s: no wrong answer, the connection is replaced',
    async (_, batchReads) => {
      upstream.handle(answerFor);
      const handle = await storeClient(proxy.port);
      const { api } = cachedThrough(handle.store, { batchReads });
      await load(api, 1); // warm: every user's every path is stored
      const alices = (await api.get('/item/1', { headers: { Authorization: 'Bearer alice' } })).cache?.key as string;
      const stray = bulkReply(await storedValue(alices));
      const connectionsBefore = proxy.connections;
      // Before a reply some command waits for: that command gets the stray, and every later one the reply
      // meant for the command before it (ioredis drops a reply that comes while nothing waits).
      const at = proxy.replies + 3;
      proxy.onReply = (reply, index) => (index === at ? [stray, reply] : reply);

      const tally = await load(api, 10);
      proxy.onReply = null;
      // Replaced — by the cache (ioredis, node-redis 6), or by node-redis itself when a reply came for no
      // command — and ready again.
      await vi.waitFor(() => expect(handle.ready()).toBe(true), { timeout: 3000, interval: 20 });
      const after = await load(api, 3);

      console.log(
        `[integrity] one extra reply (batchReads ${batchReads}): ${tally.requests} requests, ${tally.wrong} wrong answers, ${tally.failed} failed, ` +
          `statuses ${JSON.stringify(tally.statuses)}, connection replaced ${getCacheStats(api).distrusts} time(s); ` +
          `afterwards ${JSON.stringify(after.statuses)}`,
      );
      expect(tally.wrong + after.wrong).toBe(0);
      expect(tally.failed + after.failed).toBe(0);
      expect(getCacheStats(api).distrusts).toBeGreaterThan(0);
      expect(proxy.connections).toBeGreaterThan(connectionsBefore);
      expect(after.statuses.hit).toBe(after.requests - (after.statuses.miss ?? 0));
      expect(after.statuses.hit ?? 0).toBeGreaterThan(after.requests / 2);
    },
  );

  it('garbage bytes inserted into 1 of 10 reply chunks: no wrong answer', async () => {
    upstream.handle(answerFor);
    const client = await clientThrough(proxy.port);
    const { api } = cachedThrough(client);
    await load(api, 1);
    let inserted = 0;
    proxy.onChunk = (chunk, index) => {
      if (index % 10 !== 9 || chunk.length < 16) return chunk;
      inserted++;
      const at = 1 + ((index * 7919) % (chunk.length - 1));
      return Buffer.concat([chunk.subarray(0, at), Buffer.from('\x00garbage'), chunk.subarray(at)]);
    };
    const tally = await load(api, 20);
    proxy.onChunk = null;
    console.log(
      `[integrity] garbage in ${inserted} chunks: ${tally.requests} requests, ${tally.wrong} wrong answers, ` +
        `${tally.failed} failed, statuses ${JSON.stringify(tally.statuses)}`,
    );
    expect(inserted).toBeGreaterThan(0);
    expect(tally.wrong).toBe(0);
    expect(tally.failed).toBe(0);
  });

  it('8 bytes of a stored value overwritten in place (same length): a miss, never the changed body', async () => {
    upstream.handle(answerFor);
    const client = await clientThrough(proxy.port);
    const { api } = cachedThrough(client, { batchReads: false });
    await load(api, 1);
    let changed = 0;
    proxy.onReply = (reply, index) => {
      // A bulk reply (`$N\r\n…`) or a one-element array of one (`*1\r\n$N\r\n…`): change 8 payload bytes.
      const bulkAt = reply[0] === 0x24 ? 0 : reply.subarray(0, 4).toString() === '*1\r\n' ? 4 : -1;
      if (bulkAt === -1 || reply.length < 300 || index % 10 !== 0) return reply;
      changed++;
      const out = Buffer.from(reply);
      out.write('CHANGED!', out.length - 60, 'latin1');
      return out;
    };
    const tally = await load(api, 10);
    proxy.onReply = null;
    const stats = getCacheStats(api);
    console.log(
      `[integrity] ${changed} values changed in place: ${tally.requests} requests, ${tally.wrong} wrong answers, ` +
        `${tally.failed} failed, ${stats.badEntries} unusable entries, statuses ${JSON.stringify(tally.statuses)}`,
    );
    expect(changed).toBeGreaterThan(0);
    expect(tally.wrong).toBe(0);
    expect(stats.badEntries).toBeGreaterThanOrEqual(changed);
  });
});

describe('values planted in Redis', () => {
  it("Alice's entry copied under a public URL's key is a miss: everyone gets the public answer", async () => {
    upstream.handle(answerFor);
    const client = await clientThrough(server.port);
    const { api, errors } = cachedThrough(client);
    const alices = (await api.get('/orders', { headers: { Authorization: 'Bearer alice' } })).cache?.key as string;
    const publicKey = (await api.get('/item/public')).cache?.key as string;
    await storedValue(publicKey);
    await admin.set(publicKey, await storedValue(alices), 'PX', 60_000);
    const anonymous = await api.get('/item/public');
    expect(anonymous.cache?.status).toBe('miss');
    expect(anonymous.data).toMatchObject({ who: 'anonymous', path: '/item/public' });
    expect(errors.some((e) => e.code === 'ERR_CACHE_BAD_ENTRY' && /another key/.test(e.message))).toBe(true);
    // Another key's entry may mean a connection out of step: it was replaced. Once it is back, the next
    // write overwrites the planted value. Never Alice's answer on the way.
    let again: AxiosResponse | undefined;
    for (let attempt = 0; attempt < 50 && again?.cache?.status !== 'hit'; attempt++) {
      await new Promise((resolve) => setTimeout(resolve, 20));
      const response = await api.get('/item/public');
      expect(response.data.who).toBe('anonymous');
      again = response;
    }
    expect(again?.cache?.status).toBe('hit');
  });

  it('an entry whose bytes were changed (bad checksum) is a miss, and the next write replaces it', async () => {
    upstream.handle(answerFor);
    const client = await clientThrough(server.port);
    const { api } = cachedThrough(client);
    const key = (await api.get('/item/x')).cache?.key as string;
    const stored = await storedValue(key);
    stored.write('"who":"mallory"', stored.indexOf('"who":"anonymous"'), 'utf8');
    await admin.set(key, stored, 'PX', 60_000);
    const read = await api.get('/item/x');
    expect(read.cache?.status).toBe('miss');
    expect(read.data.who).toBe('anonymous');
    expect(getCacheStats(api).badEntries).toBeGreaterThan(0); // the read, and the re-read with the lease
    expect((await api.get('/item/x')).cache?.status).toBe('hit');
  });

  it('a Set-Cookie planted in a stored entry (valid checksum, right key) is never replayed', async () => {
    upstream.handle(answerFor);
    const client = await clientThrough(server.port);
    const { api } = cachedThrough(client);
    const key = (await api.get('/item/y')).cache?.key as string;
    await storedValue(key);
    const now = Date.now();
    const planted = entryBytes(key, {
      headers: { 'content-type': 'application/json', 'set-cookie': ['session=attacker'] },
      createdAt: now,
      freshUntil: now + 60_000,
      body: Buffer.from('{"who":"anonymous","path":"/item/y"}'),
    });
    await admin.set(key, planted, 'PX', 60_000);
    const hit = await api.get('/item/y');
    expect(hit.cache?.status).toBe('hit');
    expect(hit.headers['set-cookie']).toBeUndefined();
  });
});

describe('who may share an answer', () => {
  it('requests that differ only in X-Api-Key never share an entry', async () => {
    upstream.handle(answerFor);
    const client = await clientThrough(server.port);
    const { api } = cachedThrough(client);
    const alice = await api.get('/keyed-orders', { headers: { 'X-Api-Key': 'alice-key' } });
    const bob = await api.get('/keyed-orders', { headers: { 'X-Api-Key': 'bob-key' } });
    expect(bob.cache?.status).toBe('miss');
    expect(bob.data.who).toBe('bob-key');
    const aliceAgain = await api.get('/keyed-orders', { headers: { 'x-api-key': 'alice-key' } });
    expect(aliceAgain.cache?.status).toBe('hit');
    expect(aliceAgain.data.who).toBe(alice.data.who);
    expect(upstream.received.filter((r) => r.url === '/keyed-orders').map((r) => r.headers['x-api-key'])).toEqual([
      'alice-key',
      'bob-key',
    ]);
    // The credential never shows in the key.
    expect(bob.cache?.key).not.toContain('bob-key');
  });

  it('HEAD then GET under one cache.key: the GET gets a body, not the HEAD’s empty answer', async () => {
    upstream.handle(answerFor);
    const client = await clientThrough(server.port);
    const { api } = cachedThrough(client);
    const cache: RequestCacheOptions = { key: 'dkim:example.com' };
    const head = await api.head('/dkim', { cache });
    expect(head.data).toBe('');
    const get = await api.get('/dkim', { cache });
    expect(get.cache?.status).toBe('miss');
    expect(get.data).toMatchObject({ path: '/dkim' });
    expect(upstream.received.filter((r) => r.url === '/dkim').map((r) => r.method)).toEqual(['HEAD', 'GET']);
  });

  it('a cache.key with a control character is refused at the request, before anything is sent', async () => {
    const client = await clientThrough(server.port);
    const { api } = cachedThrough(client);
    const before = upstream.received.length;
    for (const key of ['a\nb', 'a\rb', 'tab\there', '\u0000', 'x'.repeat(1025)]) {
      await expect(api.get('/k', { cache: { key } })).rejects.toBeInstanceOf(CacheOptionError);
    }
    expect(upstream.received.length).toBe(before);
  });

  it('durations and sizes beyond what Redis and timers honour are refused where they are given', async () => {
    const client = await clientThrough(server.port);
    for (const options of [
      { ttl: 1e20 },
      { ttl: Number.MAX_VALUE },
      { staleWhileRevalidate: 1e20 },
      { staleIfError: Number.MAX_VALUE },
      { lockTtl: 1e12 },
      { storeTimeout: 2 ** 31 },
      { maxEntryBytes: 2 ** 40 },
      { breaker: { cooldown: 1e15 } },
    ]) {
      expect(() => withCache(axios.create(), { store: client, ...options })).toThrow(CacheOptionError);
    }
    const { api } = cachedThrough(client);
    const before = upstream.received.length;
    for (const cache of [{ ttl: 1e20 }, { staleIfError: Number.MAX_VALUE }, { staleWhileRevalidate: 1e20 }]) {
      await expect(api.get('/k', { cache })).rejects.toBeInstanceOf(CacheOptionError);
    }
    expect(upstream.received.length).toBe(before);
    // A year is fine.
    expect((await api.get('/year', { cache: { ttl: 365 * 24 * 3600 } })).cache?.status).toBe('miss');
    expect((await api.get('/year')).cache?.status).toBe('hit');
  });
});
