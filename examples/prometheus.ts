/**
 * Cache metrics for Prometheus: `axios-redis-cache/otel` turns the cache's events into OpenTelemetry
 * metrics, and the OpenTelemetry Prometheus exporter serves them on /metrics.
 *
 *   npx tsx examples/prometheus.ts                                        # in-memory store
 *   REDIS_URL=redis://127.0.0.1:6379 npx tsx examples/prometheus.ts       # Redis
 *
 * Needs the dev dependencies `@opentelemetry/api`, `@opentelemetry/sdk-metrics` and
 * `@opentelemetry/exporter-prometheus` (in your service: add them to your dependencies).
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { PrometheusExporter } from '@opentelemetry/exporter-prometheus';
import { MeterProvider } from '@opentelemetry/sdk-metrics';
import axios from 'axios';
import { Redis } from 'ioredis';
import { closeCache, withCache } from '../src/index.js';
import { instrumentCache } from '../src/otel/index.js';

// In a service: `import { instrumentCache } from 'axios-redis-cache/otel'`.
const exporter = new PrometheusExporter({ port: 0, preventServerStart: true });
const provider = new MeterProvider({ readers: [exporter] });
await exporter.startServer();
const metricsPort = (exporter as unknown as { _server: http.Server })._server.address() as AddressInfo;

// A small upstream: one signing key per domain.
const upstream = http.createServer((req, res) => {
  res.setHeader('content-type', 'application/json');
  res.end(JSON.stringify({ domain: req.url?.split('/')[2], key: 'k1' }));
});
await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
const base = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;

const redis = process.env.REDIS_URL ? new Redis(process.env.REDIS_URL) : undefined;
redis?.on('error', (error) => console.error(`redis: ${error.message}`));
const api = withCache(axios.create({ baseURL: base }), {
  ...(redis ? { store: redis } : {}),
  prefix: 'prometheus-demo:',
});
const stop = instrumentCache({
  meter: provider.getMeter('keys-service'),
  // A route template: bounded, unlike the raw URL.
  group: (config) => (config.url?.startsWith('/domains/') ? '/domains/:domain/dkim' : undefined),
  instances: [{ instance: api, name: 'keys' }],
});

for (const domain of ['a.example', 'b.example', 'a.example', 'a.example', 'b.example']) {
  await api.get(`/domains/${domain}/dkim`);
}

// What Prometheus would scrape.
const scrape = await fetch(`http://127.0.0.1:${metricsPort.port}/metrics`);
const text = await scrape.text();
console.log(
  text
    .split('\n')
    .filter((line) => line.includes('axios_redis_cache_requests') || line.includes('axios_redis_cache_breaker_state'))
    .join('\n'),
);

stop();
await closeCache(api);
await provider.shutdown();
redis?.disconnect();
upstream.close();
