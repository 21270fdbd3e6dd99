import { type AxiosAdapter, AxiosError, type AxiosResponse, type InternalAxiosRequestConfig } from 'axios';
import { bytesToBody } from './entry.js';
import { fill } from './fill.js';
import { type RequestKeys, requestKeys } from './key.js';
import { resolveRequestOptions } from './options.js';
import type { Outcome } from './outcome.js';
import { type CacheInfo, errorForCaller, replayTemplate, settleReplay, tagResponse } from './replay.js';
import type { CacheState } from './state.js';

/** Response types that are never cached: the body is consumed by the caller, not buffered. */
const UNCACHED_RESPONSE_TYPES: ReadonlySet<unknown> = new Set(['stream', 'document', 'formdata']);

/** The caching adapter of one instance (see "How a request flows" in DESIGN.md). */
export function createCachingAdapter(state: CacheState): AxiosAdapter {
  const { options } = state;
  return async function cachingAdapter(config: InternalAxiosRequestConfig): Promise<AxiosResponse> {
    const request = resolveRequestOptions((config as { cache?: unknown }).cache);
    const method = config.method ? config.method.toLowerCase() : 'get';
    if (request === false || !options.methods.has(method) || UNCACHED_RESPONSE_TYPES.has(config.responseType)) {
      return bypass(state, config);
    }
    const keys = requestKeys(config, options.prefix, options.varyHeaders, request.key);
    if (!keys) return bypass(state, config);

    if (state.l1 && !request.refresh) {
      const now = Date.now();
      const entry = state.l1.get(keys.entry, now);
      if (entry) {
        state.counters.hits++;
        state.counters.l1Hits++;
        const info: CacheInfo = { status: 'hit', key: keys.entry, age: Math.max(0, now - entry.createdAt) / 1000 };
        return settleReplay(config, entry, bytesToBody(entry), info, undefined, replayTemplate(entry.meta));
      }
    }

    if (!(request.coalesce ?? options.coalesce)) {
      return deliver(state, config, keys, await fill(state, keys, request, config, null), false);
    }
    const flightKey = request.refresh ? `${keys.entry}\u0000refresh` : keys.entry;
    const { promise, joined } = state.flights.attend(flightKey, config, (f) => fill(state, keys, request, config, f));
    return deliver(state, config, keys, await promise, joined);
  };
}

async function bypass(state: CacheState, config: InternalAxiosRequestConfig): Promise<AxiosResponse> {
  state.counters.bypasses++;
  const info: CacheInfo = { status: 'bypass', key: null, age: 0 };
  try {
    return tagResponse(await state.base(config), info);
  } catch (error) {
    if (error instanceof AxiosError && error.response) tagResponse(error.response, info);
    throw error;
  }
}

/** Turn a shared outcome into this caller's own response (or error). */
function deliver(
  state: CacheState,
  config: InternalAxiosRequestConfig,
  keys: RequestKeys,
  outcome: Outcome,
  joined: boolean,
): AxiosResponse {
  const { counters } = state;
  if (outcome.kind === 'error') {
    if (joined) counters.coalesced++;
    else counters.misses++;
    throw errorForCaller(outcome.error, config);
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
    case 'fleet':
      status = 'coalesced';
      counters.coalesced++;
      break;
    case 'upstream':
      status = joined ? 'coalesced' : 'miss';
      if (joined) counters.coalesced++;
      else counters.misses++;
      break;
  }
  const info: CacheInfo = { status, key: keys.entry, age: Math.max(0, Date.now() - outcome.createdAt) / 1000 };
  if (status === 'miss' && outcome.upstreamHeaders) {
    const head = { ...outcome.head, headers: outcome.upstreamHeaders };
    return settleReplay(config, head, outcome.body(), info, outcome.request);
  }
  // A stored answer read again replays copies of one headers template (built on its first replay).
  return settleReplay(config, outcome.head, outcome.body(), info, outcome.request, replayTemplate(outcome.meta));
}
