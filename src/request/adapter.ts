import type { AxiosAdapter, AxiosResponse, InternalAxiosRequestConfig } from 'axios';
import type { CacheState } from '../api/state.js';
import { type RequestKeys, requestKeys } from '../entries/key.js';
import { varyMatches } from '../entries/vary.js';
import { ageHeader } from '../http/reuse.js';
import { noteTimings, traced } from '../observe/tracing.js';
import { type ResolvedRequestOptions, resolveRequestOptions } from '../options/index.js';
import { withCacheStatus } from './cache-status.js';
import { deadlineOf, type Flight, timeoutError, timeoutOf } from './coalesce.js';
import { bypass, fromStoreOnly, passThrough, replayEntry, SAFE_METHODS, unsafe } from './direct.js';
import { type HttpAsk, requestDirective } from './directives.js';
import { callersOwnFailure, fill } from './fill.js';
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

/** Where the body of each kind of outcome came from (`response.cache.source`). */
const SOURCES = {
  store: 'store',
  stale: 'store',
  fleet: 'fleet',
  revalidated: 'upstream',
  upstream: 'upstream',
} as const;

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
    if (outcome.source === 'stale' && ownTimeIsUp(config, deadline)) {
      throw timeoutError(config, state.adapterKind, state.axios);
    }
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
      if (outcome.staleReason === 'store-unavailable') counters.graceHits++;
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
    // A grace answer (the store could not be read) is this process's own copy.
    source: outcome.staleReason === 'store-unavailable' ? 'l1' : SOURCES[outcome.source],
    ttl: outcome.freshUntil === undefined ? null : ttlOf(outcome.freshUntil, now),
  };
  if (outcome.staleReason) info.reason = outcome.staleReason;
  noteTimings(info, outcome.timings);
  const data = outcome.body();
  reportDownload(config, data, outcome.head);
  if (upstream) return settleReplay(state.axios, config, outcome.head, data, info, outcome.request);
  // A stored answer read again replays copies of one headers template (built on its first replay).
  const request = replayRequest(outcome.head, config, state.adapterKind, outcome.meta);
  const policy = outcome.policy;
  const age = policy?.http ? ageHeader({ createdAt: outcome.createdAt, policy }, now) : undefined;
  return settleReplay(
    state.axios,
    config,
    outcome.head,
    data,
    info,
    request,
    replayTemplate(state.axios, outcome.meta),
    age,
  );
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
