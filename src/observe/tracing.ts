import diagnosticsChannel from 'node:diagnostics_channel';
import { debuglog } from 'node:util';
import type { AxiosResponse, InternalAxiosRequestConfig } from 'axios';
import type { CacheInfo } from '../request/replay.js';

/**
 * What a subscriber of the `axios-redis-cache:request` tracing channel sees: the request's `config` from
 * `start` on; by `asyncEnd` (and `error`), how the cache answered. `result` / `error` are set by the
 * tracing channel itself.
 */
export interface RequestTraceContext {
  /** The request, as the cache received it. */
  readonly config: InternalAxiosRequestConfig;
  /** `hit`, `stale`, `miss`, `coalesced` or `bypass` (by `asyncEnd`; also on an error that carries a response). */
  status?: CacheInfo['status'];
  /** The entry's store key (never credentials or the query), `null` on a bypass. */
  key?: string | null;
  /** Seconds since the upstream produced the answer. */
  age?: number;
  /** Where the body came from: `l1`, `store`, `fleet` (another process's fill), `upstream` (see `CacheInfo.source`). */
  source?: CacheInfo['source'];
  /** Seconds of freshness left of a stored answer (negative when stale), `null` for an upstream answer. */
  ttl?: number | null;
  /** With `status: 'stale'`: why (`soft-evicted`, `store-unavailable`, … see `CacheInfo.reason`). */
  reason?: CacheInfo['reason'];
  /** Milliseconds the request's fill spent waiting for store reads (shared by the callers of one flight). */
  storeMs?: number;
  /** Milliseconds it waited for another process's fill (the fleet lease). */
  leaseWaitMs?: number;
  /** The response (set by the channel at `asyncEnd`). */
  result?: AxiosResponse;
  /** The rejection (set by the channel at `error`). */
  error?: unknown;
}

/**
 * Every request through a cached instance is traced on this channel (`tracePromise`: `start`, `end`,
 * `asyncStart`, `asyncEnd`, `error`). Nothing is done when nobody subscribes.
 */
export const requestChannel = diagnosticsChannel.tracingChannel<unknown, RequestTraceContext>(
  'axios-redis-cache:request',
);

/**
 * `axios-redis-cache:store-error`: every error the cache swallowed (store failures and timeouts, unusable
 * entries, refused features), as `{ error, operation, key }` — what `onError` receives, for any number of
 * subscribers. Published only when someone subscribes.
 */
export const storeErrorChannel = diagnosticsChannel.channel('axios-redis-cache:store-error');

/**
 * `axios-redis-cache:breaker`: a circuit breaker changed state, as `{ breaker: 'read' | 'write', state:
 * 'open' | 'closed' }` (a probe is let through while open: see `getCacheStats`).
 */
export const breakerChannel = diagnosticsChannel.channel('axios-redis-cache:breaker');

/**
 * `axios-redis-cache:eviction`: an eviction done through an instance (`evict`, `evictTags`,
 * `clearCache`), as `{ kind, soft, entries }` — soft ones mark entries stale instead of deleting them.
 * Published only when someone subscribes.
 */
export const evictionChannel = diagnosticsChannel.channel('axios-redis-cache:eviction');

/** What `axios-redis-cache:eviction` publishes. */
export interface EvictionMessage {
  /** `request` (one request's variants), `pattern` (a URL pattern or RegExp), `tags`, `clear`. */
  kind: 'request' | 'pattern' | 'tags' | 'clear';
  soft: boolean;
  /** Entries removed or, when `soft`, marked stale (keys, for a hard `clear`). */
  entries: number;
}

/** What `axios-redis-cache:store-error` publishes. */
export interface StoreErrorMessage {
  error: unknown;
  operation: string;
  key: string | undefined;
}

/** What `axios-redis-cache:breaker` publishes. */
export interface BreakerMessage {
  breaker: 'read' | 'write';
  state: 'open' | 'closed';
  /** The node whose breaker it is (`host:port` of a Cluster master); absent for a single store. */
  node?: string;
}

/** `NODE_DEBUG=axios-redis-cache`: one line per request (read once, when the module loads). */
const debug = debuglog('axios-redis-cache');
const DEBUG = debug.enabled;

/** Time a fill spent in the store and waiting for the fleet's lease. */
export interface Timings {
  storeMs: number;
  leaseWaitMs: number;
}

/** Whether fills measure their {@link Timings}: only while someone traces or debug logging is on. */
export function measuring(): boolean {
  return DEBUG || requestChannel.hasSubscribers;
}

/** The timings behind each `response.cache` of a traced request (kept off the public object). */
const TIMINGS = new WeakMap<CacheInfo, Timings>();

/** Remember the timings of the fill behind an answer, for its trace and debug line. */
export function noteTimings(info: CacheInfo, timings: Timings | undefined): void {
  if (timings) TIMINGS.set(info, timings);
}

/** Run one request of the caching adapter, traced when someone listens (and as it is otherwise). */
export function traced(config: InternalAxiosRequestConfig, run: () => Promise<AxiosResponse>): Promise<AxiosResponse> {
  if (!requestChannel.hasSubscribers) return DEBUG ? logged(config, run) : run();
  const context: RequestTraceContext = { config };
  // Debug logging goes on whatever else listens (an OpenTelemetry bridge, a test): the line is logged
  // around the traced call.
  if (DEBUG) return logged(config, () => tracedCall(context, run));
  return tracedCall(context, run);
}

function tracedCall(context: RequestTraceContext, run: () => Promise<AxiosResponse>): Promise<AxiosResponse> {
  return requestChannel.tracePromise(async () => {
    try {
      const response = await run();
      describe(context, (response as { cache?: CacheInfo }).cache);
      return response;
    } catch (error) {
      describe(context, (error as { response?: { cache?: CacheInfo } } | null)?.response?.cache);
      throw error;
    }
  }, context);
}

/**
 * One line per request: the cache status, the method, the entry's label (method, origin and path: never
 * the query nor credentials), its age and how long the request took in the cache, e.g.
 * `AXIOS-REDIS-CACHE 4242: hit GET https://keys.internal/domains/example.com/dkim age=12.3s 0.41ms`.
 */
async function logged(config: InternalAxiosRequestConfig, run: () => Promise<AxiosResponse>): Promise<AxiosResponse> {
  const started = performance.now();
  const line = (info: CacheInfo | undefined, failed: boolean) => {
    const ms = (performance.now() - started).toFixed(2);
    const label = info?.key
      ? info.key.slice(info.key.indexOf('}:') + 2).replace(/^[^:]*:/, '')
      : config.method?.toUpperCase();
    const timings = info && TIMINGS.get(info);
    const waited = timings ? ` store=${timings.storeMs.toFixed(2)}ms lease=${timings.leaseWaitMs.toFixed(2)}ms` : '';
    debug(
      `${info?.status ?? 'error'}${info?.reason ? `(${info.reason})` : ''} ${label}${info ? ` age=${info.age.toFixed(1)}s from=${info.source}` : ''}${waited} ${ms}ms${failed ? ' (rejected)' : ''}`,
    );
  };
  try {
    const response = await run();
    line((response as { cache?: CacheInfo }).cache, false);
    return response;
  } catch (error) {
    line((error as { response?: { cache?: CacheInfo } } | null)?.response?.cache, true);
    throw error;
  }
}

function describe(context: RequestTraceContext, info: CacheInfo | undefined): void {
  if (!info) return;
  context.status = info.status;
  context.key = info.key;
  context.age = info.age;
  context.source = info.source;
  context.ttl = info.ttl;
  if (info.reason) context.reason = info.reason;
  const timings = TIMINGS.get(info);
  context.storeMs = timings?.storeMs ?? 0;
  context.leaseWaitMs = timings?.leaseWaitMs ?? 0;
}
