import axios, { type AxiosInstance, type AxiosRequestConfig } from 'axios';
import { createCachingAdapter } from './adapter.js';
import { FlightMap } from './coalesce.js';
import { CacheAlreadyInstalledError, CacheNotInstalledError, CacheOptionError } from './errors.js';
import { type CacheOptions, resolveOptions } from './options.js';
import type { CacheState } from './state.js';
import { type CacheStats, newCounters } from './stats.js';
import { StoreGuard } from './store-guard.js';
import type { CacheStore } from './stores/types.js';
import type { CachedAxiosInstance } from './types.js';

const states = new WeakMap<object, CacheState>();

/**
 * Give an axios instance a transparent response cache. Resolves the instance's own adapter once, installs
 * the caching adapter in its place, and returns the same instance, typed so that per-request `cache`
 * options type-check and every response carries `response.cache`.
 *
 * Every option is validated here: a bad value throws {@link CacheOptionError} naming the option and value.
 */
export function withCache(instance: AxiosInstance, options?: CacheOptions): CachedAxiosInstance {
  if (!isAxiosInstance(instance)) throw new CacheOptionError('instance', instance, 'an axios instance');
  if (states.has(instance)) throw new CacheAlreadyInstalledError();
  const resolved = resolveOptions(options);
  const counters = newCounters();
  const state: CacheState = {
    options: resolved,
    base: axios.getAdapter(instance.defaults.adapter, instance.defaults as AxiosRequestConfig),
    guard: new StoreGuard(resolved.store, resolved, counters),
    flights: new FlightMap(),
    refreshing: new Set(),
    counters,
  };
  instance.defaults.adapter = createCachingAdapter(state);
  states.set(instance, state);
  return instance as unknown as CachedAxiosInstance;
}

/** The cache state of an instance returned by `withCache`. Throws {@link CacheNotInstalledError}. */
export function cacheStateOf(instance: unknown): CacheState {
  const state =
    typeof instance === 'function' || typeof instance === 'object' ? states.get(instance as object) : undefined;
  if (!state) throw new CacheNotInstalledError(instance);
  return state;
}

/** Counters and circuit breaker state of a cached instance. */
export function getCacheStats(instance: CachedAxiosInstance | AxiosInstance): CacheStats {
  const state = cacheStateOf(instance);
  return { ...state.counters, inFlight: state.flights.size, breaker: state.guard.breakerState };
}

/** The store behind a cached instance (e.g. to inspect a {@link MemoryStore} in tests). */
export function getCacheStore(instance: CachedAxiosInstance | AxiosInstance): CacheStore {
  return cacheStateOf(instance).options.store;
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
