import type { AxiosHeaders, AxiosResponse, InternalAxiosRequestConfig } from 'axios';
import type { AxiosModule } from '../api/axios-copy.js';
import type { EntryMeta } from '../entries/entry.js';
import { type VarySpec, varyMatches } from '../entries/vary.js';

/** What a response says about the cache: `response.cache`. */
export interface CacheInfo {
  /**
   * - `hit`: served from the store, fresh;
   * - `stale`: served from the store past its freshness (stale-while-revalidate / stale-if-error);
   * - `miss`: fetched from upstream by this request (and stored if storable);
   * - `coalesced`: this request shared another identical request's upstream call;
   * - `revalidated`: served from the store after a conditional request renewed it (`304`: no body sent);
   * - `bypass`: the cache was not consulted (`cache: false`, a method or response type not cached).
   */
  status: 'hit' | 'stale' | 'miss' | 'coalesced' | 'revalidated' | 'bypass';
  /** The entry's store key (hashes plus method, origin and path; never credentials or the query), or `null` on a bypass. */
  key: string | null;
  /** Seconds since the upstream produced this answer (0 for a fresh upstream answer). */
  age: number;
  /**
   * Where the body came from: `l1` (this process's in-process layer), `store` (read from the store),
   * `fleet` (stored meanwhile by another process's fill, waited for), `upstream` (an upstream call: this
   * request's, a shared one, or a `304` that renewed the stored answer), or `null` (a `504` the cache made
   * for `only-if-cached`).
   */
  source: 'l1' | 'store' | 'fleet' | 'upstream' | null;
  /** Seconds of freshness left of a stored answer (negative when stale), or `null` for an upstream answer. */
  ttl: number | null;
  /**
   * With `status: 'stale'`, why a stale answer was given: `while-revalidate` (one refresh runs meanwhile),
   * `soft-evicted` (marked stale by a soft eviction, within its grace window; one refresh runs meanwhile),
   * `if-error` (the upstream failed, or the caller's own timeout passed), `max-stale` (the request accepts
   * it), `store-unavailable` (the store could not be read: an `l1` copy within `l1.grace`).
   */
  reason?: StaleReason;
}

/** Why a stale answer was given (`response.cache.reason`). */
export type StaleReason = 'while-revalidate' | 'soft-evicted' | 'if-error' | 'max-stale' | 'store-unavailable';

/** Seconds of freshness left, to the millisecond. */
export function ttlOf(freshUntil: number, now: number): number {
  return Math.round(freshUntil - now) / 1000;
}

/** The status line and headers of a response, shared by all callers (never mutated). */
export interface ResponseHead {
  status: number;
  statusText: string;
  headers: Readonly<Record<string, string | string[]>>;
  /** Redirects followed to get this answer (0 when the adapter does not tell). */
  redirects: number;
  /** The URL that answered, when the adapter tells it, or `''`. */
  finalUrl: string;
  /** The response's `Vary`: names, and the fingerprint of the fetching request's values (see `vary.ts`). */
  vary: VarySpec;
}

/**
 * The AxiosHeaders template that every replay of one stored answer copies, built on its first replay;
 * `undefined` without decoded metadata (the replay then builds its headers from the list).
 */
export function replayTemplate(axios: AxiosModule, meta: EntryMeta | undefined): AxiosHeaders | undefined {
  if (!meta) return undefined;
  meta.replayHeaders ??= new axios.AxiosHeaders(meta.head.headers as Record<string, string>);
  return meta.replayHeaders;
}

/**
 * Build the caller's own response and settle it the way axios' adapters do: resolve when the caller's
 * `validateStatus` accepts the status, otherwise reject with a real `AxiosError` carrying the response.
 * `axios`: the copy of axios the instance was made by (the classes of the headers and the error).
 * `headersTemplate`: `head.headers` already as AxiosHeaders ({@link replayTemplate}; never handed out itself:
 * each caller gets a copy). `age`: the `Age` header to set (answers from the cache under `httpSemantics`).
 */
export function settleReplay(
  axios: AxiosModule,
  config: InternalAxiosRequestConfig,
  head: ResponseHead,
  data: unknown,
  info: CacheInfo,
  request: unknown,
  headersTemplate?: AxiosHeaders,
  age?: string,
): AxiosResponse {
  const { AxiosError, AxiosHeaders } = axios;
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
  // Under `httpSemantics`, an answer from the cache says how old it is (RFC 9111 §5.1).
  // Stored names are lower-case (so is `age`): a plain property write, as AxiosHeaders keeps its headers.
  if (age !== undefined) (response.headers as unknown as Record<string, string>).age = age;
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
 * A caller's own copy of a failure that another caller's upstream call met (a joiner's error): the same
 * class, name, code, message, cause and everything else the original carries, with the caller's `config`.
 */
export function errorForCaller(error: unknown, config: InternalAxiosRequestConfig): unknown {
  if (!(error instanceof Error)) return error;
  const copy = Object.create(Object.getPrototypeOf(error), Object.getOwnPropertyDescriptors(error)) as Error & {
    config?: unknown;
  };
  if ('config' in error) copy.config = config;
  return copy;
}

/**
 * Whether a stored answer is this caller's: fetched with the same values of the headers it varies on, and
 * within what its own limits would have let through (no more redirects than its `maxRedirects`, no larger
 * body than its `maxContentLength`). A caller it does not fit goes upstream itself (and gets the adapter's
 * own answer or error).
 */
export function fitsCaller(
  head: Pick<ResponseHead, 'redirects' | 'vary'>,
  bodyBytes: number,
  config: InternalAxiosRequestConfig,
): boolean {
  if (!varyMatches(head.vary, config.headers)) return false; // another variant: another request's answer
  if (typeof config.maxRedirects === 'number' && head.redirects > config.maxRedirects) return false;
  const limit = config.maxContentLength;
  return !(typeof limit === 'number' && limit > -1 && bodyBytes > limit);
}

/**
 * `response.request` of an answer replayed from a stored entry: a frozen plain object with what users read
 * there. For the fetch adapter, `url` (the requested URL, as its `Request` has it); for the others,
 * `res.responseUrl` (the URL that answered after redirects, as the http adapter's request has it, when it
 * had one) and `res.statusCode`. `fromCache: true` tells it apart from a live request. One object per
 * stored answer (kept with its decoded `meta`): its method is part of the key, so it is the same for every
 * replay, and nobody can change it.
 */
export function replayRequest(
  head: ResponseHead,
  config: InternalAxiosRequestConfig,
  adapter: string,
  meta?: EntryMeta,
): object {
  if (meta?.replayRequest) return meta.replayRequest;
  const method = (config.method ?? 'get').toUpperCase();
  const url = head.finalUrl === '' ? undefined : head.finalUrl;
  const request = Object.freeze(
    adapter === 'fetch'
      ? { fromCache: true, method, url }
      : { fromCache: true, method, res: Object.freeze({ responseUrl: url, statusCode: head.status }) },
  );
  if (meta) meta.replayRequest = request;
  return request;
}

/**
 * Tell a caller's `onDownloadProgress` that the whole body arrived, in one event shaped as axios' own: for
 * a replay, no bytes come over the network. Exceptions thrown by the listener are ignored.
 */
export function reportDownload(config: InternalAxiosRequestConfig, data: unknown, head: ResponseHead): void {
  const listener = config.onDownloadProgress;
  if (typeof listener !== 'function') return;
  const loaded = byteLength(data);
  const declared = Number(head.headers['content-length']);
  const total = Number.isFinite(declared) && declared >= 0 ? declared : loaded;
  try {
    listener({
      loaded,
      total,
      progress: total ? loaded / total : undefined,
      bytes: loaded,
      rate: undefined,
      estimated: undefined,
      lengthComputable: true,
      download: true,
    } as unknown as Parameters<typeof listener>[0]);
  } catch {
    // A progress listener must not change the answer.
  }
}

function byteLength(data: unknown): number {
  if (data === undefined || data === null) return 0;
  if (typeof data === 'string') return Buffer.byteLength(data);
  if (data instanceof ArrayBuffer || ArrayBuffer.isView(data)) return data.byteLength;
  if (typeof Blob !== 'undefined' && data instanceof Blob) return data.size;
  try {
    return Buffer.byteLength(JSON.stringify(data) ?? '');
  } catch {
    return 0;
  }
}

/** Attach cache info to a response produced by the base adapter (or to the response of its error). */
export function tagResponse<T extends object>(response: T, info: CacheInfo): T {
  (response as T & { cache: CacheInfo }).cache = info;
  return response;
}
