import diagnosticsChannel from 'node:diagnostics_channel';
import type { AxiosResponse, InternalAxiosRequestConfig } from 'axios';
import type { CacheInfo } from './replay.js';

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

/** Run one request of the caching adapter, traced when someone listens (and as it is otherwise). */
export function traced(config: InternalAxiosRequestConfig, run: () => Promise<AxiosResponse>): Promise<AxiosResponse> {
  if (!requestChannel.hasSubscribers) return run();
  const context: RequestTraceContext = { config };
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

function describe(context: RequestTraceContext, info: CacheInfo | undefined): void {
  if (!info) return;
  context.status = info.status;
  context.key = info.key;
  context.age = info.age;
}
