/**
 * Fleet coordination by notification: processes waiting on another's fill are told by its write (a
 * subscription to the lease's channel) instead of polling; when notifications are lost or refused, the
 * waiters still get the fill by polling. Real processes (and, where the point is the server's view, two
 * clients in this process) on a real redis-server; every figure counted by the server or the upstream.
 */
import axios from 'axios';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CacheError, getCacheStats, withCache } from '../../src/index.js';
import { closeClients, LIBRARY, ON, storeClient } from '../helpers/clients.js';
import { commandCounts } from '../helpers/command-stats.js';
import { coldStartFleet, type Replica, startFleet, stopFleet, type WorkerResult } from '../helpers/fleet.js';
import { monitor } from '../helpers/monitor.js';
import { type RedisServer, startRedis } from '../helpers/redis-server.js';
import { useRedisAndUpstream } from '../helpers/suite.js';
import { slowEcho, type Upstream } from '../helpers/upstream.js';

const servers = useRedisAndUpstream();
let server: RedisServer;
let admin: Redis;
let upstream: Upstream;

beforeAll(async () => {
  server = servers.server;
  upstream = servers.upstream;
  admin = await servers.client();
  admin.on('error', () => {});
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Wait until no process is subscribed to a lease channel any more: a worker answers its caller before its
 * client has sent the UNSUBSCRIBE of the fill it waited on (node-redis writes on the next tick), and stats
 * reset in between would count that UNSUBSCRIBE with the next fill.
 */
async function leaseChannelsClosed(redis: Redis): Promise<void> {
  for (let i = 0; i < 100; i++) {
    const channels = (await redis.call('PUBSUB', 'CHANNELS', '*:lease')) as string[];
    if (channels.length === 0) return;
    await sleep(20);
  }
  throw new Error('lease channels still subscribed after 2 s');
}

const total = (counts: Record<string, number>) => Object.values(counts).reduce((a, b) => a + b, 0);

describe(`waiting processes are woken by the holder's write${ON}`, () => {
  let fleet: Replica[] = [];
  afterAll(() => stopFleet(fleet));

  it('4 processes × 50 requests, upstream 400 ms, default options: one call, and each waiting process spends a few commands per fill', async () => {
    upstream.handle(slowEcho(400));
    fleet = await startFleet(4, server.port, upstream.url);
    const options = { defaults: true };
    // Every process connected, its scripts loaded and its code run once (a fill of another key).
    await Promise.all(fleet.map((r) => r.run('/wake/warmup', 1, options)));
    await leaseChannelsClosed(admin);
    await admin.config('RESETSTAT');
    const log = await monitor(server.port);
    const results = await Promise.all(fleet.map((r) => r.run('/wake/one', 50, options)));
    await sleep(200); // the callers do not wait for the writes: let them land
    await log.flush();
    const sent = log.commands().map(([name]) => name);
    await log.stop();
    await leaseChannelsClosed(admin);
    const counts = await commandCounts(admin);
    const all = results.flat();
    expect(all.every((r) => r.ok)).toBe(true);
    expect(upstream.calls('/wake/one')).toBe(1);
    const holder = results.findIndex((r) => r.some((x) => x.cache === 'miss'));
    const wroteAt = results[holder]?.find((x) => x.cache === 'miss')?.wroteAt ?? Number.NaN;
    const lags = results
      .filter((_, i) => i !== holder)
      .map((r) => Math.min(...r.map((x) => x.doneAtHr ?? Number.NaN)) - wroteAt);
    // The holder: its read-or-lease and its write (≈ 20 commands with the scripts' own). Each waiting
    // process: its read-or-lease, SUBSCRIBE, one look after subscribing, at most one slow fallback poll,
    // UNSUBSCRIBE — under 20 commands in all, where polling every 5–20 ms cost about 90.
    const perWaiter = (total(counts) - 20) / 3;
    console.log(
      `[fleet wake-up${ON}] 3 waiting processes answered ${lags.map((l) => l.toFixed(1)).join(', ')} ms after the holder's write; ` +
        `${total(counts)} commands for the fill (${perWaiter.toFixed(1)} per waiting process): ${JSON.stringify(counts)}`,
    );
    expect(counts.subscribe).toBe(3);
    expect(counts.unsubscribe).toBe(3);
    // The holder's write tells the waiters once, however many wait (besides, at most once a second, the
    // `l1` announcement of the write, which goes out while nobody is known to listen).
    expect(counts.publish).toBeGreaterThanOrEqual(1);
    expect(counts.publish).toBeLessThanOrEqual(2);
    expect(perWaiter).toBeLessThan(20);
    // What the clients sent (MONITOR: the scripts' own commands apart): the holder 2 calls, each waiting
    // process at most 6 — and no GET: the entry came with the notice.
    console.log(`[fleet wake-up${ON}] calls sent by the clients: ${sent.length} (${sent.join(' ')})`);
    expect(sent).not.toContain('GET');
    expect(sent.length).toBeLessThanOrEqual(2 + 3 * 6);
    expect(all.filter((r) => r.cache === 'coalesced')).toHaveLength(199);
  });

  it('the pub/sub connection dropped mid-wait: the waiters still get the fill, by polling', async () => {
    upstream.handle(slowEcho(600));
    const path = '/wake/lost';
    const running = Promise.all(fleet.map((r) => r.run(path, 10, { defaults: true })));
    await sleep(250);
    // Every subscriber connection of the fleet, cut while its process waits.
    const killed = Number(await admin.client('KILL', 'TYPE', 'pubsub'));
    const results = await running;
    console.log(
      `[fleet wake-up${ON}] ${killed} subscriber connection(s) cut mid-wait: ${JSON.stringify(tally(results))}`,
    );
    expect(killed).toBeGreaterThanOrEqual(3);
    expect(results.flat().every((r) => r.ok)).toBe(true);
    expect(upstream.calls(path)).toBe(1);
    // And the next fill is notified again (new subscriptions on new connections).
    await leaseChannelsClosed(admin);
    await admin.config('RESETSTAT');
    const after = await Promise.all(fleet.map((r) => r.run('/wake/after-lost', 10, { defaults: true })));
    expect(after.flat().every((r) => r.ok)).toBe(true);
    expect(upstream.calls('/wake/after-lost')).toBe(1);
    expect((await commandCounts(admin)).subscribe).toBe(3);
  });
});

describe(`notifications refused or unavailable${ON}`, () => {
  it('an ACL user without pub/sub: waiters poll, one upstream call, answers right, reported once', async () => {
    const redis = await startRedis();
    try {
      const setup = redis.client();
      await setup.call('ACL', 'SETUSER', 'app', 'on', '>secret', '~*', '&*', '+@all', '-@pubsub');
      setup.disconnect();
      upstream.handle(slowEcho(200));
      const errors: CacheError[] = [];
      const clients = await Promise.all(
        [0, 1].map(() => storeClient(redis.port, { username: 'app', password: 'secret' })),
      );
      // Two instances on two clients stand for two processes: only Redis can make them share a call.
      const [a, b] = clients.map((c) =>
        withCache(axios.create({ baseURL: upstream.url }), {
          store: c.store,
          prefix: 'acl-wake:',
          fleetStats: false,
          onError: (e) => errors.push(e),
        }),
      );
      const first = a!.get('/acl-wake');
      await sleep(50);
      const second = b!.get('/acl-wake');
      const [ra, rb] = await Promise.all([first, second]);
      expect(ra.cache?.status).toBe('miss');
      expect(rb.cache?.status).toBe('coalesced');
      expect(rb.data).toEqual(ra.data);
      expect(upstream.calls('/acl-wake')).toBe(1);
      // Again: the refusal is learnt, the fleet still coalesces.
      const again = await Promise.all([a!.get('/acl-wake/2'), sleep(50).then(() => b!.get('/acl-wake/2'))]);
      expect(again.map((r) => r.cache?.status).sort()).toEqual(['coalesced', 'miss']);
      expect(upstream.calls('/acl-wake/2')).toBe(1);
      const refusals = errors.filter((e) => /NOPERM|can't run/.test(String((e.cause as Error | undefined)?.message)));
      console.log(
        `[fleet wake-up${ON}] ACL without pub/sub: ${refusals.length} refusal(s) reported, ${errors.length} errors in all`,
      );
      expect(refusals.length).toBeLessThanOrEqual(2); // PUBLISH inside the write, at most once per client
      expect(getCacheStats(b!).writeBreaker).toBe('closed');
    } finally {
      await closeClients();
      await redis.stop();
    }
  });
});

describe(`a fleet that restarts and fires before its clients are ready, default options${ON}`, () => {
  for (const processes of [4, 8]) {
    for (const start of ['connecting', 'lazy'] as const) {
      it(`${processes} processes × 50 cold requests (${start === 'lazy' ? (LIBRARY === 'ioredis' ? 'lazyConnect' : 'connected after the requests') : 'client still connecting'}): one upstream call`, async () => {
        upstream.handle(slowEcho(100));
        const path = `/cold-start/${processes}/${start}`;
        const results = await coldStartFleet(processes, server.port, upstream.url, path, 50, start);
        const calls = upstream.calls(path);
        console.log(
          `[cold start${ON}] ${processes} × 50, ${start}: ${calls} upstream call(s), ${JSON.stringify(tally(results))}`,
        );
        expect(results.flat().every((r) => r.ok)).toBe(true);
        expect(calls).toBe(1);
      });
    }
  }
});

function tally(results: WorkerResult[][]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const r of results.flat()) {
    const k = r.ok ? r.cache : `error ${r.status}`;
    counts[k] = (counts[k] ?? 0) + 1;
  }
  return counts;
}
