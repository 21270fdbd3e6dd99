import { createRequire } from 'node:module';
import type { AxiosStatic } from 'axios';
import { beforeAll, describe, expect, it } from 'vitest';
import type * as Library from '../../src/index.js';
import { useRedisAndUpstream } from '../helpers/suite.js';

/**
 * The published build, as users load it: `dist/index.js` by `import` (with the ESM axios) and
 * `dist/index.cjs` by `require` (with the CommonJS axios). `npm test` builds it first (`pretest`).
 */
const require = createRequire(import.meta.url);
const builds: [string, typeof Library, AxiosStatic][] = [
  ['ESM', (await import('../../dist/index.js')) as unknown as typeof Library, (await import('axios')).default],
  ['CJS', require('../../dist/index.cjs') as typeof Library, require('axios') as AxiosStatic],
];

const servers = useRedisAndUpstream();
/** A store client of the run's library (ioredis, or node-redis in the dist-node-redis project). */
let redis: Library.RedisClient;
let prefixes = 0;

beforeAll(async () => {
  redis = await servers.store();
});

describe.each(builds)('the %s build', (_, lib, axios) => {
  const ERROR_CLASSES = [
    'CacheError',
    'CacheOptionError',
    'CacheAlreadyInstalledError',
    'CacheNotInstalledError',
    'CacheStoreError',
    'CacheStoreTimeoutError',
    'CacheStoreUnavailableError',
    'CacheEntryError',
  ] as const;

  it('keeps every error class name (the bundler does not rename them)', () => {
    for (const name of ERROR_CLASSES) expect(lib[name].name).toBe(name);
    let thrown: unknown;
    try {
      lib.withCache(axios.create(), { ttl: -1 });
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(lib.CacheOptionError);
    expect((thrown as Error).name).toBe('CacheOptionError');
    expect((thrown as { code: string }).code).toBe('ERR_CACHE_OPTION');
    expect(String(thrown)).toMatch(/^CacheOptionError: Invalid cache option "ttl"/);
  });

  it('refuses the default export, and a second cache on one instance', () => {
    expect(() => lib.withCache(axios)).toThrow(lib.CacheOptionError);
    const api = lib.withCache(axios.create());
    expect(() => lib.withCache(api)).toThrow(lib.CacheAlreadyInstalledError);
  });

  for (const store of ['memory', 'redis'] as const) {
    it(`misses, hits, coalesces and evicts through the ${store} store`, async () => {
      const prefix = `dist${++prefixes}:`;
      const api = lib.withCache(axios.create({ baseURL: servers.upstream.url }), {
        store: store === 'memory' ? new lib.MemoryStore() : redis,
        prefix,
      });
      const path = `/dist/${prefix}`;
      const miss = await api.get(path);
      const hit = await api.get(path);
      expect([miss.cache?.status, hit.cache?.status]).toEqual(['miss', 'hit']);
      expect(hit.data).toEqual(miss.data);
      expect(servers.upstream.calls(path)).toBe(1);

      expect(await lib.evict(api, path)).toBe(1);
      const together = await Promise.all(Array.from({ length: 5 }, () => api.get(path)));
      expect(together.map((r) => r.cache?.status).sort()).toEqual([
        'coalesced',
        'coalesced',
        'coalesced',
        'coalesced',
        'miss',
      ]);
      expect(servers.upstream.calls(path)).toBe(2);
      expect(lib.getCacheStats(api)).toMatchObject({ hits: 1, misses: 2, coalesced: 4, inFlight: 0 });
    });
  }

  it("gives a lone caller the adapter's own error, unchanged", async () => {
    const url = 'http://127.0.0.1:1/refused';
    const failure = (promise: Promise<unknown>) =>
      promise.then(
        () => new Error('expected a rejection') as Error & { code?: string },
        (error: unknown) => error as Error & { code?: string },
      );
    const plain = await failure(axios.get(url));
    const cached = await failure(lib.withCache(axios.create()).get(url));
    expect(cached).toBeInstanceOf(axios.AxiosError);
    expect([cached.name, cached.code, cached.message]).toEqual([plain.name, plain.code, plain.message]);
  });
});

describe('one registry of cached instances per process', () => {
  it('the CJS build and the otel entry point see an instance the ESM build made, and the other way round', async () => {
    const [[, esm, esmAxios], [, cjs, cjsAxios]] = builds as [
      [string, typeof Library, AxiosStatic],
      [string, typeof Library, AxiosStatic],
    ];
    const viaEsm = esm.withCache(esmAxios.create(), { fleetStats: false });
    const viaCjs = cjs.withCache(cjsAxios.create(), { fleetStats: false });
    expect(cjs.getCacheStats(viaEsm).hits).toBe(0);
    expect(esm.getCacheStats(viaCjs).hits).toBe(0);
    const otel = require('../../dist/otel.cjs') as typeof import('../../src/otel/index.js');
    const stop = otel.instrumentCache({ instances: [{ instance: viaEsm }] });
    stop();
  });
});

describe('axios-redis-cache/otel from the published build', () => {
  it('dist/otel.js records the requests of an instance made with dist/index.js', async () => {
    const { MeterProvider, InMemoryMetricExporter, PeriodicExportingMetricReader, AggregationTemporality } =
      await import('@opentelemetry/sdk-metrics');
    const exporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE);
    const reader = new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: 3_600_000 });
    const provider = new MeterProvider({ readers: [reader] });
    const [[, esm, esmAxios]] = builds as [[string, typeof Library, AxiosStatic]];
    const otel = (await import('../../dist/otel.js')) as unknown as typeof import('../../src/otel/index.js');
    const stop = otel.instrumentCache({ meter: provider.getMeter('dist') });
    const api = esm.withCache(esmAxios.create({ baseURL: servers.upstream.url }), { fleetStats: false });
    await api.get('/otel-dist');
    await api.get('/otel-dist');
    await reader.forceFlush();
    stop();
    const metric = exporter
      .getMetrics()
      .at(-1)
      ?.scopeMetrics.flatMap((s) => s.metrics)
      .find((m) => m.descriptor.name === otel.METRICS.requests);
    const statuses = metric?.dataPoints.map((p) => p.attributes['axios_redis_cache.status']).sort();
    expect(statuses).toEqual(['hit', 'miss']);
    await provider.shutdown();
  });
});
