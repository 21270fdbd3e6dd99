/**
 * What a request costs Redis, counted by the server (`INFO commandstats`: the commands scripts run
 * included): a cold miss, a hit, a credentialed variant; what is stored (the plain variant needs no index,
 * other variants are listed by their short id); compressed entries read by any reader.
 */
import axios from 'axios';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { evict, withCache } from '../../src/index.js';
import { closeClients, ON, storeClient } from '../helpers/clients.js';
import { commandCounts } from '../helpers/command-stats.js';
import { type RedisServer, ready, startRedis } from '../helpers/redis-server.js';
import { startUpstream, type Upstream } from '../helpers/upstream.js';

let server: RedisServer;
let admin: Redis;
let upstream: Upstream;

const BIG = JSON.stringify({ items: Array.from({ length: 1000 }, (_, i) => ({ id: i, name: `item-${i}` })) });

beforeAll(async () => {
  server = await startRedis();
  admin = server.client();
  await ready(admin);
  upstream = await startUpstream((req, res) => {
    res.setHeader('content-type', 'application/json');
    res.end(req.url?.startsWith('/big') ? BIG : JSON.stringify({ path: req.url }));
  });
});

afterAll(async () => {
  admin.disconnect();
  await closeClients();
  await upstream.close();
  await server.stop();
});

/** The commands the server ran while `work` ran (and its writes landed), by name. */
async function commandStats(work: () => Promise<unknown>): Promise<Record<string, number>> {
  await admin.config('RESETSTAT');
  await work();
  await new Promise((resolve) => setTimeout(resolve, 100));
  const counted = await commandCounts(admin);
  console.log(`[cost${ON}] ${JSON.stringify(counted)}`);
  return counted;
}

/** How many commands the server ran while `work` ran (and its writes landed). */
async function commandsDuring(work: () => Promise<unknown>): Promise<number> {
  return Object.values(await commandStats(work)).reduce((a, b) => a + b, 0);
}

describe(`what a request costs Redis${ON}`, () => {
  it('a cold miss: at most 8 commands (6 for the plain variant, no index); a hit: one', async () => {
    const store = (await storeClient(server.port)).store;
    const api = withCache(axios.create({ baseURL: upstream.url }), { store, prefix: 'cost:', fleetStats: false });
    await api.get('/warm'); // scripts loaded, connection made
    await new Promise((resolve) => setTimeout(resolve, 100)); // its write landed
    const miss = await commandsDuring(() => api.get('/cold/plain'));
    let tenantKey = '';
    const credentialed = await commandsDuring(async () => {
      tenantKey = (await api.get('/cold/tenant', { headers: { authorization: 'Bearer tenant-a' } })).cache
        ?.key as string;
    });
    const hit = await commandsDuring(() => api.get('/cold/plain'));
    console.log(`[cost${ON}] commands: cold miss ${miss}, credentialed cold miss ${credentialed}, hit ${hit}`);
    expect(miss).toBeLessThanOrEqual(6);
    expect(credentialed).toBeLessThanOrEqual(8);
    expect(hit).toBe(1);
    // The plain variant has no index; the credentialed one is listed by its short id.
    expect(await admin.keys('cost:*variants')).toHaveLength(1);
    const [index] = await admin.keys('cost:*variants');
    const members = await admin.zrange(index as string, 0, -1);
    expect(members).toHaveLength(1);
    expect((members[0] as string).length).toBeLessThan(30);
    expect(await admin.object('ENCODING', index as string)).toBe('listpack');
    // Eviction finds every variant, the plain one and the listed ones.
    await api.get('/cold/tenant'); // the plain variant of the same request
    expect(await evict(api, '/cold/tenant')).toBe(2);
    expect(await admin.keys(`${tenantKey.slice(0, tenantKey.indexOf('}:') + 2)}*`)).toEqual([]);
  });

  it('a key stored or found lately is read with one GET; after an eviction, with the lease folded in', async () => {
    const store = (await storeClient(server.port)).store;
    const api = withCache(axios.create({ baseURL: upstream.url }), { store, prefix: 'presence:', fleetStats: false });
    const tenant = { headers: { authorization: 'Bearer tenant-b' } };
    await api.get('/presence/plain');
    await api.get('/presence/tenant', tenant);
    await new Promise((resolve) => setTimeout(resolve, 100)); // the writes landed
    // Stored by this process: expected present, read with a plain GET (memoized keys and a credentialed
    // variant's alike).
    expect(await commandStats(() => api.get('/presence/plain'))).toEqual({ get: 1 });
    expect(await commandStats(() => api.get('/presence/tenant', tenant))).toEqual({ get: 1 });
    // A hard eviction forgets what was present: the next read of any key may miss, so it goes with the
    // lease folded in: one script, whose GET finds the entry (a hit: no lease taken, no SET).
    await evict(api, '/presence/plain');
    expect(await commandStats(() => api.get('/presence/tenant', tenant))).toEqual({ evalsha: 1, get: 1 });
    const read = await api.get('/presence/tenant', tenant);
    expect(read.cache?.status).toBe('hit');
    // Found again: a plain GET once more.
    expect(await commandStats(() => api.get('/presence/tenant', tenant))).toEqual({ get: 1 });
  });

  it('large bodies are stored compressed; an instance that does not compress reads them', async () => {
    const store = (await storeClient(server.port)).store;
    const writer = withCache(axios.create({ baseURL: upstream.url }), { store, prefix: 'costz:', fleetStats: false });
    const reader = withCache(axios.create({ baseURL: upstream.url }), {
      store,
      prefix: 'costz:',
      fleetStats: false,
      compress: false,
    });
    const written = await writer.get('/big/1');
    await new Promise((resolve) => setTimeout(resolve, 50)); // the write, not awaited by the caller, lands
    const size = await admin.strlen(written.cache?.key as string);
    console.log(`[cost${ON}] ${BIG.length} B of JSON stored in ${size} B`);
    expect(size).toBeLessThan(BIG.length * 0.35);
    const read = await reader.get('/big/1');
    expect([read.cache?.status, read.data]).toEqual(['hit', JSON.parse(BIG)]);
    expect(upstream.calls('/big/1')).toBe(1);
  });
});
