import { randomBytes } from 'node:crypto';
import axios, { type AxiosInstance, type AxiosRequestConfig } from 'axios';
import { EntryStore } from '../entries/entry-store.js';
import { type FleetCacheStats, FleetReporter, readFleetStats } from '../fleet/counters.js';
import { Invalidations } from '../local/invalidation.js';
import { LocalLayer } from '../local/l1.js';
import { type CacheStats, newCounters } from '../observe/stats.js';
import { type CacheOptions, resolveOptions } from '../options/index.js';
import { CACHING_ADAPTER, createCachingAdapter } from '../request/adapter.js';
import { FlightMap } from '../request/coalesce.js';
import { REFRESH_CONCURRENCY, REFRESH_QUEUE, RefreshQueue } from '../request/refresh-queue.js';
import { StoreGuard } from '../stores/guard/guard.js';
import type { CacheStore } from '../stores/types.js';
import { type AxiosModule, axiosCopyOf } from './axios-copy.js';
import { bounded } from './bounded.js';
import { CacheAlreadyInstalledError, CacheNotInstalledError, CacheOptionError } from './errors.js';
import type { CacheState } from './state.js';
import type { CachedAxiosInstance } from './types.js';

/**
 * The cache state of every cached instance, kept in one registry per process (a global symbol), so that
 * every copy of this library loaded in it — the ESM and the CommonJS builds, the `otel` entry point —
 * sees the instances any of them made: `getCacheStats`, `evict`, `closeCache` work across them.
 */
const STATES_KEY = Symbol.for('axios-redis-cache.states');
const registry = globalThis as typeof globalThis & { [STATES_KEY]?: WeakMap<object, CacheState> };
registry[STATES_KEY] ??= new WeakMap<object, CacheState>();
const states: WeakMap<object, CacheState> = registry[STATES_KEY];

/**
 * Give an axios instance a transparent response cache. Resolves the instance's own adapter once, installs
 * the caching adapter in its place, and returns the same instance, typed so that per-request `cache`
 * options type-check and every response carries `response.cache`.
 *
 * Every option is validated here: a bad value throws {@link CacheOptionError} naming the option and value.
 * The default export (`withCache(axios)`) is refused: every instance later made with `axios.create()` —
 * other libraries' too — would inherit the cache. An instance that already has a cache in its adapter
 * (installed, or inherited through `create()`) is refused with {@link CacheAlreadyInstalledError}.
 */
export function withCache(instance: AxiosInstance, options?: CacheOptions): CachedAxiosInstance {
  if (!isAxiosInstance(instance)) throw new CacheOptionError('instance', instance, 'an axios instance');
  if (isDefaultExport(instance)) {
    throw new CacheOptionError(
      'instance',
      'the default axios export',
      "an instance of your own: withCache(axios.create({ ... })) (withCache(axios) would also cache every instance later made with axios.create(), other libraries' included)",
    );
  }
  if (states.has(instance) || hasCachingAdapter(instance.defaults.adapter)) throw new CacheAlreadyInstalledError();
  const resolved = resolveOptions(options);
  const counters = newCounters();
  // The instance's own copy of axios resolves its adapter: the adapter's errors are then of its owner's class.
  const copy = axiosCopyOf(instance);
  const base = copy.getAdapter(instance.defaults.adapter, instance.defaults as AxiosRequestConfig);
  const adapterKind = adapterKindOf(copy, instance.defaults.adapter, base);
  const guard = new StoreGuard(resolved.store, resolved, counters);
  const l1 = resolved.l1 ? new LocalLayer(resolved.l1) : null;
  const instanceId = randomBytes(9).toString('base64url');
  const state: CacheState = {
    options: resolved,
    axios: copy,
    base,
    adapterKind,
    httpKeyKind: `${adapterKind}+http`,
    guard,
    entries: new EntryStore(guard, counters, resolved.maxEntryBytes),
    flights: new FlightMap(adapterKind, copy),
    refreshing: new Set(),
    refreshQueue: new RefreshQueue(REFRESH_CONCURRENCY, REFRESH_QUEUE),
    graceCalls: new Set(),
    counters,
    l1,
    invalidations: new Invalidations(guard, resolved.prefix, instanceId, l1),
    reporter: new FleetReporter(guard, counters, resolved.prefix, instanceId, l1),
  };
  state.invalidations.listen();
  if (resolved.fleetStatsMs !== null) state.reporter.start(resolved.fleetStatsMs);
  instance.defaults.adapter = createCachingAdapter(state);
  states.set(instance, state);
  return instance as unknown as CachedAxiosInstance;
}

/**
 * Release what the cache holds open: the `l1` invalidation connection, and the fleet counter reports
 * (after a last one). The store's own client is yours to close. Requests still work afterwards (without
 * the in-process layer).
 */
export async function closeCache(instance: CachedAxiosInstance | AxiosInstance): Promise<void> {
  const state = cacheStateOf(instance);
  await state.reporter.stop();
  await state.invalidations.close();
  state.guard.close();
  if (state.options.ownsStore) state.options.store.close?.();
}

/** The cache state of an instance returned by `withCache`. Throws {@link CacheNotInstalledError}. */
export function cacheStateOf(instance: unknown): CacheState {
  const state =
    typeof instance === 'function' || typeof instance === 'object' ? states.get(instance as object) : undefined;
  if (!state) throw new CacheNotInstalledError(instance);
  return state;
}

/**
 * Counters and circuit breaker state of a cached instance; with `{ fleet: true }`, the counters summed over
 * every instance reporting under its prefix (see `fleetStats`), after reporting this one's latest: a
 * promise, rejecting with a `CacheStoreError` when the store cannot be read (`CacheStoreTimeoutError` after `evictTimeout`).
 */
export function getCacheStats(instance: CachedAxiosInstance | AxiosInstance): CacheStats;
export function getCacheStats(
  instance: CachedAxiosInstance | AxiosInstance,
  options: { fleet: true },
): Promise<FleetCacheStats>;
export function getCacheStats(
  instance: CachedAxiosInstance | AxiosInstance,
  options?: { fleet?: boolean },
): CacheStats | Promise<FleetCacheStats> {
  const state = cacheStateOf(instance);
  if (options?.fleet) return fleetStatsOf(state);
  const { l1 } = state;
  return {
    ...state.counters,
    inFlight: state.flights.size,
    breaker: state.guard.breakerState,
    writeBreaker: state.guard.writeBreakerState,
    l1: l1 ? (l1.usable ? 'live' : 'down') : 'off',
    l1Entries: l1 ? l1.size : 0,
  };
}

/** The store behind a cached instance (e.g. to inspect a {@link MemoryStore} in tests). */
export function getCacheStore(instance: CachedAxiosInstance | AxiosInstance): CacheStore {
  return cacheStateOf(instance).options.store;
}

/**
 * `http`, `fetch`, `xhr` for axios' own adapters; `custom` for any other (a test double, your own). From the
 * setting (a name, a function or a list, of which axios takes the first it can use) and what it resolved to.
 */
function adapterKindOf(copy: AxiosModule, setting: unknown, resolved: unknown): string {
  for (const item of Array.isArray(setting) ? setting : [setting]) {
    if (typeof item === 'function') return item === resolved ? knownName(item) : 'custom';
    if (typeof item !== 'string') continue;
    try {
      copy.getAdapter(item); // the first name available here is the one axios resolved
      return item.toLowerCase();
    } catch {
      // Not available here: axios went on to the next one.
    }
  }
  return knownName(resolved);
}

function knownName(adapter: unknown): string {
  const name = (adapter as { adapterName?: unknown } | null)?.adapterName;
  return typeof name === 'string' && name ? name : 'custom';
}

/** The default export carries the library's classes (`axios.Axios`); instances from `create()` do not. */
function isDefaultExport(instance: AxiosInstance): boolean {
  return typeof (instance as { Axios?: unknown }).Axios === 'function' || instance.defaults === axios.defaults;
}

/** Whether an adapter setting (a function, a name, or a list of them) includes a caching adapter. */
function hasCachingAdapter(adapter: unknown): boolean {
  if (Array.isArray(adapter)) return adapter.some(hasCachingAdapter);
  return typeof adapter === 'function' && (adapter as { [CACHING_ADAPTER]?: boolean })[CACHING_ADAPTER] === true;
}

function isAxiosInstance(value: unknown): value is AxiosInstance {
  const candidate = value as Partial<AxiosInstance> | null;
  return (
    (typeof candidate === 'function' || (typeof candidate === 'object' && candidate !== null)) &&
    typeof candidate.request === 'function' &&
    typeof candidate.defaults === 'object' &&
    candidate.defaults !== null
  );
}

async function fleetStatsOf(state: CacheState): Promise<FleetCacheStats> {
  await state.reporter.report();
  return bounded(state, 'stats', undefined, (store) => readFleetStats(store, state.options.prefix));
}
