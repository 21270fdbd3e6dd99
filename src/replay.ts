import { AxiosError, AxiosHeaders, type AxiosResponse, type InternalAxiosRequestConfig } from 'axios';
import type { EntryMeta } from './entry.js';

/** What a response says about the cache: `response.cache`. */
export interface CacheInfo {
  /**
   * - `hit`: served from the store, fresh;
   * - `stale`: served from the store past its freshness (stale-while-revalidate / stale-if-error);
   * - `miss`: fetched from upstream by this request (and stored if storable);
   * - `coalesced`: this request shared another identical request's upstream call;
   * - `bypass`: the cache was not consulted (`cache: false`, a method or response type not cached).
   */
  status: 'hit' | 'stale' | 'miss' | 'coalesced' | 'bypass';
  /** The entry's store key (hashes plus method, origin and path; never credentials or the query), or `null` on a bypass. */
  key: string | null;
  /** Seconds since the upstream produced this answer (0 for a fresh upstream answer). */
  age: number;
}

/** The status line and headers of a response, shared by all callers (never mutated). */
export interface ResponseHead {
  status: number;
  statusText: string;
  headers: Readonly<Record<string, string | string[]>>;
}

/**
 * The AxiosHeaders template that every replay of one stored answer copies, built on its first replay;
 * `undefined` without decoded metadata (the replay then builds its headers from the list).
 */
export function replayTemplate(meta: EntryMeta | undefined): AxiosHeaders | undefined {
  if (!meta) return undefined;
  meta.replayHeaders ??= new AxiosHeaders(meta.head.headers as Record<string, string>);
  return meta.replayHeaders;
}

/**
 * Build the caller's own response and settle it the way axios' adapters do: resolve when the caller's
 * `validateStatus` accepts the status, otherwise reject with a real `AxiosError` carrying the response.
 * `headersTemplate`: `head.headers` already as AxiosHeaders ({@link replayTemplate}; never handed out itself:
 * each caller gets a copy).
 */
export function settleReplay(
  config: InternalAxiosRequestConfig,
  head: ResponseHead,
  data: unknown,
  info: CacheInfo,
  request: unknown,
  headersTemplate?: AxiosHeaders,
): AxiosResponse {
  const response = {
    data,
    status: head.status,
    statusText: head.statusText,
    // A copy of a template built once per stored answer skips parsing the headers again: 20× cheaper.
    headers: headersTemplate
      ? Object.assign(new AxiosHeaders(), headersTemplate)
      : new AxiosHeaders(head.headers as Record<string, string>),
    config,
    request,
    cache: info,
  } as AxiosResponse & { cache: CacheInfo };
  const validateStatus = config.validateStatus;
  if (!response.status || !validateStatus || validateStatus(response.status)) return response;
  throw new AxiosError(
    `Request failed with status code ${response.status}`,
    response.status >= 400 && response.status < 500 ? AxiosError.ERR_BAD_REQUEST : AxiosError.ERR_BAD_RESPONSE,
    config,
    request,
    response,
  );
}

/**
 * The caller's own copy of an upstream failure that carried no response (network error, timeout of the
 * shared call): same message and code, the caller's config, the original as `cause`.
 */
export function errorForCaller(error: unknown, config: InternalAxiosRequestConfig): unknown {
  if (!(error instanceof AxiosError)) return error;
  const copy = new AxiosError(error.message, error.code, config, error.request);
  copy.cause = error;
  return copy;
}

/** Attach cache info to a response produced by the base adapter (or to the response of its error). */
export function tagResponse<T extends object>(response: T, info: CacheInfo): T {
  (response as T & { cache: CacheInfo }).cache = info;
  return response;
}
