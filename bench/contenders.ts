import http from 'node:http';
import axios, { type AxiosAdapter, type AxiosInstance, type AxiosResponse } from 'axios';
import { buildStorage, canStale, type StorageValue, setupCache } from 'axios-cache-interceptor';
import type { Redis } from 'ioredis';
import type { CacheStats } from '../src/index.js';
import { BODIES, type Body, isBodyId } from './bodies.js';
import { closeCache, getCacheStats, withCache } from './library.js';
import type { BenchRedis } from './redis.js';

/** Everyone measured. Each one that talks to Redis has its own connection; each HTTP client its own agent. */
export type ContenderId =
  | 'ours'
  | 'ours-raw'
  | 'ours-node-redis'
  | 'ours-l1'
  | 'ours-http'
  | 'aci-redis'
  | 'raw-get'
  | 'noop-axios'
  | 'no-cache';

export const LABELS: Readonly<Record<ContenderId, string>> = {
  ours: 'axios-redis-cache (Redis)',
  'ours-raw': 'axios-redis-cache (Redis, compress: false)',
  'ours-node-redis': 'axios-redis-cache (Redis, node-redis client)',
  'ours-l1': 'axios-redis-cache (Redis + l1)',
  'ours-http': 'axios-redis-cache (Redis, httpSemantics)',
  'aci-redis': 'axios-cache-interceptor + Redis',
  'raw-get': 'raw ioredis GET (+ parse)',
  'noop-axios': 'axios + no-op adapter',
  'no-cache': 'axios, no cache',
};

/** How a response was served, as each library reports it (`none` for contenders without a cache). */
export type Outcome = 'hit' | 'stale' | 'miss' | 'coalesced' | 'revalidated' | 'bypass' | 'none';

export interface Contender {
  readonly id: ContenderId;
  readonly label: string;
  /** GET `/<id>/<body id>/<key>` from the upstream (or the cache); resolves to the response data. */
  get(body: Body, key: string): Promise<unknown>;
  /** Outcomes counted since the last {@link Contender.resetOutcomes}. */
  readonly outcomes: Record<Outcome, number>;
  resetOutcomes(): void;
  /** Our own counters (`getCacheStats`), for ours only. */
  cacheStats?(): CacheStats;
  close(): Promise<void>;
}

export interface ContenderContext {
  readonly upstreamUrl: string;
  readonly redis: BenchRedis;
  /** Entry lifetime, seconds (the same for every cache). */
  readonly ttlSeconds: number;
}

export async function createContender(id: ContenderId, ctx: ContenderContext): Promise<Contender> {
  switch (id) {
    case 'ours':
      return ours(ctx);
    case 'ours-raw':
      return ours(ctx, false, false, false, true);
    case 'ours-node-redis':
      return ours(ctx, false, false, true);
    case 'ours-l1':
      return ours(ctx, true);
    case 'ours-http':
      return ours(ctx, false, true);
    case 'aci-redis':
      return aciRedis(ctx);
    case 'raw-get':
      return rawGet(ctx);
    case 'noop-axios':
      return noopAxios(ctx);
    case 'no-cache':
      return noCache(ctx);
  }
}

export async function createContenders(ids: readonly ContenderId[], ctx: ContenderContext): Promise<Contender[]> {
  const out: Contender[] = [];
  for (const id of ids) out.push(await createContender(id, ctx));
  return out;
}

export async function closeAll(contenders: readonly Contender[]): Promise<void> {
  await Promise.all(contenders.map((c) => c.close()));
}

function newOutcomes(): Record<Outcome, number> {
  return { hit: 0, stale: 0, miss: 0, coalesced: 0, revalidated: 0, bypass: 0, none: 0 };
}

function path(id: ContenderId, body: Body, key: string): string {
  return `/${id}/${body.id}/${key}`;
}

const BINARY = { responseType: 'arraybuffer' } as const;

function httpInstance(ctx: ContenderContext, agent: http.Agent): AxiosInstance {
  return axios.create({ baseURL: ctx.upstreamUrl, httpAgent: agent });
}

/**
 * Ours with default options; with `l1`, plus the in-process layer (`l1: { ttl: 1 }`, its defaults); with
 * `http`, `httpSemantics: true` instead of `ttl` (freshness from `fallbackTtl`, as the bench upstream sends
 * no caching headers: every hit then carries an `Age` header); with `nodeRedis`, on the official client
 * (`redis`: `createClient()` then `connect()`, as the seed articles do) instead of ioredis.
 */
async function ours(
  ctx: ContenderContext,
  l1 = false,
  http9111 = false,
  nodeRedis = false,
  /** `compress: false` (the `ours-raw` contender). */
  compress = false,
): Promise<Contender> {
  const id: ContenderId = l1
    ? 'ours-l1'
    : http9111
      ? 'ours-http'
      : nodeRedis
        ? 'ours-node-redis'
        : compress
          ? 'ours-raw'
          : 'ours';
  const [redis, disconnect] = nodeRedis
    ? await ctx.redis.connectNodeRedis(`bench-${id}`).then((c) => [c, () => c.destroy()] as const)
    : await ctx.redis.connect(`bench-${id}`).then((c) => [c, () => c.disconnect()] as const);
  const agent = new http.Agent({ keepAlive: true });
  const freshness = http9111 ? { httpSemantics: true, fallbackTtl: ctx.ttlSeconds } : { ttl: ctx.ttlSeconds };
  // What the cache swallowed, by kind: printed when the contender closes, so that a row's store errors or
  // timeouts (listed under Anomalies) come with their causes in the bench's log.
  const errorKinds = new Map<string, number>();
  const api = withCache(httpInstance(ctx, agent), {
    store: redis,
    onError: (error, { operation }) => {
      const cause = error.cause instanceof Error ? ` ← ${error.cause.name}: ${error.cause.message.slice(0, 100)}` : '';
      const kind = `${operation} ${error.code}${cause}`;
      errorKinds.set(kind, (errorKinds.get(kind) ?? 0) + 1);
    },
    ...freshness,
    ...(l1 ? { l1: {} } : {}),
    // Without compression (it is on by default for bodies of 16 KiB and more).
    ...(compress ? { compress: false } : {}),
  });
  if (l1) {
    while (getCacheStats(api).l1 !== 'live') await new Promise((resolve) => setTimeout(resolve, 5));
  }
  const outcomes = newOutcomes();
  return {
    id,
    label: LABELS[id],
    outcomes,
    async get(body, key) {
      const response = await api.get(path(id, body, key), body.binary ? BINARY : undefined);
      outcomes[response.cache?.status ?? 'none']++;
      return response.data;
    },
    resetOutcomes: () => Object.assign(outcomes, newOutcomes()),
    cacheStats: () => getCacheStats(api),
    async close() {
      await closeCache(api);
      agent.destroy();
      disconnect();
      if (errorKinds.size > 0) {
        const kinds = [...errorKinds].map(([kind, n]) => `${n} × ${kind}`).join('; ');
        process.stderr.write(`[bench] ${LABELS[id]}: errors the cache reported: ${kinds}\n`);
      }
    },
  };
}

/**
 * axios-cache-interceptor with the Redis storage of its documentation ("Storages" guide, "Node Redis
 * storage": `buildStorage({ find, set, remove })`, JSON in Redis, expiry with `PXAT`), written for ioredis.
 */
async function aciRedis(ctx: ContenderContext): Promise<Contender> {
  const client = await ctx.redis.connect('bench-aci');
  const agent = new http.Agent({ keepAlive: true });
  const storage = buildStorage({
    find(key) {
      return client
        .get(`axios-cache-${key}`)
        .then((result) => (result ? (JSON.parse(result) as StorageValue) : undefined));
    },
    async set(key, value, req) {
      await client.set(
        `axios-cache-${key}`,
        JSON.stringify(value),
        'PXAT',
        // As documented: a loading entry lives for the request's TTL (or 1 minute); a cached entry that
        // cannot go stale expires with its TTL; anything else is kept for up to an hour.
        value.state === 'loading'
          ? Date.now() + (req?.cache && typeof req.cache.ttl === 'number' ? req.cache.ttl : 60_000)
          : (value.state === 'stale' && value.ttl) || (value.state === 'cached' && !canStale(value))
            ? value.createdAt + (value.ttl ?? 0)
            : Date.now() + 60 * 60 * 1000,
      );
    },
    async remove(key) {
      await client.del(`axios-cache-${key}`);
    },
  });
  const api = setupCache(httpInstance(ctx, agent), { storage, ttl: ctx.ttlSeconds * 1000 });
  const outcomes = newOutcomes();
  return {
    id: 'aci-redis',
    label: LABELS['aci-redis'],
    outcomes,
    async get(body, key) {
      const response = await api.get(path('aci-redis', body, key), body.binary ? BINARY : undefined);
      outcomes[response.cached ? (response.stale ? 'stale' : 'hit') : 'miss']++;
      return response.data;
    },
    resetOutcomes: () => Object.assign(outcomes, newOutcomes()),
    async close() {
      agent.destroy();
      client.disconnect();
    },
  };
}

/**
 * The floor of any Redis-backed cache: one `GET` of the body bytes and the parse a caller needs (JSON.parse for
 * JSON; the bytes as they are for binary). A miss fetches from upstream and `SET … PX`, like a hand-written
 * cache-aside, so that warming works the same way as for the libraries.
 */
async function rawGet(ctx: ContenderContext): Promise<Contender> {
  const redis: Redis = await ctx.redis.connect('bench-raw');
  const agent = new http.Agent({ keepAlive: true });
  const api = axios.create({ baseURL: ctx.upstreamUrl, httpAgent: agent, responseType: 'arraybuffer' });
  const ttlMs = ctx.ttlSeconds * 1000;
  const outcomes = newOutcomes();
  const fill = async (body: Body, key: string, redisKey: string): Promise<unknown> => {
    outcomes.miss++;
    const bytes = (await api.get<Buffer>(path('raw-get', body, key))).data;
    await redis.set(redisKey, bytes, 'PX', ttlMs);
    return body.binary ? bytes : JSON.parse(bytes.toString('utf8'));
  };
  return {
    id: 'raw-get',
    label: LABELS['raw-get'],
    outcomes,
    async get(body, key) {
      const redisKey = `raw:${body.id}:${key}`;
      if (body.binary) {
        const bytes = await redis.getBuffer(redisKey);
        if (bytes === null) return fill(body, key, redisKey);
        outcomes.hit++;
        return bytes;
      }
      const text = await redis.get(redisKey);
      if (text === null) return fill(body, key, redisKey);
      outcomes.hit++;
      return JSON.parse(text);
    },
    resetOutcomes: () => Object.assign(outcomes, newOutcomes()),
    async close() {
      agent.destroy();
      redis.disconnect();
    },
  };
}

/**
 * The floor of anything built on axios: the full axios pipeline (config merge, interceptors, transforms)
 * around an adapter that answers at once with the body (a string for JSON, so transformResponse parses it
 * exactly as after a real request).
 */
/**
 * axios with an adapter that answers at once: the pipeline alone. Configured as the other contenders
 * (baseURL, agent) and answering with the headers our upstream sends, so that axios does the same config
 * merge and the same header work as for a real response; only the HTTP exchange is missing.
 */
async function noopAxios(ctx: ContenderContext): Promise<Contender> {
  const agent = new http.Agent({ keepAlive: true });
  const date = new Date().toUTCString();
  const adapter: AxiosAdapter = (config) => {
    const bodyId = config.url?.split('/', 3)[2];
    const body = isBodyId(bodyId) ? BODIES[bodyId] : undefined;
    const response: AxiosResponse = {
      data: body ? (body.binary ? body.bytes : body.text) : '',
      status: body ? 200 : 404,
      statusText: body ? 'OK' : 'Not Found',
      headers: {
        'content-type': body?.contentType ?? 'text/plain',
        'content-length': String(body?.bytes.length ?? 0),
        date,
        connection: 'keep-alive',
        'keep-alive': 'timeout=30',
      },
      config,
      request: {},
    };
    return Promise.resolve(response);
  };
  const api = axios.create({ baseURL: ctx.upstreamUrl, httpAgent: agent, adapter });
  const outcomes = newOutcomes();
  return {
    id: 'noop-axios',
    label: LABELS['noop-axios'],
    outcomes,
    async get(body, key) {
      const response = await api.get(path('noop-axios', body, key), body.binary ? BINARY : undefined);
      outcomes.none++;
      return response.data;
    },
    resetOutcomes: () => Object.assign(outcomes, newOutcomes()),
    async close() {
      agent.destroy();
    },
  };
}

/** Plain axios with its http adapter: every request goes upstream. */
async function noCache(ctx: ContenderContext): Promise<Contender> {
  const agent = new http.Agent({ keepAlive: true });
  const api = httpInstance(ctx, agent);
  const outcomes = newOutcomes();
  return {
    id: 'no-cache',
    label: LABELS['no-cache'],
    outcomes,
    async get(body, key) {
      const response = await api.get(path('no-cache', body, key), body.binary ? BINARY : undefined);
      outcomes.none++;
      return response.data;
    },
    resetOutcomes: () => Object.assign(outcomes, newOutcomes()),
    async close() {
      agent.destroy();
    },
  };
}
