import {
  type AxiosError,
  type AxiosHeaders,
  type AxiosResponse,
  type InternalAxiosRequestConfig,
  isAxiosError,
} from 'axios';
import type { AxiosModule } from '../api/axios-copy.js';
import type { CacheState } from '../api/state.js';
import { plainHeaders, storableHeaders } from '../entries/entry.js';
import { NO_VARY, varyFingerprint, varyNames } from '../entries/vary.js';
import type { ResponseHead } from './replay.js';

/**
 * The upstream's answer (any status; `rejection` is the adapter's own error when `validateStatus` refused
 * it), or a failure that carried no response.
 */
export type UpstreamResult =
  | { ok: true; response: AxiosResponse; rejection: AxiosError | null; fetchMs: number }
  | { ok: false; error: unknown };

/**
 * Call the instance's own adapter. A rejection that carries a response (a status refused by
 * `validateStatus`) is an answer like any other: each caller settles it with its own `validateStatus`.
 */
export async function callUpstream(state: CacheState, config: InternalAxiosRequestConfig): Promise<UpstreamResult> {
  const started = performance.now();
  try {
    const response = await state.base(config);
    return { ok: true, response, rejection: null, fetchMs: performance.now() - started };
  } catch (error) {
    if (isAxiosError(error) && error.response) {
      return { ok: true, response: error.response, rejection: error, fetchMs: performance.now() - started };
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
 * The config of a conditional request made for a caller (revalidation): its own config with the
 * validators of the stored answer added to a copy of its headers (of the instance's copy of axios).
 */
export function conditionalConfig(
  axios: AxiosModule,
  config: InternalAxiosRequestConfig,
  validators: Readonly<Record<string, string>>,
): InternalAxiosRequestConfig {
  const headers = new axios.AxiosHeaders(config.headers as unknown as AxiosHeaders);
  for (const name of Object.keys(validators)) headers.set(name, validators[name] as string);
  return { ...config, headers } as InternalAxiosRequestConfig;
}

/**
 * What a conditional request made for a caller returned, given back as the answer to the caller's own
 * request: `config` (on the response and on the adapter's rejection) is the caller's own.
 */
export function asCallersOwn(result: UpstreamResult, config: InternalAxiosRequestConfig): UpstreamResult {
  if (result.ok) {
    result.response.config = config;
    if (result.rejection) result.rejection.config = config;
  } else if (isAxiosError(result.error)) {
    result.error.config = config;
  }
  return result;
}

/** What an adapter's `response.request` tells about redirects: http's `res.redirects`, `res.responseUrl`. */
interface RequestTrail {
  res?: { responseUrl?: unknown; redirects?: unknown };
  /** follow-redirects' request behind the http adapter: it counts the redirects it followed. */
  _redirectable?: { _redirectCount?: unknown };
  url?: unknown;
}

/**
 * The head of an upstream answer, whether it set a cookie (the header itself is never stored), and whether
 * it varies on everything (`Vary: *`: never stored).
 */
export interface UpstreamHead extends ResponseHead {
  readonly setsCookie: boolean;
  readonly variesOnEverything: boolean;
}

/**
 * The storable status line and headers of an upstream answer (adapters may omit `statusText`), with the
 * redirects it followed and the URL that answered, as far as the adapter tells them.
 */
export function responseHead(response: AxiosResponse, request: InternalAxiosRequestConfig): UpstreamHead {
  const trail = response.request as RequestTrail | undefined;
  const headers = plainHeaders(response.headers);
  const names = varyNames(headers.vary);
  const counted = trail?._redirectable?._redirectCount;
  const finalUrl = trail?.res?.responseUrl ?? trail?.url;
  return {
    status: response.status,
    statusText: response.statusText ?? '',
    headers: storableHeaders(headers),
    setsCookie: headers['set-cookie'] !== undefined,
    variesOnEverything: names === '*',
    vary:
      names === '*' || names.length === 0 ? NO_VARY : { names, fingerprint: varyFingerprint(names, request.headers) },
    redirects: typeof counted === 'number' ? counted : 0,
    finalUrl: typeof finalUrl === 'string' ? finalUrl : '',
  };
}
