/** axios-redis-cache: a transparent, Redis-backed response cache for axios. */

export {
  CacheAlreadyInstalledError,
  CacheEntryError,
  CacheError,
  CacheNotInstalledError,
  CacheOptionError,
  CacheStoreError,
  CacheStoreTimeoutError,
  CacheStoreUnavailableError,
  type StoreOperation,
} from './api/errors.js';
export { clearCache, evict, evictTags } from './api/evict.js';
export type { CachedAxiosInstance, CachedRequestConfig, CachedResponse, EvictOptions } from './api/types.js';
export { closeCache, getCacheStats, getCacheStore, withCache } from './api/with-cache.js';
export type { FleetCacheStats, InstanceReport } from './fleet/counters.js';
export type { CacheStats } from './observe/stats.js';
export {
  type BreakerMessage,
  breakerChannel,
  type EvictionMessage,
  evictionChannel,
  type RequestTraceContext,
  requestChannel,
  type StoreErrorMessage,
  storeErrorChannel,
} from './observe/tracing.js';
export {
  type EntryDetails,
  type EntrySummary,
  inspectEntry,
  type ListOptions,
  listEntries,
} from './operate/entries.js';
export {
  type BreakerOptions,
  type CacheErrorContext,
  type CacheOptions,
  type CompressOptions,
  DEFAULTS,
  type L1Options,
  LIMITS,
  type RequestCacheOptions,
  type StatusFilter,
} from './options/index.js';
export type { CacheInfo, StaleReason } from './request/replay.js';
export { MemoryStore, type MemoryStoreOptions } from './stores/memory.js';
export {
  type IORedisClient,
  type NodeRedisClient,
  type RedisClient,
  RedisStore,
  type RedisStoreOptions,
} from './stores/redis/store.js';
export { STAMP_BYTES, STAMP_OFFSET, type StaleStamp } from './stores/stamp.js';
export {
  type CacheStore,
  type FillWrite,
  type LeaseAnswerOf,
  type LeaseEvent,
  type LeaseNotice,
  type LeaseState,
  type LeaseWatch,
  type StatsReport,
  type Subscription,
  UNCACHEABLE_MARKER,
  UnexpectedReplyError,
} from './stores/types.js';
