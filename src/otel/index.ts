/**
 * `axios-redis-cache/otel`: OpenTelemetry metrics from the cache's `diagnostics_channel` events. Opt-in:
 * nothing is measured until `instrumentCache()` is called, and `@opentelemetry/api` (an optional peer
 * dependency) is only loaded by this entry point. Attributes are bounded: method, server address and
 * port, response status, cache status and source, and your own `group(config)` (a route template) —
 * never the raw URL.
 */
import diagnosticsChannel from 'node:diagnostics_channel';
import { type Attributes, type Meter, metrics } from '@opentelemetry/api';
import type { AxiosInstance, InternalAxiosRequestConfig } from 'axios';
import type { CacheError } from '../api/errors.js';
import type { CachedAxiosInstance } from '../api/types.js';
import { getCacheStats } from '../api/with-cache.js';
import type { CacheStats } from '../observe/stats.js';
import {
  type BreakerMessage,
  breakerChannel,
  type EvictionMessage,
  evictionChannel,
  type RequestTraceContext,
  requestChannel,
  type StoreErrorMessage,
  storeErrorChannel,
} from '../observe/tracing.js';

export interface CacheMetricsOptions {
  /** Where the instruments are created. @default `metrics.getMeter('axios-redis-cache')` (the global provider) */
  meter?: Meter;
  /**
   * A bounded name for a request, e.g. its route template (`'/domains/:domain/dkim'`), recorded as
   * `axios_redis_cache.group`. Return `undefined` to leave it out. Never return the raw URL: every distinct
   * value is a new time series.
   * @default none
   */
  group?: (config: InternalAxiosRequestConfig) => string | undefined;
  /**
   * Cached instances whose breaker states and `l1` size are observed (gauges), labelled `name` (their
   * prefix by default).
   * @default none
   */
  instances?: readonly { instance: CachedAxiosInstance | AxiosInstance; name?: string }[];
}

/** Instrument names, exported for dashboards and tests. */
export const METRICS = {
  requests: 'axios_redis_cache.requests',
  duration: 'axios_redis_cache.request.duration',
  storeDuration: 'axios_redis_cache.store.duration',
  leaseWait: 'axios_redis_cache.lease.wait.duration',
  storeErrors: 'axios_redis_cache.store.errors',
  breakerChanges: 'axios_redis_cache.breaker.changes',
  evictions: 'axios_redis_cache.evictions',
  breakerState: 'axios_redis_cache.breaker.state',
  l1Entries: 'axios_redis_cache.l1.entries',
} as const;

/** Bucket boundaries in seconds for cache timings: 100 µs to 10 s. */
const BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

const BREAKER_VALUES: Record<CacheStats['breaker'], number> = { closed: 0, 'half-open': 1, open: 2 };

/** Start turning the cache's events into metrics. Returns a function that stops (unsubscribes). */
export function instrumentCache(options: CacheMetricsOptions = {}): () => void {
  const meter = options.meter ?? metrics.getMeter('axios-redis-cache');
  const group = options.group;
  const requests = meter.createCounter(METRICS.requests, {
    description: 'Requests through a cached axios instance, by cache status and where the answer came from',
    unit: '{request}',
  });
  const duration = meter.createHistogram(METRICS.duration, {
    description: 'Time from the request reaching the cache to its answer (upstream call included on a miss)',
    unit: 's',
    advice: { explicitBucketBoundaries: BUCKETS },
  });
  const storeDuration = meter.createHistogram(METRICS.storeDuration, {
    description: 'Time a request waited for store reads',
    unit: 's',
    advice: { explicitBucketBoundaries: BUCKETS },
  });
  const leaseWait = meter.createHistogram(METRICS.leaseWait, {
    description: "Time a request waited for another process's fill (fleet lease)",
    unit: 's',
    advice: { explicitBucketBoundaries: BUCKETS },
  });
  const storeErrors = meter.createCounter(METRICS.storeErrors, {
    description: 'Store failures and timeouts the cache swallowed (each a miss or a dropped write)',
    unit: '{error}',
  });
  const breakerChanges = meter.createCounter(METRICS.breakerChanges, {
    description: 'Circuit breaker state changes',
    unit: '{change}',
  });

  const started = new WeakMap<object, number>();
  const onStart = (message: unknown) => started.set(message as object, performance.now());
  const onDone = (message: unknown) => {
    const context = message as RequestTraceContext;
    const since = started.get(context);
    const attributes = requestAttributes(context, group);
    requests.add(1, attributes);
    if (since !== undefined) duration.record((performance.now() - since) / 1000, attributes);
    const small: Attributes = { 'axios_redis_cache.status': attributes['axios_redis_cache.status'] ?? 'error' };
    if (context.storeMs) storeDuration.record(context.storeMs / 1000, small);
    if (context.leaseWaitMs) leaseWait.record(context.leaseWaitMs / 1000, small);
  };
  const handlers = { start: onStart, asyncEnd: onDone, error: onDone, end: noop, asyncStart: noop };
  requestChannel.subscribe(handlers as never);

  const onStoreError = (message: unknown) => {
    const { error, operation } = message as StoreErrorMessage;
    storeErrors.add(1, { 'axios_redis_cache.operation': operation, 'error.type': errorType(error) });
  };
  const onBreaker = (message: unknown) => {
    const { breaker, state } = message as BreakerMessage;
    breakerChanges.add(1, { 'axios_redis_cache.breaker': breaker, 'axios_redis_cache.breaker.state': state });
  };
  const evictions = meter.createCounter(METRICS.evictions, {
    description: 'Entries evicted through a cached instance; soft: marked stale instead of deleted',
    unit: '{entry}',
  });
  const onEviction = (message: unknown) => {
    const { kind, soft, entries } = message as EvictionMessage;
    evictions.add(entries, { 'axios_redis_cache.eviction.kind': kind, 'axios_redis_cache.eviction.soft': soft });
  };
  diagnosticsChannel.subscribe(storeErrorChannel.name, onStoreError);
  diagnosticsChannel.subscribe(breakerChannel.name, onBreaker);
  diagnosticsChannel.subscribe(evictionChannel.name, onEviction);

  const observed = options.instances ?? [];
  const breakerState = meter.createObservableGauge(METRICS.breakerState, {
    description: 'Circuit breaker state: 0 closed, 1 half-open (probing), 2 open (store calls skipped)',
  });
  const l1Entries = meter.createObservableGauge(METRICS.l1Entries, {
    description: 'Entries held by the in-process layer',
    unit: '{entry}',
  });
  const observe = (result: {
    observe(observable: typeof breakerState, value: number, attributes: Attributes): void;
  }) => {
    for (const { instance, name } of observed) {
      const stats = getCacheStats(instance);
      const cache = name ?? instance.defaults.baseURL ?? 'default';
      result.observe(breakerState, BREAKER_VALUES[stats.breaker], {
        'axios_redis_cache.cache': cache,
        'axios_redis_cache.breaker': 'read',
      });
      result.observe(breakerState, BREAKER_VALUES[stats.writeBreaker], {
        'axios_redis_cache.cache': cache,
        'axios_redis_cache.breaker': 'write',
      });
      result.observe(l1Entries, stats.l1Entries, { 'axios_redis_cache.cache': cache });
    }
  };
  if (observed.length > 0) meter.addBatchObservableCallback(observe as never, [breakerState, l1Entries]);

  return () => {
    requestChannel.unsubscribe(handlers as never);
    diagnosticsChannel.unsubscribe(storeErrorChannel.name, onStoreError);
    diagnosticsChannel.unsubscribe(breakerChannel.name, onBreaker);
    diagnosticsChannel.unsubscribe(evictionChannel.name, onEviction);
    if (observed.length > 0) meter.removeBatchObservableCallback(observe as never, [breakerState, l1Entries]);
  };
}

function noop(): void {}

/** The bounded attributes of one request (HTTP client semantic conventions where they apply). */
function requestAttributes(
  context: RequestTraceContext,
  group: CacheMetricsOptions['group'],
): Record<string, string | number> {
  const { config } = context;
  const attributes: Record<string, string | number> = {
    'http.request.method': (config.method ?? 'get').toUpperCase(),
    'axios_redis_cache.status': context.status ?? 'error',
  };
  if (context.source) attributes['axios_redis_cache.source'] = context.source;
  if (context.reason) attributes['axios_redis_cache.stale_reason'] = context.reason;
  const server = serverOf(config);
  if (server) {
    attributes['server.address'] = server.address;
    attributes['server.port'] = server.port;
  }
  const status =
    context.result?.status ?? (context.error as { response?: { status?: number } } | undefined)?.response?.status;
  if (status !== undefined) attributes['http.response.status_code'] = status;
  else if (context.error !== undefined) attributes['error.type'] = errorType(context.error);
  const name = group?.(config);
  if (name !== undefined) attributes['axios_redis_cache.group'] = name;
  return attributes;
}

const SERVERS = new Map<string, { address: string; port: number } | null>();

/** Host and port of the request's URL (`baseURL` + `url`), memoized per base. */
function serverOf(config: InternalAxiosRequestConfig): { address: string; port: number } | null {
  const url = config.url ?? '';
  const base = /^[a-z][a-z0-9+.-]*:\/\//i.test(url) ? url : (config.baseURL ?? '');
  const origin = base.match(/^[a-z][a-z0-9+.-]*:\/\/[^/?#]*/i)?.[0];
  if (!origin) return null;
  let server = SERVERS.get(origin);
  if (server === undefined) {
    try {
      const parsed = new URL(origin);
      const port = parsed.port ? Number(parsed.port) : parsed.protocol === 'https:' ? 443 : 80;
      server = { address: parsed.hostname, port };
    } catch {
      server = null;
    }
    if (SERVERS.size > 1000) SERVERS.clear();
    SERVERS.set(origin, server);
  }
  return server;
}

function errorType(error: unknown): string {
  const code = (error as CacheError | { code?: unknown } | null)?.code;
  if (typeof code === 'string') return code;
  return (error as Error | null)?.name ?? 'Error';
}
