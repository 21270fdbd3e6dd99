import type { AxiosInstance, AxiosRequestConfig, AxiosResponse } from 'axios';
import type { RequestCacheOptions } from './options.js';
import type { CacheInfo } from './replay.js';

/** A request config that may carry per-request cache options. */
export type CachedRequestConfig<D = any> = AxiosRequestConfig<D> & {
  /** `false` bypasses the cache for this request; an object overrides instance options. */
  cache?: false | RequestCacheOptions;
};

/** A response of a cached instance: every response says how the cache served it. */
export type CachedResponse<T = any, D = any> = AxiosResponse<T, D> & {
  cache: CacheInfo;
};

type Method = <T = any, R = CachedResponse<T>, D = any>(url: string, config?: CachedRequestConfig<D>) => Promise<R>;
type MethodWithData = <T = any, R = CachedResponse<T>, D = any>(
  url: string,
  data?: D,
  config?: CachedRequestConfig<D>,
) => Promise<R>;

type RequestMethods = 'request' | 'get' | 'delete' | 'head' | 'options' | 'post' | 'put' | 'patch';

/**
 * The axios instance returned by `withCache`: the same object, typed so that `config.cache` type-checks
 * and `response.cache` is always present. Written against axios' stable generics (`T`, `D`) so that it
 * holds for every axios 1.x release.
 */
export interface CachedAxiosInstance extends Omit<AxiosInstance, RequestMethods> {
  <T = any, R = CachedResponse<T>, D = any>(config: CachedRequestConfig<D>): Promise<R>;
  <T = any, R = CachedResponse<T>, D = any>(url: string, config?: CachedRequestConfig<D>): Promise<R>;
  request<T = any, R = CachedResponse<T>, D = any>(config: CachedRequestConfig<D>): Promise<R>;
  get: Method;
  delete: Method;
  head: Method;
  options: Method;
  post: MethodWithData;
  put: MethodWithData;
  patch: MethodWithData;
}
