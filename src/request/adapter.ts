import type { AxiosAdapter, AxiosResponse, InternalAxiosRequestConfig } from 'axios';
import type { CacheState } from '../api/state.js';
import { bytesToBody, type Entry } from '../entries/entry.js';
import { readEntry } from '../entries/entry-store.js';
import { type RequestKeys, requestKeys } from '../entries/key.js';
import { NO_VARY, varyMatches } from '../entries/vary.js';
import { notModified, notModifiedHeaders } from '../http/conditional.js';
import { type RequestDirectives, requestDirectives } from '../http/request-directives.js';
import { ageHeader, freshFor, staleAccepted } from '../http/reuse.js';
import { noteTimings, traced } from '../observe/tracing.js';
import { type ResolvedRequestOptions, resolveRequestOptions } from '../options/index.js';
import { withCacheStatus } from './cache-status.js';
import { deadlineOf, type Flight, timeoutError, timeoutOf } from './coalesce.js';
import { callersOwnFailure, fill } from './fill.js';
import { invalidateAfterUnsafe } from './invalidate-unsafe.js';
import type { Outcome } from './outcome.js';
import {
  type CacheInfo,
  errorForCaller,
  fitsCaller,
  replayRequest,
  replayTemplate,
  reportDownload,
  settleReplay,
  tagResponse,
  ttlOf,
} from './replay.js';

/** Response types that are never cached: the body is consumed by the caller, not buffered. */
const UNCACHED_RESPONSE_TYPES: ReadonlySet<unknown> = new Set(['stream', 'document', 'formdata']);

/**
 * Request headers that ask the upstream for its own kind of answer: a part of the body (`Range`), or an
 * answer only if it changed (validators). A stored full `200` is never the answer to them: they bypass.
 */
const OWN_ANSWER_HEADERS: ReadonlySet<string> = new Set([
  'range',
  'if-range',
  'if-none-match',
  'if-modified-since',
  'if-match',
  'if-unmodified-since',
]);

/** Marks the adapters `withCache` installs, so that a cache inherited by another instance is detected. */
export const CACHING_ADAPTER: unique symbol = Symbol.for('axios-redis-cache.adapter');

/** A flight's answer was the owner's own failure (its cancellation or timeout): attend a new flight. */
const RETRY: unique symbol = Symbol('retry');

/** The caching adapter of one instance (see "How a request flows" in docs/ARCHITECTURE.md). */
export function createCachingAdapter(state: CacheState): AxiosAdapter {
  const { options } = state;
  const statusName = options.cacheStatus;
  const cachingAdapter =
    statusName === null
      ? (config: InternalAxiosRequestConfig): Promise<AxiosResponse> => traced(config, () => answer(config))
      : (config: InternalAxiosRequestConfig): Promise<AxiosResponse> =>
          traced(config, () => withCacheStatus(answer(config), statusName));
  const answer = async (config: InternalAxiosRequestConfig): Promise<AxiosResponse> => {
    let request = resolveRequestOptions((config as { cache?: unknown }).cache);
    const method = config.method ? config.method.toLowerCase() : 'get';
    if (request !== false && !options.methods.has(method) && !SAFE_METHODS.has(method) && options.invalidateOnUnsafe) {
      return unsafe(state, config);
    }
    const http = request !== false && (request.httpSemantics ?? options.httpSemantics);
    const directive = request === false ? 'bypass' : requestDirective(config.headers, http);
    if (
      request === false ||
      directive === 'bypass' ||
      !options.methods.has(method) ||
      UNCACHED_RESPONSE_TYPES.has(config.responseType)
    ) {
      return bypass(state, config);
    }
    let conditional: HttpAsk | null = null;
    // The request's own `Cache-Control: no-cache` (or `Pragma: no-cache`): not from the cache, but stored.
    if (directive === 'refresh') {
      if (!request.refresh) request = { ...request, refresh: true };
    } else if (directive !== null) {
      // Under `httpSemantics`: the request's own directives, and its own validators.
      const own = directive.ifNoneMatch !== undefined || directive.ifModifiedSince !== undefined;
      if (directive.refresh) {
        if (own) return bypass(state, config); // its own conditional request, to the origin
        request = { ...request, refresh: true };
      }
      if (directive.directives) request = { ...request, directives: directive.directives };
      if (own) conditional = directive;
    }
    const keys = requestKeys(
      config,
      options.prefix,
      options.varyHeaders,
      request.key,
      http ? state.httpKeyKind : state.adapterKind,
    );
    if (!keys) return bypass(state, config);
    if (conditional || request.directives?.onlyIfCached) {
      return fromStoreOnly(state, config, keys, request.directives, conditional);
    }

    if (state.l1 && !request.refresh && !request.directives) {
      const now = Date.now();
      const entry = state.l1.get(keys.entry, now);
      // An entry that is not this caller's (another variant, beyond its limits) leaves it to the store path.
      if (entry && fitsCaller(entry, entry.body.byteLength, config)) {
        state.counters.hits++;
        state.counters.l1Hits++;
        return replayEntry(state, config, entry, {
          status: 'hit',
          key: keys.entry,
          age: Math.max(0, now - entry.createdAt) / 1000,
          source: 'l1',
          ttl: ttlOf(entry.freshUntil, now),
        });
      }
    }

    if (!(request.coalesce ?? options.coalesce)) {
      const answer = deliver(state, config, keys, await fill(state, keys, request, config, null), 0);
      return answer === RETRY ? passThrough(state, config, keys) : answer;
    }
    const flightKey = flightKeyOf(keys, request, config);
    const deadline = deadlineOf(config);
    const work = (flight: Flight<Outcome>) => fill(state, keys, request, config, flight);
    // The first attempt is inline (as `attendAgain`'s loop body): going through that async function for
    // every request would add a promise to each hit; only a retry after an owner's own failure does.
    const answer = deliver(
      state,
      config,
      keys,
      await state.flights.attend(flightKey, config, deadline, work),
      deadline,
    );
    return answer === RETRY ? attendAgain(state, config, keys, flightKey, deadline, work) : answer;
  };
  Object.defineProperty(cachingAdapter, CACHING_ADAPTER, { value: true });
  return cachingAdapter;
}

/** After the owner's own failure: attend new flights until one gives this caller its answer. */
async function attendAgain(
  state: CacheState,
  config: InternalAxiosRequestConfig,
  keys: RequestKeys,
  flightKey: string,
  deadline: number,
  work: (flight: Flight<Outcome>) => Promise<Outcome>,
): Promise<AxiosResponse> {
  for (;;) {
    const answer = deliver(
      state,
      config,
      keys,
      await state.flights.attend(flightKey, config, deadline, work),
      deadline,
    );
    if (answer !== RETRY) return answer;
  }
}

/**
 * Requests whose answers could differ share no flight: the per-request limits on the upstream call
 * (`maxRedirects`, `maxContentLength`) are part of the flight key, and `refresh` runs its own flight.
 */
function flightKeyOf(keys: RequestKeys, request: ResolvedRequestOptions, config: InternalAxiosRequestConfig): string {
  let key = request.refresh ? `${keys.entry}\u0000refresh` : keys.entry;
  if (request.directives) key += `\u0000d${request.directives.text}`;
  if (config.maxRedirects !== undefined) key += `\u0000r${config.maxRedirects}`;
  if (config.maxContentLength !== undefined && config.maxContentLength > -1) key += `\u0000c${config.maxContentLength}`;
  return key;
}

/** What a request asks of the cache under `httpSemantics`, beyond `bypass` and `refresh`. */
interface HttpAsk {
  /** `Cache-Control: no-cache` (or `Pragma: no-cache`) too. */
  refresh: boolean;
  /** The caller's own validators: a fresh stored answer they match is answered with a `304`. */
  ifNoneMatch: string | undefined;
  ifModifiedSince: string | undefined;
  /** Its `max-age`, `min-fresh`, `max-stale`, `only-if-cached`. */
  directives: RequestDirectives | null;
}

/**
 * What the request's own headers ask of a cache: `bypass` (a `Range` or conditional header: the upstream's
 * own answer; `Cache-Control: no-store`: nothing stored either), `refresh` (`Cache-Control: no-cache`, or
 * `Pragma: no-cache` without `Cache-Control`: not answered from the cache, but stored), or nothing. Under
 * `httpSemantics` (`http`), `If-None-Match` / `If-Modified-Since` and the other request directives are
 * the cache's to answer: an {@link HttpAsk}.
 */
function requestDirective(headers: unknown, http: boolean): 'bypass' | 'refresh' | HttpAsk | null {
  if (!headers || typeof headers !== 'object') return null;
  let directive: 'refresh' | null = null;
  let pragma = false;
  let control = false;
  let controlText: string | undefined;
  let ifNoneMatch: string | undefined;
  let ifModifiedSince: string | undefined;
  // AxiosHeaders keeps each header as an own property, named as it was set (its methods are not enumerable).
  for (const name in headers) {
    // Only names starting with r, i, c or p can matter: skip the others without a lower-case copy.
    const first = name.charCodeAt(0) | 0x20;
    if (first !== 0x72 && first !== 0x69 && first !== 0x63 && first !== 0x70) continue;
    const value = (headers as Record<string, unknown>)[name];
    if (value === undefined || value === null || value === false) continue;
    const lower = name.toLowerCase();
    if (OWN_ANSWER_HEADERS.has(lower)) {
      if (http && lower === 'if-none-match') ifNoneMatch = String(value);
      else if (http && lower === 'if-modified-since') ifModifiedSince = String(value);
      else return 'bypass';
    } else if (lower === 'cache-control') {
      control = true;
      const text = String(value).toLowerCase();
      if (/(^|,)\s*no-store\s*(,|$)/.test(text)) return 'bypass';
      if (/(^|,)\s*no-cache\s*(,|$|=)/.test(text)) directive = 'refresh';
      controlText = text;
    } else if (lower === 'pragma' && /no-cache/i.test(String(value))) {
      pragma = true;
    }
  }
  const refresh = directive ?? (pragma && !control ? 'refresh' : null);
  if (!http || (ifNoneMatch === undefined && ifModifiedSince === undefined && controlText === undefined))
    return refresh;
  const directives = controlText === undefined ? null : requestDirectives(controlText);
  if (ifNoneMatch === undefined && ifModifiedSince === undefined && directives === null) return refresh;
  return { refresh: refresh !== null, ifNoneMatch, ifModifiedSince, directives };
}

/**
 * Under `httpSemantics`, a request answered only from what is stored: the caller's own conditional request
 * (a fresh stored answer its validators match is answered `304 Not Modified`, one they do not match in
 * full; without one, its request goes upstream as it is) and `only-if-cached` (without a usable stored
 * answer: `504 Gateway Timeout`, RFC 9111 §5.2.1.7).
 */
async function fromStoreOnly(
  state: CacheState,
  config: InternalAxiosRequestConfig,
  keys: RequestKeys,
  directives: RequestDirectives | undefined,
  conditional: HttpAsk | null,
): Promise<AxiosResponse> {
  const now = Date.now();
  const local = state.l1?.get(keys.entry, now) ?? null;
  let entry = local ?? (await readEntry(state, keys));
  if (entry && !fitsCaller(entry, entry.body.byteLength, config)) entry = null;
  const stale = entry !== null && !freshFor(entry, now, directives) && staleAccepted(entry, now, directives);
  if (!entry || !(stale || freshFor(entry, now, directives))) {
    if (!directives?.onlyIfCached) return bypass(state, config);
    state.counters.misses++;
    const empty: Entry['bodyKind'] = 'empty';
    const head = { status: 504, statusText: 'Gateway Timeout', headers: {}, redirects: 0, finalUrl: '', vary: NO_VARY };
    const data = bytesToBody({ bodyKind: empty, body: new Uint8Array(0), blobType: '' });
    const info: CacheInfo = { status: 'miss', key: keys.entry, age: 0, source: null, ttl: null };
    return settleReplay(config, head, data ?? '', info, undefined);
  }
  if (stale) state.counters.staleHits++;
  else state.counters.hits++;
  const info: CacheInfo = {
    status: stale ? 'stale' : 'hit',
    key: keys.entry,
    age: Math.max(0, now - entry.createdAt) / 1000,
    source: local ? 'l1' : 'store',
    ttl: ttlOf(entry.freshUntil, now),
  };
  if (conditional && notModified(conditional.ifNoneMatch, conditional.ifModifiedSince, entry.headers)) {
    const head = { ...entry, status: 304, statusText: 'Not Modified', headers: notModifiedHeaders(entry.headers) };
    const data = bytesToBody({
      bodyKind: entry.bodyKind === 'json' ? 'string' : entry.bodyKind,
      body: new Uint8Array(0),
      blobType: entry.blobType,
    });
    const request = replayRequest(head, config, state.adapterKind);
    return settleReplay(config, head, data, info, request, undefined, ageHeader(entry, now));
  }
  return replayEntry(state, config, entry, info);
}

/** Where the body of each kind of outcome came from (`response.cache.source`). */
const SOURCES = {
  store: 'store',
  stale: 'store',
  fleet: 'fleet',
  revalidated: 'upstream',
  upstream: 'upstream',
} as const;

/** Methods that change nothing upstream (RFC 9110 §9.2.1); any other is unsafe. */
const SAFE_METHODS: ReadonlySet<string> = new Set(['get', 'head', 'options', 'trace']);

/**
 * An unsafe request (`POST`, `PUT`, `PATCH`, `DELETE`, …) goes upstream as it is; when it succeeds (a
 * non-error status), the stored answers to `GET`/`HEAD` of its URL, and of its `Location` and
 * `Content-Location` on the same origin, are evicted for the whole fleet before it is answered (RFC 9111
 * §4.4): a `GET` right after a `PUT` never gets the old answer.
 */
async function unsafe(state: CacheState, config: InternalAxiosRequestConfig): Promise<AxiosResponse> {
  state.counters.bypasses++;
  const info: CacheInfo = { status: 'bypass', key: null, age: 0, source: 'upstream', ttl: null };
  let response: AxiosResponse;
  try {
    response = await state.base(config);
  } catch (error) {
    const failed = (error as { response?: AxiosResponse } | null)?.response;
    if (failed && typeof failed === 'object') {
      tagResponse(failed, info);
      if (failed.status < 400) await invalidateAfterUnsafe(state, config, failed);
    }
    throw error;
  }
  if (response.status < 400) await invalidateAfterUnsafe(state, config, response);
  return tagResponse(response, info);
}

async function bypass(state: CacheState, config: InternalAxiosRequestConfig): Promise<AxiosResponse> {
  state.counters.bypasses++;
  return direct(state, config, { status: 'bypass', key: null, age: 0, source: 'upstream', ttl: null });
}

/** A request the stored answer does not fit (its own limits): it goes upstream alone, as without the cache. */
async function passThrough(
  state: CacheState,
  config: InternalAxiosRequestConfig,
  keys: RequestKeys,
): Promise<AxiosResponse> {
  state.counters.misses++;
  return direct(state, config, { status: 'miss', key: keys.entry, age: 0, source: 'upstream', ttl: null });
}

/** The base adapter's own answer or error, unchanged but for `response.cache`. */
async function direct(state: CacheState, config: InternalAxiosRequestConfig, info: CacheInfo): Promise<AxiosResponse> {
  try {
    return tagResponse(await state.base(config), info);
  } catch (error) {
    const response = (error as { response?: unknown } | null)?.response;
    if (response && typeof response === 'object') tagResponse(response, info);
    throw error;
  }
}

/** This caller's own response (or error) from a stored entry. */
function replayEntry(
  state: CacheState,
  config: InternalAxiosRequestConfig,
  entry: Entry,
  info: CacheInfo,
): AxiosResponse {
  const data = bytesToBody(entry);
  reportDownload(config, data, entry);
  const request = replayRequest(entry, config, state.adapterKind, entry.meta);
  const age = entry.policy.http ? ageHeader(entry, Date.now()) : undefined;
  return settleReplay(config, entry, data, info, request, replayTemplate(entry.meta), age);
}

/**
 * Turn a shared outcome into this caller's own response (or error), or {@link RETRY} when the flight failed
 * for its owner's own reasons (cancelled, timed out) and this caller should try again on its own.
 */
function deliver(
  state: CacheState,
  config: InternalAxiosRequestConfig,
  keys: RequestKeys,
  outcome: Outcome,
  deadline: number,
): AxiosResponse | Promise<AxiosResponse> | typeof RETRY {
  const { counters } = state;
  if (outcome.kind === 'error') {
    if (outcome.config === config) {
      counters.misses++;
      throw outcome.error; // the adapter's own error, as without the cache
    }
    // Another caller's cancellation or timeout is not this caller's answer, unless it timed out and this
    // caller's own time is up too.
    if (callersOwnFailure(outcome.error) && !(isTimeout(outcome.error) && ownTimeIsUp(config, deadline))) {
      return RETRY;
    }
    counters.coalesced++;
    throw errorForCaller(outcome.error, config);
  }
  const { upstream } = outcome;
  if (upstream && upstream.config === config) {
    // The caller whose config made the upstream call gets the adapter's own response (or rejection).
    counters.misses++;
    const info: CacheInfo = { status: 'miss', key: keys.entry, age: 0, source: 'upstream', ttl: null };
    noteTimings(info, outcome.timings);
    if (upstream.rejection) {
      tagResponse(upstream.response, info);
      throw upstream.rejection;
    }
    return tagResponse(upstream.response, info);
  }
  // A stored answer must fit this caller; an upstream answer too, when it varies on headers whose values
  // differ between its owner and this caller.
  if (
    upstream ? !varyMatches(outcome.head.vary, config.headers) : !fitsCaller(outcome.head, outcome.bodyBytes, config)
  ) {
    // The stale copy a caller gets when its own timeout passes, if it is not this caller's (another
    // variant): its time is up, so it gets the timeout its adapter would give, not a new upstream call.
    if (outcome.source === 'stale' && ownTimeIsUp(config, deadline)) throw timeoutError(config, state.adapterKind);
    return passThrough(state, config, keys);
  }
  let status: CacheInfo['status'];
  switch (outcome.source) {
    case 'store':
      status = 'hit';
      counters.hits++;
      break;
    case 'stale':
      status = 'stale';
      counters.staleHits++;
      break;
    case 'revalidated':
      status = 'revalidated';
      counters.revalidations++;
      break;
    default:
      status = 'coalesced';
      counters.coalesced++;
      break;
  }
  const now = Date.now();
  const info: CacheInfo = {
    status,
    key: keys.entry,
    age: Math.max(0, now - outcome.createdAt) / 1000,
    source: SOURCES[outcome.source],
    ttl: outcome.freshUntil === undefined ? null : ttlOf(outcome.freshUntil, now),
  };
  noteTimings(info, outcome.timings);
  const data = outcome.body();
  reportDownload(config, data, outcome.head);
  if (upstream) return settleReplay(config, outcome.head, data, info, outcome.request);
  // A stored answer read again replays copies of one headers template (built on its first replay).
  const request = replayRequest(outcome.head, config, state.adapterKind, outcome.meta);
  const policy = outcome.policy;
  const age = policy?.http ? ageHeader({ createdAt: outcome.createdAt, policy }, now) : undefined;
  return settleReplay(config, outcome.head, data, info, request, replayTemplate(outcome.meta), age);
}

/**
 * Whether a caller's own timeout has passed, or nearly (within a tenth of it, at most 20 ms): such a joiner
 * shares its flight owner's timeout error rather than start a call of its own.
 */
function ownTimeIsUp(config: InternalAxiosRequestConfig, deadline: number): boolean {
  if (!deadline) return false;
  return deadline - Date.now() <= Math.min(20, timeoutOf(config) / 10);
}

function isTimeout(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return code === 'ECONNABORTED' || code === 'ETIMEDOUT';
}
