import axios from 'axios';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { withCache } from '../../src/index.js';
import { startSentinel, type TestSentinel } from '../helpers/topologies.js';
import { startUpstream, type Upstream } from '../helpers/upstream.js';

let sentinel: TestSentinel;
let client: Redis;
let upstream: Upstream;

beforeAll(async () => {
  sentinel = await startSentinel();
  client = sentinel.client();
  client.on('error', () => {}); // expected during the failover
  await new Promise<void>((resolve) => client.once('ready', () => resolve()));
  upstream = await startUpstream();
}, 60_000);

afterAll(async () => {
  client.disconnect();
  await upstream.close();
  await sentinel.stop();
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
    const { stdout } = { stdout: await client.call('ROLE') };
    expect(JSON.stringify(stdout)).toContain('master');
    console.log(
      `[sentinel failover] ${requests} requests during failover, ${failed} failed; hits again ${recoveredMs.toFixed(0)} ms after the master was killed`,
    );
  }, 40_000);
});
