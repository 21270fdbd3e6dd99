/** The options: public types, defaults and bounds, validation. */
export { DEFAULTS, LIMITS, type ResolvedOptions } from './defaults.js';
export type {
  BreakerOptions,
  CacheErrorContext,
  CacheOptions,
  CompressOptions,
  L1Options,
  RequestCacheOptions,
  StatusFilter,
} from './public.js';
export { type ResolvedRequestOptions, resolveOptions, resolveRequestOptions } from './resolve.js';
export { CONTROL_CHARACTERS } from './validate.js';
