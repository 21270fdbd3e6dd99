import {
  AggregationTemporality,
  type DataPoint,
  InMemoryMetricExporter,
  MeterProvider,
  PeriodicExportingMetricReader,
} from '@opentelemetry/sdk-metrics';
import axios from 'axios';
import { afterEach, describe, expect, it } from 'vitest';
import { closeCache, withCache } from '../../src/index.js';
import { instrumentCache, METRICS } from '../../src/otel/index.js';
import { useRedisAndUpstream } from '../helpers/suite.js';

/**
 * `axios-redis-cache/otel` with the OpenTelemetry SDK and its in-memory exporter: real requests through a
 * cached instance on a real Redis, and what the exporter received.
 */
const servers = useRedisAndUpstream();
const stops: (() => void | Promise<void>)[] = [];
afterEach(async () => {
  for (const stop of stops.splice(0)) await stop();
});

function sdk() {
  const exporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE);
  const reader = new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: 3_600_000 });
  const provider = new MeterProvider({ readers: [reader] });
  stops.push(() => provider.shutdown());
  return {
    meter: provider.getMeter('test'),
    async points(name: string): Promise<DataPoint<unknown>[]> {
      await reader.forceFlush();
      const batches = exporter.getMetrics();
      const last = batches.at(-1);
      const metric = last?.scopeMetrics.flatMap((s) => s.metrics).find((m) => m.descriptor.name === name);
      return (metric?.dataPoints ?? []) as DataPoint<unknown>[];
    },
  };
}

describe('axios-redis-cache/otel', () => {
  it('counts requests by cache status and source, with bounded attributes and durations in seconds', async () => {
    const { meter, points } = sdk();
    servers.upstream.handle((_req, res) => {
      res.end('{"ok":true}');
    });
    const api = withCache(axios.create({ baseURL: servers.upstream.url }), {
      store: await servers.store(),
      prefix: 'otel-1:',
      fleetStats: false,
    });
    stops.push(() => closeCache(api));
    const stop = instrumentCache({
      meter,
      group: (config) => (config.url?.startsWith('/domains/') ? '/domains/:domain' : undefined),
    });
    stops.push(stop);
    await api.get('/domains/a.example');
    await api.get('/domains/a.example');
    await api.get('/domains/b.example');
    await api.get('/other', { cache: false });

    const requests = await points(METRICS.requests);
    const count = (status: string) =>
      requests
        .filter((p) => p.attributes['axios_redis_cache.status'] === status)
        .reduce((n, p) => n + (p.value as number), 0);
    expect(count('miss')).toBe(2);
    expect(count('hit')).toBe(1);
    expect(count('bypass')).toBe(1);
    const hit = requests.find((p) => p.attributes['axios_redis_cache.status'] === 'hit');
    expect(hit?.attributes).toEqual({
      'http.request.method': 'GET',
      'axios_redis_cache.status': 'hit',
      'axios_redis_cache.source': 'store',
      'server.address': '127.0.0.1',
      'server.port': Number(new URL(servers.upstream.url).port),
      'http.response.status_code': 200,
      'axios_redis_cache.group': '/domains/:domain',
    });
    // Never the raw URL: only the group names the route.
    for (const p of requests) expect(JSON.stringify(p.attributes)).not.toMatch(/a\.example|b\.example/);

    const durations = await points(METRICS.duration);
    const total = durations.reduce((n, p) => n + (p.value as { count: number }).count, 0);
    expect(total).toBe(4);
    for (const p of durations) expect((p.value as { max: number }).max).toBeLessThan(10); // seconds, not ms
    const store = await points(METRICS.storeDuration);
    expect(store.reduce((n, p) => n + (p.value as { count: number }).count, 0)).toBeGreaterThanOrEqual(3);

    stop();
    await api.get('/domains/c.example');
    expect((await points(METRICS.requests)).reduce((n, p) => n + (p.value as number), 0)).toBe(4);
  });

  it('observes breaker states and l1 size of the instances given, and counts store errors', async () => {
    const { meter, points } = sdk();
    const api = withCache(axios.create({ baseURL: servers.upstream.url }), {
      store: await servers.store(),
      prefix: 'otel-2:',
      fleetStats: false,
      l1: {},
      storeTimeout: 20,
      breaker: { failures: 1, cooldown: 60_000 },
    });
    stops.push(() => closeCache(api));
    stops.push(instrumentCache({ meter, instances: [{ instance: api, name: 'keys' }] }));
    servers.upstream.handle((_req, res) => {
      res.end('{"ok":true}');
    });
    await api.get('/l1');
    for (let i = 0; i < 50 && (await points(METRICS.l1Entries))[0]?.value !== 1; i++) {
      await new Promise((r) => setTimeout(r, 20));
    }
    expect((await points(METRICS.l1Entries))[0]).toMatchObject({
      value: 1,
      attributes: { 'axios_redis_cache.cache': 'keys' },
    });

    // A paused Redis (CLIENT PAUSE, 300 ms): the read times out, the read breaker opens.
    const blocker = await servers.client();
    await blocker.call('CLIENT', 'PAUSE', '300');
    await api.get('/paused', { cache: { coalesce: false } });
    const states = await points(METRICS.breakerState);
    expect(states.find((p) => p.attributes['axios_redis_cache.breaker'] === 'read')?.value).toBe(2);
    const errors = await points(METRICS.storeErrors);
    expect(errors.some((p) => p.attributes['error.type'] === 'ERR_CACHE_STORE_TIMEOUT')).toBe(true);
    expect((await points(METRICS.breakerChanges)).length).toBeGreaterThan(0);
  });
});
