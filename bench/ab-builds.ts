/**
 * A/B of two builds of the library (a code change, not an option), hits or misses, in short alternating
 * slices — and run twice, the builds swapping places, because the position alone moves the result a few
 * percent on this machine (an A/A run read 1.04):
 *
 *   npm run build && mkdir -p scratch && rm -rf scratch/before && cp -r dist scratch/before  # inside the project (imports resolve from there); then change
 *   npm run build && node --import tsx bench/ab-builds.ts scratch/before/index.js dist/index.js [hits|misses] [body] [slices] [slice ms]
 *
 * `hits`: 64 in flight over 128 warm keys (`AB_KEYS=N`: N), through the bench upstream. `misses`: 64 in flight, every
 * request a new URL, answered at once by a no-op base adapter (the cost of a miss without the HTTP
 * exchange). Prints, for each order, the median of B/A per-slice ratios, and their geometric mean with
 * the position bias cancelled: √(ratio with B second ÷ ratio with A second). Pins itself like the bench.
 */
import http from 'node:http';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import axios, { type AxiosAdapter, type AxiosInstance, type AxiosResponse } from 'axios';
import { Redis } from 'ioredis';
import type * as Library from '../src/index.js';
import { BODIES, isBodyId } from './bodies.js';
import { inFlight, median } from './driver.js';
import { pinProcesses } from './pin.js';
import { type BenchRedis, startRedis } from './redis.js';
import { startUpstream, type Upstream } from './upstream.js';

const [pathA, pathB, modeArg = 'hits', bodyArg = 'json-0.5k'] = process.argv.slice(2);
const slices = Number(process.argv[6] ?? 10);
const sliceMs = Number(process.argv[7] ?? 300);
if (!pathA || !pathB) throw new Error('usage: ab-builds.ts <build A index.js> <build B index.js> [hits|misses] [body]');
if (modeArg !== 'hits' && modeArg !== 'misses') throw new Error('mode: hits or misses');
if (!isBodyId(bodyArg)) throw new Error(`body: one of ${Object.keys(BODIES).join(', ')}`);
const body = BODIES[bodyArg];
const CONCURRENCY = 64;
/** Warm keys cycled through by hits (`AB_KEYS`, 128): 1,500 20 KB compressed entries defeat the reuse of decompressed bodies. */
const warmKeys = Number(process.env.AB_KEYS ?? 128);

const load = async (path: string) => (await import(pathToFileURL(resolve(path)).href)) as typeof Library;
const builds = [await load(pathA), await load(pathB)];

interface Side {
  get(i: number): Promise<unknown>;
  close(): Promise<void>;
}

/** An adapter answering at once with the body and the headers our upstream sends. */
function instantAdapter(): AxiosAdapter {
  const date = new Date().toUTCString();
  return (config) =>
    Promise.resolve({
      data: body.binary ? body.bytes : body.text,
      status: 200,
      statusText: 'OK',
      headers: {
        'content-type': body.contentType,
        'content-length': String(body.bytes.length),
        date,
        connection: 'keep-alive',
        'keep-alive': 'timeout=30',
      },
      config,
      request: {},
    } as AxiosResponse);
}

async function side(lib: typeof Library, tag: string, redis: BenchRedis, upstream: Upstream): Promise<Side> {
  const client = new Redis(redis.url, { lazyConnect: true });
  await client.connect();
  const agent = new http.Agent({ keepAlive: true });
  const instance: AxiosInstance =
    modeArg === 'hits'
      ? axios.create({ baseURL: upstream.url, httpAgent: agent })
      : axios.create({ baseURL: 'http://upstream.invalid', adapter: instantAdapter() });
  const api = lib.withCache(instance, { store: client, ttl: 600 });
  const options = body.binary ? { responseType: 'arraybuffer' as const } : undefined;
  let seq = 0;
  const get =
    modeArg === 'hits'
      ? (i: number) => api.get(`/${tag}/${body.id}/k${i % warmKeys}`, options)
      : () => api.get(`/${tag}/${body.id}/m${seq++}`, options);
  for (let i = 0; i < (modeArg === 'hits' ? warmKeys : 128); i++) await get(i); // warm keys (hits), or connections and scripts (misses)
  return {
    get,
    async close() {
      await lib.closeCache(api);
      agent.destroy();
      client.disconnect();
    },
  };
}

/** Median over slices of B's rate / A's rate, slices alternating which build goes first. */
async function compare(first: Side, second: Side): Promise<number> {
  const ratios: number[] = [];
  for (let slice = 0; slice < slices; slice++) {
    const order = slice % 2 ? [second, first] : [first, second];
    const rates = new Map<Side, number>();
    for (const s of order) {
      const run = await inFlight({ concurrency: CONCURRENCY, durationMs: sliceMs, task: (i) => s.get(i) });
      rates.set(s, run.rps);
    }
    ratios.push((rates.get(second) as number) / (rates.get(first) as number));
  }
  return median(ratios);
}

const redis = await startRedis();
process.stderr.write(`${pinProcesses(redis.pid, redis.own).description}\n`);
const upstream = await startUpstream();
try {
  const [libA, libB] = builds as [typeof Library, typeof Library];
  // Order 1: A created first, B second; order 2: B first, A second (fresh instances and connections).
  const a1 = await side(libA, 'a1', redis, upstream);
  const b1 = await side(libB, 'b1', redis, upstream);
  const bSecond = await compare(a1, b1);
  await Promise.all([a1.close(), b1.close()]);
  const b2 = await side(libB, 'b2', redis, upstream);
  const a2 = await side(libA, 'a2', redis, upstream);
  const aSecond = await compare(b2, a2); // A / B with A second
  await Promise.all([a2.close(), b2.close()]);
  process.stdout.write(
    `${modeArg} ${body.label}, ${CONCURRENCY} in flight, ${slices} slices of ${sliceMs} ms per order\n` +
      `B/A with B second ${bSecond.toFixed(3)}, A/B with A second ${aSecond.toFixed(3)}: ` +
      `B/A ${Math.sqrt(bSecond / aSecond).toFixed(3)} with the position bias cancelled\n`,
  );
} finally {
  await upstream.close();
  await redis.stop();
}
