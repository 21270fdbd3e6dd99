import type { AxiosInstance, AxiosRequestConfig, AxiosResponse } from 'axios';
import type { RequestCacheOptions } from '../options/index.js';
import type { CacheInfo } from '../request/replay.js';

/**
 * Module augmentation: `cache` type-checks on every request config axios users touch (`AxiosRequestConfig`,
 * and through it `InternalAxiosRequestConfig` in interceptors, `postForm`, …), and every response may carry
 * `response.cache`. The type parameters repeat axios' own (`D, P` since axios 1.19, the oldest release of
 * the peer range: interface merging needs them identical).
 */
declare module 'axios' {
  interface AxiosRequestConfig<D = any, P = any> {
    /** Per-request cache options (axios-redis-cache): `false` bypasses the cache; an object overrides instance options. */
    cache?: false | RequestCacheOptions;
  }
  // biome-ignore lint/complexity/noBannedTypes: axios' own declaration; merged declarations must repeat it.
  interface AxiosResponse<T = any, D = any, H = {}, P = any> {
    /**
     * How axios-redis-cache answered (absent when the request did not go through a cached instance's
     * adapter, e.g. when a mock adapter or a per-request `adapter` replaced it).
     */
    cache?: CacheInfo;
  }
}

/** The instance `withCache` returns: an `AxiosInstance` (assignable wherever one is expected). */
export type CachedAxiosInstance = AxiosInstance;

/** A request config that may carry per-request cache options (any `AxiosRequestConfig`). */
export type CachedRequestConfig<D = any> = AxiosRequestConfig<D>;

/** A response that went through the cache: `cache` is present. */
export type CachedResponse<T = any, D = any> = AxiosResponse<T, D> & { cache: CacheInfo };

/** Options of `evict`, `evictTags` and `clearCache`. */
export interface EvictOptions {
  /**
   * Mark the matching entries stale instead of deleting them: every process answers them at once from the
   * stale copy while one refresh (a conditional request when the entry has a validator) runs for the whole
   * fleet, for at most `grace` seconds; after that they are misses. The eviction resolves to the number of
   * entries marked. A hard eviction after a soft one still deletes.
   * @default false
   */
  soft?: boolean;
  /**
   * With `soft`: seconds during which a soft-evicted entry may still be answered stale (at most a day). An
   * entry soft-evicted before keeps its earlier end.
   * @default 60
   */
  grace?: number;
}
