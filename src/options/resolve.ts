import { CacheOptionError } from '../api/errors.js';
import type { RequestDirectives } from '../http/request-directives.js';
import { DEFAULTS, LIMITS, type ResolvedOptions } from './defaults.js';
import type { CacheOptions, RequestCacheOptions } from './public.js';
import {
  boolean,
  breakerOption,
  cacheKey,
  cacheStatusOption,
  fleetStatsOption,
  fn,
  isPlainObject,
  l1Option,
  nonEmptyString,
  nonNegativeNumber,
  positiveInteger,
  positiveNumber,
  prefixOption,
  rejectUnknownKeys,
  seconds,
  statusFilter,
  storeOption,
  stringList,
  windowMs,
} from './validate.js';

const INSTANCE_KEYS: ReadonlySet<string> = new Set([
  'store',
  'ttl',
  'prefix',
  'methods',
  'statuses',
  'varyHeaders',
  'allowSetCookie',
  'maxEntryBytes',
  'storeTimeout',
  'evictTimeout',
  'invalidateOnUnsafe',
  'coalesce',
  'staleWhileRevalidate',
  'staleIfError',
  'lockTtl',
  'lockWait',
  'earlyRefresh',
  'tagHeader',
  'l1',
  'shared',
  'httpSemantics',
  'fallbackTtl',
  'keep',
  'fleetStats',
  'cacheStatus',
  'breaker',
  'onError',
]);

const REQUEST_KEYS: ReadonlySet<string> = new Set([
  'ttl',
  'key',
  'tags',
  'refresh',
  'coalesce',
  'staleWhileRevalidate',
  'staleIfError',
  'allowSetCookie',
  'httpSemantics',
]);

/** Validate `withCache` options eagerly and apply defaults. Throws {@link CacheOptionError}. */
export function resolveOptions(options: unknown): ResolvedOptions {
  if (options === undefined) options = {};
  if (!isPlainObject(options)) throw new CacheOptionError('options', options, 'an object');
  rejectUnknownKeys(options, INSTANCE_KEYS, '');
  const o = options as CacheOptions;
  const ttl = o.ttl === undefined ? DEFAULTS.ttl : seconds('ttl', o.ttl);
  const prefix = o.prefix === undefined ? DEFAULTS.prefix : prefixOption(o.prefix);
  return {
    store: storeOption(o.store),
    ttlMs: Math.round(ttl * 1000),
    prefix,
    methods: new Set(stringList('methods', o.methods ?? DEFAULTS.methods).map((m) => m.toLowerCase())),
    isStorableStatus: statusFilter('statuses', o.statuses ?? DEFAULTS.statuses),
    statusesGiven: o.statuses !== undefined,
    httpSemantics: o.httpSemantics === undefined ? DEFAULTS.httpSemantics : boolean('httpSemantics', o.httpSemantics),
    fallbackTtlMs: windowMs('fallbackTtl', o.fallbackTtl) ?? 0,
    keepMs: windowMs('keep', o.keep) ?? DEFAULTS.keep * 1000,
    fleetStatsMs: fleetStatsOption(o.fleetStats),
    cacheStatus: cacheStatusOption(o.cacheStatus),
    varyHeaders: stringList('varyHeaders', o.varyHeaders ?? DEFAULTS.varyHeaders).map((h) => h.toLowerCase()),
    allowSetCookie:
      o.allowSetCookie === undefined ? DEFAULTS.allowSetCookie : boolean('allowSetCookie', o.allowSetCookie),
    maxEntryBytes:
      o.maxEntryBytes === undefined
        ? DEFAULTS.maxEntryBytes
        : positiveInteger('maxEntryBytes', o.maxEntryBytes, LIMITS.entryBytes),
    storeTimeoutMs:
      o.storeTimeout === undefined
        ? DEFAULTS.storeTimeout
        : positiveNumber('storeTimeout', o.storeTimeout, LIMITS.storeTimeoutMs),
    evictTimeoutMs:
      o.evictTimeout === undefined
        ? DEFAULTS.evictTimeout
        : positiveNumber('evictTimeout', o.evictTimeout, LIMITS.leaseMs),
    invalidateOnUnsafe:
      o.invalidateOnUnsafe === undefined
        ? DEFAULTS.invalidateOnUnsafe
        : boolean('invalidateOnUnsafe', o.invalidateOnUnsafe),
    coalesce: o.coalesce === undefined ? DEFAULTS.coalesce : boolean('coalesce', o.coalesce),
    staleWhileRevalidateMs: windowMs('staleWhileRevalidate', o.staleWhileRevalidate) ?? 0,
    staleIfErrorMs: windowMs('staleIfError', o.staleIfError) ?? 0,
    lockTtlMs: o.lockTtl === undefined ? DEFAULTS.lockTtl : positiveNumber('lockTtl', o.lockTtl, LIMITS.leaseMs),
    lockWaitMs:
      o.lockWait === undefined ? DEFAULTS.lockWait : nonNegativeNumber('lockWait', o.lockWait, LIMITS.leaseMs),
    earlyRefresh:
      o.earlyRefresh === undefined
        ? DEFAULTS.earlyRefresh
        : nonNegativeNumber('earlyRefresh', o.earlyRefresh, LIMITS.earlyRefresh),
    l1: l1Option(o.l1),
    tagHeader: o.tagHeader === undefined ? undefined : nonEmptyString('tagHeader', o.tagHeader).toLowerCase(),
    shared: o.shared === undefined ? DEFAULTS.shared : boolean('shared', o.shared),
    breaker: breakerOption(o.breaker),
    onError: o.onError === undefined ? undefined : fn('onError', o.onError),
  };
}

/** A validated per-request option set. */
export interface ResolvedRequestOptions {
  ttlMs: number | undefined;
  key: string | undefined;
  tags: readonly string[];
  refresh: boolean;
  coalesce: boolean | undefined;
  staleWhileRevalidateMs: number | undefined;
  staleIfErrorMs: number | undefined;
  allowSetCookie: boolean | undefined;
  httpSemantics: boolean | undefined;
  /** The request's own `Cache-Control` directives, under `httpSemantics` (set by the adapter). */
  directives?: RequestDirectives;
}

const NO_REQUEST_OPTIONS: ResolvedRequestOptions = Object.freeze({
  ttlMs: undefined,
  key: undefined,
  tags: Object.freeze([]) as readonly string[],
  refresh: false,
  coalesce: undefined,
  staleWhileRevalidateMs: undefined,
  staleIfErrorMs: undefined,
  allowSetCookie: undefined,
  httpSemantics: undefined,
});

/**
 * Validate a per-request `cache` value. Returns `false` for a bypass. Throws {@link CacheOptionError}.
 */
export function resolveRequestOptions(value: unknown): ResolvedRequestOptions | false {
  if (value === undefined || value === null || value === true) return NO_REQUEST_OPTIONS;
  if (value === false) return false;
  if (!isPlainObject(value)) throw new CacheOptionError('cache', value, 'false or an object');
  rejectUnknownKeys(value, REQUEST_KEYS, 'cache.');
  const o = value as RequestCacheOptions;
  return {
    ttlMs: o.ttl === undefined ? undefined : Math.round(seconds('cache.ttl', o.ttl) * 1000),
    key: o.key === undefined ? undefined : cacheKey(o.key),
    tags: o.tags === undefined ? NO_REQUEST_OPTIONS.tags : stringList('cache.tags', o.tags, true),
    refresh: o.refresh === undefined ? false : boolean('cache.refresh', o.refresh),
    coalesce: o.coalesce === undefined ? undefined : boolean('cache.coalesce', o.coalesce),
    staleWhileRevalidateMs: windowMs('cache.staleWhileRevalidate', o.staleWhileRevalidate),
    staleIfErrorMs: windowMs('cache.staleIfError', o.staleIfError),
    allowSetCookie: o.allowSetCookie === undefined ? undefined : boolean('cache.allowSetCookie', o.allowSetCookie),
    httpSemantics: o.httpSemantics === undefined ? undefined : boolean('cache.httpSemantics', o.httpSemantics),
  };
}
