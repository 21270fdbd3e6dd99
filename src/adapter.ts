import {
  type AxiosAdapter,
  AxiosError,
  type AxiosResponse,
  CanceledError,
  type InternalAxiosRequestConfig,
} from 'axios';
import { type Flight, type FlightMap, waitForFlight } from './coalesce.js';
import { bodyToBytes, bytesToBody, decodeEntry, encodeEntry, plainHeaders, storableHeaders } from './entry.js';
import type { CacheEntryError } from './errors.js';
import { type RequestKeys, requestKeys, tagIndexKey } from './key.js';
import { type ResolvedOptions, type ResolvedRequestOptions, resolveRequestOptions } from './options.js';
import { type CacheInfo, errorForCaller, type ResponseHead, settleReplay, tagResponse } from './replay.js';
import type { Counters } from './stats.js';
import { FAILED, type StoreGuard } from './store-guard.js';

/** Everything one cached instance holds. */
export interface CacheState {
  readonly options: ResolvedOptions;
  /** The instance's own adapter, resolved once by `withCache`. */
  readonly base: AxiosAdapter;
  readonly guard: StoreGuard;
  readonly flights: FlightMap<Outcome>;
  readonly counters: Counters;
}

/** What a fill produced, shared by every caller of the flight; each caller builds its own response from it. */
export type Outcome =
  | {
      kind: 'response';
      source: 'store' | 'upstream';
      head: ResponseHead;
      /** All headers as the upstream sent them (incl. set-cookie): given only to the request that fetched. */
      upstreamHeaders: ResponseHead['headers'] | null;
      /** A fresh copy of the body for each call. */
      body: () => unknown;
      createdAt: number;
      request: unknown;
    }
  | { kind: 'error'; error: unknown };

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

    if (!(request.coalesce ?? options.coalesce)) {
      return deliver(state, config, keys, await fill(state, keys, request, config, null), false);
    }
    const flightKey = request.refresh ? `${keys.entry}\u0000refresh` : keys.entry;
    const { flight, joined } = state.flights.join(flightKey, (f) => fill(state, keys, request, config, f));
    return deliver(state, config, keys, await waitForFlight(flight, config), joined);
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

/**
 * Look the request up in the store; on a miss, call the base adapter and store what it answered.
 * Never rejects: failures become an `error` outcome.
 */
async function fill(
  state: CacheState,
  keys: RequestKeys,
  request: ResolvedRequestOptions,
  config: InternalAxiosRequestConfig,
  flight: Flight<Outcome> | null,
): Promise<Outcome> {
  const { guard, counters } = state;
  if (!request.refresh) {
    const raw = await guard.call('get', keys.entry, (store) => store.get(keys.entry));
    if (raw !== FAILED && raw !== null) {
      try {
        const entry = decodeEntry(raw, keys.label);
        if (entry.freshUntil > Date.now()) {
          return {
            kind: 'response',
            source: 'store',
            head: entry,
            upstreamHeaders: null,
            body: () => bytesToBody(entry),
            createdAt: entry.createdAt,
            request: undefined,
          };
        }
      } catch (error) {
        counters.badEntries++;
        guard.report(error as CacheEntryError, 'get', keys.label);
      }
    }
  }

  let upstreamConfig = config;
  if (flight) {
    // Everyone who wanted this answer has already given up: do not call upstream for nobody.
    if (flight.waiters === 0) return { kind: 'error', error: new CanceledError(undefined, config) };
    // The shared call belongs to no single caller: it runs until every waiter has left (each waiter
    // applies its own signal and timeout to its wait).
    const controller = new AbortController();
    flight.controller = controller;
    upstreamConfig = { ...config, signal: controller.signal, cancelToken: undefined, timeout: 0 };
  }

  let response: AxiosResponse;
  try {
    response = await state.base(upstreamConfig);
  } catch (error) {
    if (!(error instanceof AxiosError && error.response)) return { kind: 'error', error };
    response = error.response;
  }
  const createdAt = Date.now();
  const upstreamHeaders = plainHeaders(response.headers);
  const head: ResponseHead = {
    status: response.status,
    statusText: response.statusText,
    headers: storableHeaders(upstreamHeaders),
  };
  await store(state, keys, request, head, response.data, createdAt);
  return {
    kind: 'response',
    source: 'upstream',
    head,
    upstreamHeaders,
    body: handOut(response.data),
    createdAt,
    request: response.request,
  };
}

/** Store an upstream answer if it may be stored. Never rejects. */
async function store(
  state: CacheState,
  keys: RequestKeys,
  request: ResolvedRequestOptions,
  head: ResponseHead,
  data: unknown,
  createdAt: number,
): Promise<void> {
  const { options, guard } = state;
  if (!options.isStorableStatus(head.status)) return;
  const directives = cacheControl(head.headers['cache-control']);
  if (directives.has('no-store') || (options.shared && directives.has('private'))) return;
  const body = await bodyToBytes(data);
  if (!body) return;
  const ttlMs = request.ttlMs ?? options.ttlMs;
  const bytes = encodeEntry({
    ...head,
    headers: { ...head.headers },
    createdAt,
    freshUntil: createdAt + ttlMs,
    tags: request.tags,
    bodyKind: body.kind,
    blobType: body.blobType,
    body: body.bytes,
  });
  if (bytes.length > options.maxEntryBytes) return;
  const indexes = [keys.variants];
  for (const tag of request.tags) indexes.push(tagIndexKey(options.prefix, tag));
  await guard.call('set', keys.label, (s) => s.set(keys.entry, bytes, ttlMs, indexes));
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
  if (outcome.source === 'store') {
    status = 'hit';
    counters.hits++;
  } else if (joined) {
    status = 'coalesced';
    counters.coalesced++;
  } else {
    status = 'miss';
    counters.misses++;
  }
  const head =
    status === 'miss' && outcome.upstreamHeaders ? { ...outcome.head, headers: outcome.upstreamHeaders } : outcome.head;
  const info: CacheInfo = { status, key: keys.entry, age: Math.max(0, Date.now() - outcome.createdAt) / 1000 };
  return settleReplay(config, head, outcome.body(), info, outcome.request);
}

/** The first call gets the upstream's own data; every later call gets a copy (callers never share). */
function handOut(data: unknown): () => unknown {
  let taken = false;
  return () => {
    if (!taken) {
      taken = true;
      return data;
    }
    return copyData(data);
  };
}

function copyData(data: unknown): unknown {
  if (data === null || typeof data !== 'object') return data; // strings and scalars are immutable
  if (Buffer.isBuffer(data)) return Buffer.from(data);
  if (data instanceof ArrayBuffer) return data.slice(0);
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength).slice();
  if (typeof Blob !== 'undefined' && data instanceof Blob) return data; // immutable
  try {
    return structuredClone(data);
  } catch {
    return data;
  }
}

function cacheControl(value: string | string[] | undefined): Set<string> {
  const directives = new Set<string>();
  if (!value) return directives;
  for (const part of (Array.isArray(value) ? value.join(',') : value).split(',')) {
    const name = part.split('=')[0]?.trim().toLowerCase();
    if (name) directives.add(name);
  }
  return directives;
}
