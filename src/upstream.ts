import { AxiosError, type AxiosResponse, type InternalAxiosRequestConfig } from 'axios';
import { plainHeaders, storableHeaders } from './entry.js';
import type { ResponseHead } from './replay.js';
import type { CacheState } from './state.js';

/** The upstream's answer (any status), or a failure that carried no response. */
export type UpstreamResult = { ok: true; response: AxiosResponse; fetchMs: number } | { ok: false; error: unknown };

/**
 * Call the instance's own adapter. A rejection that carries a response (a status refused by
 * `validateStatus`) is an answer like any other: each caller settles it with its own `validateStatus`.
 */
export async function callUpstream(state: CacheState, config: InternalAxiosRequestConfig): Promise<UpstreamResult> {
  const started = performance.now();
  try {
    const response = await state.base(config);
    return { ok: true, response, fetchMs: performance.now() - started };
  } catch (error) {
    if (error instanceof AxiosError && error.response) {
      return { ok: true, response: error.response, fetchMs: performance.now() - started };
    }
    return { ok: false, error };
  }
}

/** A copy of a request config for a call that belongs to no caller: without its signal and cancel token. */
export function detachedConfig(
  config: InternalAxiosRequestConfig,
  overrides: Partial<InternalAxiosRequestConfig>,
): InternalAxiosRequestConfig {
  // A spread (not a rest pattern, which V8 runs far slower) with the caller's own cancellation removed.
  return { ...config, signal: undefined, cancelToken: undefined, ...overrides } as InternalAxiosRequestConfig;
}

/**
 * The status line and headers of an upstream answer: the storable head (shared with every caller and the
 * store) and all headers as sent (for the request that fetched). Adapters may omit `statusText`.
 */
export function responseHeads(response: AxiosResponse): {
  head: ResponseHead;
  upstreamHeaders: ResponseHead['headers'];
} {
  const upstreamHeaders = plainHeaders(response.headers);
  return {
    head: { status: response.status, statusText: response.statusText ?? '', headers: storableHeaders(upstreamHeaders) },
    upstreamHeaders,
  };
}
