/**
 * A/B of hit-path variants in short alternating slices (robust to a machine whose speed drifts):
 *
 *   npm run bench:ab -- [body] [in flight] [variants] [slices] [slice ms] [hits|misses]
 *   npm run bench:ab -- json-0.5k 64 ours,ours-unbatched,ours-autopipelining,aci-redis,noop-axios 10 300
 *   npm run bench:ab -- json-0.5k 64 ours,ours-node-redis,aci-redis,no-cache 20 500 misses
 *   AB_KEYS=1500 npm run bench:ab -- json-20k 64 ours-raw,ours 20 400   (warm keys cycled, 128 by default)
 *
 * Variants: every bench contender (ours, ours-l1, aci-redis, raw-get, noop-axios), plus
 * - `ours-unbatched`: `new RedisStore(client, { batchReads: false })` (one GET per read);
 * - `ours-autopipelining`: unbatched, on a client with ioredis' `enableAutoPipelining: true`;
 * - `ours-batched-autopipelining`: the default read batch, on an auto-pipelining client.
 * `misses`: every request to a URL never asked before (lookup, upstream call, write) instead of warm hits.
 * Prints each variant's median req/s and the median of its per-slice ratio to the first variant (slices of
 * different variants run back to back, so a ratio compares like with like). Pins itself like the bench.
 */
import http from 'node:http';
import axios from 'axios';
import { Redis } from 'ioredis';
import { BODIES, type Body, isBodyId } from './bodies.js';
import { type Contender, type ContenderId, createContender, LABELS } from './contenders.js';
import { inFlight, median } from './driver.js';
import { closeCache, RedisStore, withCache } from './library.js';
import { pinProcesses } from './pin.js';
import { startRedis } from './redis.js';
import { startUpstream } from './upstream.js';

const VARIANTS = ['ours-unbatched', 'ours-autopipelining', 'ours-batched-autopipelining'] as const;
type Variant = (typeof VARIANTS)[number];

const [bodyArg = 'json-0.5k', inFlightArg = '64', variantsArg = 'ours,ours-unbatched,ours-autopipelining,aci-redis'] =
  process.argv.slice(2);
const slices = Number(process.argv[5] ?? 10);
const sliceMs = Number(process.argv[6] ?? 300);
const misses = process.argv[7] === 'misses';
if (process.argv[7] !== undefined && !misses && process.argv[7] !== 'hits') throw new Error('mode: hits or misses');
if (!isBodyId(bodyArg)) throw new Error(`body: one of ${Object.keys(BODIES).join(', ')}`);
const body = BODIES[bodyArg];
const concurrency = Number(inFlightArg);
const names = variantsArg.split(',');
/** Warm keys cycled through by hits (`AB_KEYS`, 128): 1,500 20 KB compressed entries defeat the reuse of decompressed bodies. */
const warmKeys = Number(process.env.AB_KEYS ?? 128);

const redis = await startRedis();
process.stderr.write(`${pinProcesses(redis.pid, redis.own).description}\n`);
const upstream = await startUpstream();
const ctx = { upstreamUrl: upstream.url, redis, ttlSeconds: 600 };

async function variant(name: string): Promise<Contender> {
  if (name in LABELS) return createContender(name as ContenderId, ctx);
  if (!(VARIANTS as readonly string[]).includes(name)) throw new Error(`unknown variant ${name}`);
  const v = name as Variant;
  const client = new Redis(redis.url, { enableAutoPipelining: v !== 'ours-unbatched', lazyConnect: true });
  await client.connect();
  const agent = new http.Agent({ keepAlive: true });
  const store = new RedisStore(client, { batchReads: v === 'ours-batched-autopipelining' });
  const api = withCache(axios.create({ baseURL: upstream.url, httpAgent: agent }), { store, ttl: 600 });
  const outcomes = { hit: 0, stale: 0, miss: 0, coalesced: 0, revalidated: 0, bypass: 0, none: 0 };
  return {
    id: 'ours',
    label: name,
    outcomes,
    resetOutcomes: () =>
      Object.assign(outcomes, { hit: 0, stale: 0, miss: 0, coalesced: 0, revalidated: 0, bypass: 0, none: 0 }),
    async get(b: Body, key: string) {
      const response = await api.get(`/ours/${b.id}/${key}`, b.binary ? { responseType: 'arraybuffer' } : undefined);
      outcomes[response.cache?.status ?? 'none']++;
      return response.data;
    },
    async close() {
      await closeCache(api);
      agent.destroy();
      client.disconnect();
    },
  };
}

const contenders: Contender[] = [];
try {
  for (const name of names) contenders.push(await variant(name));
  const keys = Array.from({ length: warmKeys }, (_, i) => `k${i}`);
  for (const c of contenders) for (const key of keys) await c.get(body, key);
  for (const c of contenders) c.resetOutcomes();
  let seq = 0;
  const rates = names.map(() => [] as number[]);
  for (let slice = 0; slice < slices; slice++) {
    const order = contenders.map((_, i) => i);
    if (slice % 2) order.reverse();
    for (const i of order) {
      const c = contenders[i] as Contender;
      const run = await inFlight({
        concurrency,
        durationMs: sliceMs,
        task: (j) => c.get(body, misses ? `m${seq++}` : (keys[j % warmKeys] as string)),
      });
      (rates[i] as number[]).push(run.rps);
    }
  }
  const base = rates[0] as number[];
  process.stdout.write(
    `${misses ? 'misses' : 'hits'}, ${body.label}, ${concurrency} in flight, ${slices} slices of ${sliceMs} ms each\n`,
  );
  for (const [i, name] of names.entries()) {
    const r = rates[i] as number[];
    const ratio = median(r.map((v, s) => v / (base[s] as number)));
    const o = (contenders[i] as Contender).outcomes;
    process.stdout.write(
      `${name.padEnd(28)} ${Math.round(median(r)).toLocaleString('en-US').padStart(8)} req/s  ` +
        `×${ratio.toFixed(2)} vs ${names[0]}  (hits ${o.hit + o.none}, misses ${o.miss})\n`,
    );
  }
} finally {
  for (const c of contenders) await c.close();
  await upstream.close();
  await redis.stop();
}
