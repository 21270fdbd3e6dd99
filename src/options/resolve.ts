import { CacheOptionError } from '../api/errors.js';
import type { RequestDirectives } from '../http/request-directives.js';
import { isRedisClient } from '../stores/redis/store.js';
import { DEFAULTS, LIMITS, type ResolvedOptions } from './defaults.js';
import type { CacheOptions, RequestCacheOptions } from './public.js';
import {
  boolean,
  breakerOption,
  cacheKey,
  cacheStatusOption,
  compressOption,
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
  tagList,
  windowMs,
} from './validate.js';

const INSTANCE_KEYS: ReadonlySet<string> = new Set([
  'store',
  'ttl',
  'prefix',
  'methods',
  'statuses',
  'varyHeaders',
  'shareCredentials',
  'allowSetCookie',
  'compress',
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
  'compress',
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
  const storeTimeoutMs =
    o.storeTimeout === undefined
      ? DEFAULTS.storeTimeout
      : positiveNumber('storeTimeout', o.storeTimeout, LIMITS.storeTimeoutMs);
  return {
    store: storeOption(o.store),
    ownsStore: o.store === undefined || isRedisClient(o.store),
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
    ...keyHeaders(o.varyHeaders, o.shareCredentials),
    allowSetCookie:
      o.allowSetCookie === undefined ? DEFAULTS.allowSetCookie : boolean('allowSetCookie', o.allowSetCookie),
    compress: compressOption(o.compress),
    maxEntryBytes:
      o.maxEntryBytes === undefined ? DEFAULTS.maxEntryBytes : maxEntryBytes(o.maxEntryBytes, storeTimeoutMs),
    storeTimeoutMs,
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

/**
 * `maxEntryBytes`: at most Redis' largest string, and at most what a read brings back within its budget
 * (`LIMITS.entryBytesPerTimeoutMs` × `storeTimeout`): a larger entry would be stored and never served.
 */
function maxEntryBytes(value: unknown, storeTimeoutMs: number): number {
  const readable = Math.floor(storeTimeoutMs * LIMITS.entryBytesPerTimeoutMs);
  const bytes = positiveInteger('maxEntryBytes', value, LIMITS.entryBytes);
  if (bytes > readable) {
    throw new CacheOptionError(
      'maxEntryBytes',
      value,
      `at most ${readable} bytes with storeTimeout ${storeTimeoutMs} ms (a read must bring an entry back within its budget: raise storeTimeout to store larger entries, ${Math.ceil(bytes / LIMITS.entryBytesPerTimeoutMs)} ms for this size)`,
    );
  }
  return bytes;
}

/**
 * The headers of the key: those listed in `varyHeaders`, plus every credential header (the default list)
 * not named in `shareCredentials` — a list of your own never drops a credential by accident.
 */
function keyHeaders(
  varyHeaders: unknown,
  shareCredentials: unknown,
): Pick<ResolvedOptions, 'varyHeaders' | 'sharedCredentials'> {
  const listed = stringList('varyHeaders', varyHeaders ?? DEFAULTS.varyHeaders).map((h) => h.toLowerCase());
  const credentials: readonly string[] = DEFAULTS.varyHeaders;
  const shared = stringList('shareCredentials', shareCredentials ?? DEFAULTS.shareCredentials).map((h, i) => {
    const name = h.toLowerCase();
    if (!credentials.includes(name)) {
      throw new CacheOptionError(
        `shareCredentials[${i}]`,
        h,
        `one of the credential headers (${credentials.join(', ')})`,
      );
    }
    if (listed.includes(name) && varyHeaders !== undefined) {
      throw new CacheOptionError(`shareCredentials[${i}]`, h, 'a header that varyHeaders does not list');
    }
    return name;
  });
  const headers = new Set(listed);
  for (const name of credentials) if (!shared.includes(name)) headers.add(name);
  for (const name of shared) headers.delete(name);
  return { varyHeaders: [...headers], sharedCredentials: shared };
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
  compress: boolean | undefined;
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
  compress: undefined,
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
    tags: o.tags === undefined ? NO_REQUEST_OPTIONS.tags : tagList(o.tags),
    refresh: o.refresh === undefined ? false : boolean('cache.refresh', o.refresh),
    coalesce: o.coalesce === undefined ? undefined : boolean('cache.coalesce', o.coalesce),
    staleWhileRevalidateMs: windowMs('cache.staleWhileRevalidate', o.staleWhileRevalidate),
    staleIfErrorMs: windowMs('cache.staleIfError', o.staleIfError),
    allowSetCookie: o.allowSetCookie === undefined ? undefined : boolean('cache.allowSetCookie', o.allowSetCookie),
    compress: o.compress === undefined ? undefined : boolean('cache.compress', o.compress),
    httpSemantics: o.httpSemantics === undefined ? undefined : boolean('cache.httpSemantics', o.httpSemantics),
  };
}
