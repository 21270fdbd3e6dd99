import axios from 'axios';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { type RedisClient, withCache } from '../../src/index.js';
import { closeClients, storeSentinel } from '../helpers/clients.js';
import { startSentinel, type TestSentinel } from '../helpers/topologies.js';
import { echoJson, startUpstream, type Upstream } from '../helpers/upstream.js';

let sentinel: TestSentinel;
let client: RedisClient;
let upstream: Upstream;

beforeAll(async () => {
  sentinel = await startSentinel();
  // A Sentinel-managed client of the run's library (errors are expected during the failover).
  client = (await storeSentinel(sentinel.masterName, [{ host: '127.0.0.1', port: sentinel.sentinelPort }])).store;
  upstream = await startUpstream();
}, 60_000);

afterAll(async () => {
  await closeClients();
  await upstream.close();
  await sentinel.stop();
});

describe('Sentinel: fleet coalescing', () => {
  it('a waiting instance on another client is woken by the write, through the master the sentinel names', async () => {
    // 200 ms: shorter than the holder's first lease renewal (a third of lockTtl), longer than the wait.
    upstream.handle((req, res, n) => void setTimeout(() => echoJson(req, res, n), 200));
    const other = (await storeSentinel(sentinel.masterName, [{ host: '127.0.0.1', port: sentinel.sentinelPort }]))
      .store;
    const a = withCache(axios.create({ baseURL: upstream.url }), { store: client, prefix: 'sw:', fleetStats: false });
    const b = withCache(axios.create({ baseURL: upstream.url }), { store: other, prefix: 'sw:', fleetStats: false });
    const master = new Redis({ port: sentinel.masterPort, host: '127.0.0.1' });
    try {
      await master.config('RESETSTAT');
      const first = a.get('/wake');
      await new Promise((resolve) => setTimeout(resolve, 50));
      const [ra, rb] = await Promise.all([first, b.get('/wake')]);
      expect([ra.cache?.status, rb.cache?.status]).toEqual(['miss', 'coalesced']);
      expect(upstream.calls('/wake')).toBe(1);
      const info = await master.info('commandstats');
      const calls = (name: string) => Number(new RegExp(`cmdstat_${name}:calls=(\\d+)`).exec(info)?.[1] ?? 0);
      console.log(
        `[sentinel] waiter woken by the write: subscribe ${calls('subscribe')}, scripts ${calls('evalsha') + calls('eval')}`,
      );
      expect(calls('subscribe')).toBe(1);
      expect(calls('evalsha') + calls('eval')).toBeLessThanOrEqual(5); // no polling
    } finally {
      master.disconnect();
      upstream.handle(echoJson);
    }
  });
});

describe('Sentinel: the master is killed under load', () => {
  it('fails no request, and serves hits again from the promoted replica', async () => {
    const api = withCache(axios.create({ baseURL: upstream.url }), { store: client, prefix: 's:' });
    for (let i = 0; i < 5; i++) await api.get(`/s/${i}`);
    for (let i = 0; i < 5; i++) expect((await api.get(`/s/${i}`)).cache?.status).toBe('hit');

    sentinel.killMaster();
    const killedAt = performance.now();
    let failed = 0;
    let requests = 0;
    let hitsAfter = 0;
    let recoveredMs = -1;
    while (performance.now() - killedAt < 20_000 && hitsAfter < 5) {
      try {
        const res = await api.get(`/s/${requests % 5}`);
        if (res.cache?.status === 'hit' && performance.now() - killedAt > 500) {
          if (recoveredMs < 0) recoveredMs = performance.now() - killedAt;
          hitsAfter++;
        }
      } catch {
        failed++;
      }
      requests++;
      await new Promise((r) => setTimeout(r, 10));
    }
    expect(failed).toBe(0);
    expect(hitsAfter).toBe(5);
    // The client follows the promoted replica as the master: a new answer is written and read back.
    expect((await api.get('/s/after-failover')).cache?.status).toBe('miss');
    await vi.waitFor(async () => expect((await api.get('/s/after-failover')).cache?.status).toBe('hit'), {
      timeout: 3000,
      interval: 50,
    });
    console.log(
      `[sentinel failover] ${requests} requests during failover, ${failed} failed; hits again ${recoveredMs.toFixed(0)} ms after the master was killed`,
    );
  }, 40_000);
});
