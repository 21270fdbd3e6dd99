/**
 * The scripts' fallbacks for a Redis older than 7.0, run against a real redis-server: no Redis 6 is
 * installed here, so the scripts are changed for this file only so that the three commands a Redis 6 lacks
 * or parses differently are answered by the server with an error, as Redis 6 answers them —
 * `SET … NX … GET` (6.2: "syntax error"), `PEXPIRE … NX | GT` (before 7.0: an arity error) and `GETDEL`
 * (before 6.2: unknown command). Everything else runs as it is: the fallbacks (`GET` + `SET`, `PTTL` +
 * `PEXPIRE`, `GET` + `DEL`) are what is tested, with real replies, and what the upstream received.
 */
import axios from 'axios';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { type CacheError, evict, getCacheStats, withCache } from '../../src/index.js';
import { IORedisDriver } from '../../src/stores/redis/drivers/ioredis.js';
import { NodeRedisDriver } from '../../src/stores/redis/drivers/node-redis.js';
import * as scripts from '../../src/stores/redis/scripts.js';
import { ON, storeClient } from '../helpers/clients.js';
import { commandCounts } from '../helpers/command-stats.js';
import { useRedisAndUpstream } from '../helpers/suite.js';
import { slowEcho } from '../helpers/upstream.js';

/** What Redis 6 answers with an error, made to be answered with one by Redis 7 (an extra or unknown word). */
const OLDER_REDIS: readonly [string, string][] = vi.hoisted(() => [
  [
    "redis.pcall('SET', lease, token, 'NX', 'PX', ttl, 'GET')",
    "redis.pcall('SET', lease, token, 'NX', 'PX', ttl, 'GET', 'REDIS-6')",
  ],
  ["redis.pcall('PEXPIRE', index, ttl, 'NX')", "redis.pcall('PEXPIRE', index, ttl, 'NX', 'REDIS-6')"],
  ["redis.pcall('PEXPIRE', index, ttl, 'GT')", "redis.pcall('PEXPIRE', index, ttl, 'GT', 'REDIS-6')"],
  ["redis.pcall('GETDEL', lease)", "redis.pcall('GETDEL-BEFORE-6.2', lease)"],
]);

vi.mock('../../src/stores/redis/scripts.js', async (importOriginal) => {
  const actual = await importOriginal<typeof import('../../src/stores/redis/scripts.js')>();
  const seen = new Set<string>();
  const older = (value: unknown) => {
    if (!(value instanceof actual.LuaScript)) return value;
    let source = value.source;
    for (const [from, to] of OLDER_REDIS) {
      if (source.includes(from)) seen.add(from);
      source = source.replaceAll(from, to);
    }
    return new actual.LuaScript(source);
  };
  const changed = Object.fromEntries(Object.entries(actual).map(([name, value]) => [name, older(value)]));
  // A script that no longer says what this file changes would make the test pass without the fallbacks.
  const missing = OLDER_REDIS.filter(([from]) => !seen.has(from));
  if (missing.length > 0) throw new Error(`the scripts no longer contain ${missing.map(([f]) => f).join(', ')}`);
  return changed;
});

const suite = useRedisAndUpstream();
let admin: Redis;
beforeAll(async () => {
  admin = await suite.client();
});

const settle = () => new Promise((resolve) => setTimeout(resolve, 100));

describe(`the scripts on a Redis older than 7.0 (its errors emulated)${ON}`, () => {
  it('the scripts in use are the changed ones', () => {
    expect(scripts.READ_OR_LEASE.source).toContain("'GET', 'REDIS-6'");
    expect(scripts.WRITE_FILL.source).toContain("'GETDEL-BEFORE-6.2'");
    expect(scripts.WRITE_FILL.source).toContain("'NX', 'REDIS-6'");
  });

  it('a miss, a hit, a credentialed variant and an eviction: right answers, leases released, index kept', async () => {
    const errors: unknown[] = [];
    const api = withCache(axios.create({ baseURL: suite.upstream.url }), {
      store: await suite.store(),
      prefix: 'old:',
      fleetStats: false,
      onError: (e) => errors.push(e),
    });
    await admin.config('RESETSTAT');
    const miss = await api.get('/old/a');
    await settle();
    const hit = await api.get('/old/a');
    expect([miss.cache?.status, hit.cache?.status]).toEqual(['miss', 'hit']);
    expect(hit.data).toEqual(miss.data);
    const tenant = { headers: { authorization: 'Bearer tenant-a' } };
    const other = { headers: { authorization: 'Bearer tenant-b' } };
    const [a, b] = [await api.get('/old/t', tenant), await api.get('/old/t', other)];
    await settle();
    expect((await api.get('/old/t', tenant)).cache?.status).toBe('hit');
    expect(suite.upstream.calls('/old/a')).toBe(1);
    expect(suite.upstream.calls('/old/t')).toBe(2);
    expect(a.data).not.toEqual(undefined);
    expect(b.cache?.status).toBe('miss');
    // The fallbacks ran: no GETDEL reached the server, the leases were released all the same.
    const counts = await commandCounts(admin);
    expect(counts.getdel).toBeUndefined();
    expect(counts.pttl).toBeGreaterThanOrEqual(1);
    expect(await admin.keys('old:*:lease')).toEqual([]);
    // The variants index lives as long as its entries, no less.
    const [index] = await admin.keys('old:*variants');
    expect(index).toBeDefined();
    const entryTtls = await Promise.all((await admin.keys('old:*')).map((k) => admin.pttl(k)));
    expect(await admin.pttl(index as string)).toBeGreaterThan(0);
    expect(await admin.pttl(index as string)).toBeGreaterThanOrEqual(Math.max(...entryTtls) - 1000);
    expect(await evict(api, '/old/t')).toBe(2);
    expect(errors).toEqual([]);
    expect(getCacheStats(api).storeErrors).toBe(0);
  });

  it('two instances on two clients share one fill: the lease taken with GET + SET, released with GET + DEL', async () => {
    suite.upstream.handle(slowEcho(200));
    const options = { prefix: 'old-fleet:', fleetStats: false } as const;
    const one = withCache(axios.create({ baseURL: suite.upstream.url }), { store: await suite.store(), ...options });
    const two = withCache(axios.create({ baseURL: suite.upstream.url }), { store: await suite.store(), ...options });
    const first = one.get('/old/shared');
    await new Promise((resolve) => setTimeout(resolve, 50));
    const [r1, r2] = await Promise.all([first, two.get('/old/shared')]);
    expect([r1.cache?.status, r2.cache?.status]).toEqual(['miss', 'coalesced']);
    expect(r2.data).toEqual(r1.data);
    expect(suite.upstream.calls('/old/shared')).toBe(1);
    await settle();
    expect(await admin.keys('old-fleet:*:lease')).toEqual([]);
    // The next fill is not held up by a lease left behind.
    await evict(one, '/old/shared');
    expect((await two.get('/old/shared')).cache?.status).toBe('miss');
    expect(suite.upstream.calls('/old/shared')).toBe(2);
  });
});

describe(`the path without scripting (EVAL refused) on a Redis older than 7.0 (its errors emulated)${ON}`, () => {
  // Each client library's driver sends the store's plain commands: `PEXPIRE … NX | GT` is made to get the
  // error Redis 6 gives such options (an extra word: Redis 7 answers "Unsupported option").
  const drivers = [IORedisDriver.prototype, NodeRedisDriver.prototype];
  const originals = drivers.map((proto) => proto.send);
  beforeAll(() => {
    drivers.forEach((proto, i) => {
      const send = originals[i] as typeof proto.send;
      proto.send = function (this: typeof proto, key, command) {
        const older =
          command[0] === 'PEXPIRE' && (command[3] === 'NX' || command[3] === 'GT') ? [...command, 'REDIS-6'] : command;
        return send.call(this, key, older);
      } as typeof proto.send;
    });
  });
  afterAll(() => {
    drivers.forEach((proto, i) => {
      proto.send = originals[i] as typeof proto.send;
    });
  });

  it('a credentialed variant keeps its index alive with PTTL + PEXPIRE, and no write fails', async () => {
    await admin.call('ACL', 'SETUSER', 'plain6', 'on', '>secret', '~*', '&*', '+@all', '-@scripting');
    const { store } = await storeClient(suite.server.port, { username: 'plain6', password: 'secret' });
    const errors: CacheError[] = [];
    const api = withCache(axios.create({ baseURL: suite.upstream.url }), {
      store,
      prefix: 'old-plain:',
      fleetStats: false,
      onError: (e) => errors.push(e),
    });
    const tenant = { headers: { authorization: 'Bearer tenant-a' } };
    // The first calls learn that scripting is refused; the writes after that take the plain path.
    for (const path of ['/plain/learn', '/plain/a', '/plain/b']) {
      await api.get(path, tenant);
      await settle();
    }
    expect((await api.get('/plain/a', tenant)).cache?.status).toBe('hit');
    const indexes = await admin.keys('old-plain:*variants');
    expect(indexes.length).toBeGreaterThanOrEqual(2);
    for (const index of indexes) {
      const left = await admin.pttl(index);
      expect(left).toBeGreaterThan(0);
      const [entryKey] = await admin.zrange(index, 0, 0);
      expect(entryKey).toBeDefined();
    }
    // Only the refusal of scripting was reported — no write failed on the PEXPIRE options.
    const messages = errors.map((e) => String((e.cause as Error | undefined)?.message ?? e.message));
    expect(messages.filter((m) => !/NOPERM|can't run/i.test(m))).toEqual([]);
    expect(suite.upstream.calls('/plain/a')).toBe(1);
  });
});
