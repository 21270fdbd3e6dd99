import type { CacheError } from '../api/errors.js';
import { CacheOptionError } from '../api/errors.js';
import type { RequestDirectives } from '../http/request-directives.js';
import { MemoryStore } from '../stores/memory.js';
import { type IORedisClient, isIORedisClient, RedisStore } from '../stores/redis.js';
import type { CacheStore } from '../stores/types.js';

/** Context passed to `onError` with every swallowed store or entry error. */
export interface CacheErrorContext {
  /** What the cache was doing. */
  operation: string;
  /** The cache key involved (never contains credentials or query strings), when there is one. */
  key: string | undefined;
}

/** A status filter: exact codes, inclusive `[from, to]` ranges, or a predicate. */
export type StatusFilter = readonly (number | readonly [number, number])[] | ((status: number) => boolean);

/** Circuit breaker settings: see "When Redis fails" in the README. */
export interface BreakerOptions {
  /**
   * Consecutive failed or timed-out store calls that open the breaker.
   * @default 5
   */
  failures?: number;
  /**
   * Milliseconds the breaker stays open (requests skip the store entirely) before one probe call decides
   * whether to close it again. A store that reconnects is probed at once.
   * @default 250
   */
  cooldown?: number;
}

/** The optional in-process layer in front of the store: see "In-process layer (l1)" in the README. */
export interface L1Options {
  /**
   * Most entries kept in this process.
   * @default 1000
   */
  maxEntries?: number;
  /**
   * Most bytes of bodies kept in this process.
   * @default 16777216 (16 MiB)
   */
  maxBytes?: number;
  /**
   * Longest time, in seconds, an entry is served from this process without asking the store (never past
   * its freshness). Evictions and overwrites anywhere in the fleet drop it sooner.
   * @default 1
   */
  ttl?: number;
}

/** Options of `withCache(instance, options)`. Every option is validated when `withCache` runs. */
export interface CacheOptions {
  /**
   * Where entries live: an ioredis `Redis` or `Cluster` client (wrapped in a {@link RedisStore}; you keep
   * ownership of the connection), or any {@link CacheStore}.
   * @default a new in-process {@link MemoryStore} (10,000 entries, 64 MiB)
   */
  store?: IORedisClient | CacheStore;
  /**
   * Seconds an entry stays fresh. Fractions are allowed (millisecond precision); at most a year.
   * @default 60
   */
  ttl?: number;
  /**
   * Prefix of every key this instance writes. `clearCache` deletes everything under it, so give each
   * independent cache its own. Must be non-empty and must not contain `{` or `}` (reserved for Redis
   * Cluster hash tags).
   * @default "axios-cache:"
   */
  prefix?: string;
  /**
   * HTTP methods whose responses are cached (case-insensitive). The request body is part of the key for
   * methods that send one.
   * @default ["get", "head"]
   */
  methods?: readonly string[];
  /**
   * Response statuses that are stored: codes, `[from, to]` ranges, or a predicate. Stored non-2xx
   * responses (e.g. 404 if you list it) are replayed as the same rejected `AxiosError`.
   * @default [[200, 205], [207, 299]] (2xx except 206 Partial Content)
   */
  statuses?: StatusFilter;
  /**
   * Request headers whose values are part of the key (case-insensitive), hashed. Requests that differ in
   * any of them never share an entry. HTTP basic `auth` and credentials in the URL always count too. The
   * default lists the credential headers in common use by APIs and gateways; a list you give replaces it
   * (spread `DEFAULTS.varyHeaders` into yours to extend it).
   * @default ["authorization", "proxy-authorization", "cookie", "x-api-key", "api-key", "x-auth-token",
   *   "x-access-token", "x-amz-security-token", "x-goog-api-key", "ocp-apim-subscription-key", "x-functions-key"]
   */
  varyHeaders?: readonly string[];
  /**
   * Store responses that set a cookie (`Set-Cookie`), e.g. behind a load balancer that sets a stickiness
   * cookie on every answer. Off by default in a shared cache: such an answer is often personal (a session,
   * a CSRF token). The `Set-Cookie` header itself is never stored nor replayed. Per request:
   * `cache.allowSetCookie`. A private cache (`shared: false`) stores them anyway.
   * @default false
   */
  allowSetCookie?: boolean;
  /**
   * Largest encoded entry stored, in bytes (at most 512 MiB, Redis' largest string). Larger responses are
   * passed through and not stored.
   * @default 1048576 (1 MiB)
   */
  maxEntryBytes?: number;
  /**
   * Milliseconds a store call may wait while the store answers nothing. A read that does not answer in
   * time is a miss; a write is abandoned. Keeps a stalled, paused or unreachable Redis from slowing requests
   * by more than this. Only time this process spends waiting counts, from the store's last answer: a call
   * queued behind replies the process is busy parsing, or behind replies Redis is still sending (large
   * values, many in flight), waits longer, up to 4 × this in wall-clock time, however busy the process (see
   * "When Redis fails" in the README).
   * At most 60,000.
   * @default 50
   */
  storeTimeout?: number;
  /**
   * After a successful unsafe request (`POST`, `PUT`, `PATCH`, `DELETE`, … answered with a status below
   * 400) through this instance, evict the stored answers to `GET`/`HEAD` of its URL and of its `Location`
   * and `Content-Location` (same origin), fleet-wide, before the request is answered (RFC 9111 §4.4).
   * @default true
   */
  invalidateOnUnsafe?: boolean;
  /**
   * Milliseconds `evict`, `evictTags` and `clearCache` may take before they reject with a
   * `CacheStoreTimeoutError` (a store failure rejects at once with a `CacheStoreError`, the cause attached).
   * At most 600,000.
   * @default 5000
   */
  evictTimeout?: number;
  /**
   * Share one upstream call between identical concurrent requests in this process.
   * @default true
   */
  coalesce?: boolean;
  /**
   * Seconds past freshness during which a stale entry is served at once (`response.cache.status` is
   * `'stale'`) while one background refresh, for the whole fleet, fetches a new one. At most a year.
   * @default 0 (off)
   */
  staleWhileRevalidate?: number;
  /**
   * Seconds past freshness during which a stale entry is served instead of an upstream failure (network
   * error, timeout, 5xx). At most a year.
   * @default 0 (off)
   */
  staleIfError?: number;
  /**
   * Milliseconds a fill lease lasts: on a miss, one process fleet-wide takes the lease and calls upstream;
   * the others wait for its entry. The holder renews it every third of this while its upstream call runs,
   * so a slow upstream keeps it; a holder that dies stops renewing, and another process takes over within
   * this long. At most 600,000 (10 minutes).
   * @default 1000
   */
  lockTtl?: number;
  /**
   * Milliseconds a request waits for another process's fill before calling upstream itself, and never more
   * than half of what is left of its own `timeout` (the other half is for its own call). Its `signal`
   * still applies. At most 600,000 (10 minutes).
   * @default 6000
   */
  lockWait?: number;
  /**
   * Probabilistic early refresh ("XFetch", Vattani et al., VLDB 2015): a hit triggers one background
   * refresh when `now − δ·β·ln(random()) ≥ expiry`, δ being how long the last fetch took. `β` is this
   * value; `1` is the paper's default, larger refreshes earlier; `0` turns it off.
   * @default 0 (off)
   */
  earlyRefresh?: number;
  /**
   * A response header whose comma- or space-separated values are stored as extra tags of the entry (e.g.
   * `'cache-tag'` or `'surrogate-key'`), so that the upstream can tag its own answers for `evictTags`.
   * @default undefined (off)
   */
  tagHeader?: string;
  /**
   * An in-process LRU of hot entries in front of the store (answers without a Redis round trip), or
   * `false`. With Redis, each process listens on a pub/sub channel for overwrites and evictions made
   * anywhere in the fleet, and serves nothing from the layer while that subscription is down.
   * Call `closeCache(instance)` to close its connection when shutting down.
   * @default false
   */
  l1?: L1Options | false;
  /**
   * `true`: this is a shared cache (one entry may serve many users of the service), so responses marked
   * `Cache-Control: private` are not stored. `false`: a private cache; `private` responses are stored.
   * `no-store` responses are never stored.
   * @default true
   */
  shared?: boolean;
  /**
   * Follow HTTP caching (RFC 9111) instead of `ttl`: freshness from the response's `Cache-Control`
   * (`s-maxage` in a shared cache, `max-age`), `Expires` with `Date` and `Age`, or heuristically from
   * `Last-Modified`; `no-cache`, `must-revalidate`, `proxy-revalidate`, `private`, `no-store`; the request's
   * `max-age`, `min-fresh`, `max-stale`, `only-if-cached`; the response's `stale-while-revalidate` and
   * `stale-if-error`; an `Age` header on answers from the cache; a `304` to a caller's own conditional
   * request when the stored answer allows it. `ttl`, `staleWhileRevalidate` and `staleIfError` are then not
   * used (see `fallbackTtl`). Entries stored in one mode are never read in the other. Per request:
   * `cache.httpSemantics`. See "HTTP semantics" in the README.
   * @default false (the `ttl` decides; response headers are honoured only where ignoring them would be
   *   wrong: `Vary`, `no-store`, `private`, `Set-Cookie`)
   */
  httpSemantics?: boolean;
  /**
   * With `httpSemantics`: seconds of freshness given to a response that says nothing about its freshness
   * (no `max-age`, `s-maxage`, `Expires` nor `Last-Modified`), when it may be stored. At most a year.
   * @default 0 (such a response is stored only to be revalidated, if it has a validator)
   */
  fallbackTtl?: number;
  /**
   * Seconds a stored answer that has a validator (`ETag` or `Last-Modified`) is kept past its freshness,
   * so that a request after it expires revalidates it with one conditional request (`If-None-Match` /
   * `If-Modified-Since`, one for the whole fleet): a `304` renews it without transferring the body. In both
   * modes. `0` turns revalidation off. At most a year.
   * @default 600
   */
  keep?: number;
  /**
   * Add an RFC 9211 `Cache-Status` header to every response that goes through the cache, naming this cache
   * (`true`: `axios-redis-cache`; a string: that name), e.g. `axios-redis-cache; hit; ttl=42`,
   * `axios-redis-cache; fwd=uri-miss; fwd-status=200`, `axios-redis-cache; fwd=stale; fwd-status=304` —
   * for services that log headers or pass answers on. Appended to the upstream's own `Cache-Status`.
   * @default false (responses are left as the upstream sent them)
   */
  cacheStatus?: boolean | string;
  /**
   * Seconds between this instance's reports to the fleet-wide counters (one pipelined `HINCRBY` batch to
   * `<prefix>{stats}`, never per request; read with `getCacheStats(instance, { fleet: true })` or the CLI's
   * `stats`), or `false` for none. At least 0.1, at most an hour.
   * @default 5
   */
  fleetStats?: number | false;
  /**
   * Circuit breakers around the store — one for reads, one for writes (writes refused by Redis never
   * skip reads) — or `false` to call the store every time.
   * @default { failures: 5, cooldown: 250 }
   */
  breaker?: BreakerOptions | false;
  /**
   * Receives every error the cache swallowed (store failures and timeouts, unusable entries). Nothing is
   * logged by default. Exceptions thrown by the hook are ignored.
   * @default undefined
   */
  onError?: (error: CacheError, context: CacheErrorContext) => void;
}

/** Per-request options: `config.cache`. `false` bypasses the cache entirely (no read, no write). */
export interface RequestCacheOptions {
  /**
   * Seconds this response stays fresh (at most a year).
   * @default the instance's `ttl`
   */
  ttl?: number;
  /**
   * Your own key for this request, replacing the URL in the key derivation (the method, the instance
   * prefix and `varyHeaders` still apply): at most 1,024 characters, no control characters.
   * `evict(instance, { url, cache: { key } })` removes it.
   * @default derived from the method, URL, params, body and `varyHeaders`
   */
  key?: string;
  /**
   * Tags stored with the entry; `evictTags(instance, tags)` removes every entry carrying one of them.
   * @default []
   */
  tags?: readonly string[];
  /**
   * Skip the read, fetch from upstream and overwrite the entry.
   * @default false
   */
  refresh?: boolean;
  /**
   * Share one upstream call with identical concurrent requests, in this process and (with Redis) across
   * the fleet.
   * @default the instance's `coalesce`
   */
  coalesce?: boolean;
  /**
   * Seconds a stale entry may be served while it is refreshed in the background (at most a year).
   * @default the instance's `staleWhileRevalidate`
   */
  staleWhileRevalidate?: number;
  /**
   * Seconds a stale entry may be served instead of an upstream failure (at most a year).
   * @default the instance's `staleIfError`
   */
  staleIfError?: number;
  /**
   * Store this response even if it sets a cookie (the `Set-Cookie` header itself is never stored).
   * @default the instance's `allowSetCookie`
   */
  allowSetCookie?: boolean;
  /**
   * Follow HTTP caching (RFC 9111) for this request (see the instance option).
   * @default the instance's `httpSemantics`
   */
  httpSemantics?: boolean;
}

/** Options after validation, with defaults applied. */
export interface ResolvedOptions {
  store: CacheStore;
  ttlMs: number;
  prefix: string;
  methods: ReadonlySet<string>;
  isStorableStatus: (status: number) => boolean;
  /** `statuses` was given: it also filters what `httpSemantics` would store. */
  statusesGiven: boolean;
  httpSemantics: boolean;
  fallbackTtlMs: number;
  keepMs: number;
  /** The cache name of the `Cache-Status` member added to responses, or `null` when off. */
  cacheStatus: string | null;
  /** Milliseconds between fleet counter reports, or `null` when off. */
  fleetStatsMs: number | null;
  varyHeaders: readonly string[];
  allowSetCookie: boolean;
  maxEntryBytes: number;
  storeTimeoutMs: number;
  evictTimeoutMs: number;
  invalidateOnUnsafe: boolean;
  coalesce: boolean;
  staleWhileRevalidateMs: number;
  staleIfErrorMs: number;
  lockTtlMs: number;
  lockWaitMs: number;
  earlyRefresh: number;
  tagHeader: string | undefined;
  l1: { maxEntries: number; maxBytes: number; ttlMs: number } | null;
  shared: boolean;
  breaker: { failures: number; cooldownMs: number } | null;
  onError: ((error: CacheError, context: CacheErrorContext) => void) | undefined;
}

/**
 * Upper bounds of the numeric options, so that every value given can be honoured by Redis (`PX`) and by
 * timers: a value beyond one is refused where it is given, never accepted and then failing every write.
 */
export const LIMITS = {
  /** `ttl`, `staleWhileRevalidate`, `staleIfError`, `l1.ttl`: a year, in seconds. */
  seconds: 365 * 24 * 3600,
  /** `lockTtl`, `lockWait`: ten minutes, in ms. */
  leaseMs: 600_000,
  /** `storeTimeout`: a minute, in ms. */
  storeTimeoutMs: 60_000,
  /** `breaker.cooldown`: an hour, in ms. */
  cooldownMs: 3_600_000,
  /** `breaker.failures`. */
  failures: 1_000_000,
  /** `maxEntryBytes`: Redis' largest string, 512 MiB. */
  entryBytes: 512 * 1024 * 1024,
  /** `l1.maxEntries`. */
  l1Entries: 10_000_000,
  /** `l1.maxBytes`: 8 GiB. */
  l1Bytes: 8 * 1024 * 1024 * 1024,
  /** `earlyRefresh` (β): any finite value works; this one only keeps it a safe integer. */
  earlyRefresh: Number.MAX_SAFE_INTEGER,
  /** `cache.key`, in characters. */
  keyLength: 1024,
} as const;

/** Defaults, exported for documentation and tests. */
export const DEFAULTS = {
  ttl: 60,
  prefix: 'axios-cache:',
  methods: ['get', 'head'],
  statuses: [
    [200, 205],
    [207, 299],
  ] as const,
  varyHeaders: [
    'authorization',
    'proxy-authorization',
    'cookie',
    'x-api-key',
    'api-key',
    'x-auth-token',
    'x-access-token',
    'x-amz-security-token',
    'x-goog-api-key',
    'ocp-apim-subscription-key',
    'x-functions-key',
  ],
  allowSetCookie: false,
  maxEntryBytes: 1024 * 1024,
  storeTimeout: 50,
  evictTimeout: 5000,
  invalidateOnUnsafe: true,
  coalesce: true,
  staleWhileRevalidate: 0,
  staleIfError: 0,
  lockTtl: 1000,
  lockWait: 6000,
  earlyRefresh: 0,
  shared: true,
  httpSemantics: false,
  fallbackTtl: 0,
  keep: 600,
  fleetStats: 5,
  cacheStatus: false,
  breaker: { failures: 5, cooldown: 250 },
} as const;

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

function cacheStatusOption(value: unknown): string | null {
  if (value === undefined || value === false) return null;
  if (value === true) return 'axios-redis-cache';
  // An RFC 8941 token: what a Cache-Status member's name may be without quoting.
  if (typeof value !== 'string' || !/^[A-Za-z*][A-Za-z0-9:/!#$%&'*+\-.^_`|~]*$/.test(value)) {
    throw new CacheOptionError('cacheStatus', value, 'true, false, or a cache name (a token, e.g. "api-cache")');
  }
  return value;
}

function fleetStatsOption(value: unknown): number | null {
  if (value === false) return null;
  if (value === undefined) return DEFAULTS.fleetStats * 1000;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0.1 || value > 3600) {
    throw new CacheOptionError('fleetStats', value, 'false or a number of seconds from 0.1 to 3600');
  }
  return Math.round(value * 1000);
}

function storeOption(store: unknown): CacheStore {
  if (store === undefined) return new MemoryStore();
  if (isIORedisClient(store)) return new RedisStore(store);
  const candidate = store as Partial<CacheStore> | null;
  if (
    typeof candidate === 'object' &&
    candidate !== null &&
    typeof candidate.get === 'function' &&
    typeof candidate.set === 'function' &&
    typeof candidate.delete === 'function' &&
    typeof candidate.deleteIndexed === 'function' &&
    typeof candidate.deleteMatching === 'function'
  ) {
    return candidate as CacheStore;
  }
  throw new CacheOptionError(
    'store',
    store,
    'an ioredis Redis or Cluster client, or a CacheStore (get, set, delete, deleteIndexed, deleteMatching)',
  );
}

function l1Option(value: unknown): ResolvedOptions['l1'] {
  if (value === undefined || value === false) return null;
  if (!isPlainObject(value)) throw new CacheOptionError('l1', value, 'false or { maxEntries, maxBytes, ttl }');
  rejectUnknownKeys(value, new Set(['maxEntries', 'maxBytes', 'ttl']), 'l1.');
  const l = value as L1Options;
  return {
    maxEntries: l.maxEntries === undefined ? 1000 : positiveInteger('l1.maxEntries', l.maxEntries, LIMITS.l1Entries),
    maxBytes: l.maxBytes === undefined ? 16 * 1024 * 1024 : positiveInteger('l1.maxBytes', l.maxBytes, LIMITS.l1Bytes),
    ttlMs: Math.round((l.ttl === undefined ? 1 : seconds('l1.ttl', l.ttl)) * 1000),
  };
}

function breakerOption(value: unknown): ResolvedOptions['breaker'] {
  if (value === false) return null;
  if (value === undefined) return { failures: DEFAULTS.breaker.failures, cooldownMs: DEFAULTS.breaker.cooldown };
  if (!isPlainObject(value)) throw new CacheOptionError('breaker', value, 'false or { failures, cooldown }');
  rejectUnknownKeys(value, new Set(['failures', 'cooldown']), 'breaker.');
  const b = value as BreakerOptions;
  return {
    failures:
      b.failures === undefined
        ? DEFAULTS.breaker.failures
        : positiveInteger('breaker.failures', b.failures, LIMITS.failures),
    cooldownMs:
      b.cooldown === undefined
        ? DEFAULTS.breaker.cooldown
        : positiveNumber('breaker.cooldown', b.cooldown, LIMITS.cooldownMs),
  };
}

function statusFilter(name: string, value: unknown): (status: number) => boolean {
  if (typeof value === 'function') return value as (status: number) => boolean;
  if (!Array.isArray(value)) throw new CacheOptionError(name, value, 'an array of status codes or [from, to] ranges');
  const exact = new Set<number>();
  const ranges: [number, number][] = [];
  value.forEach((item: unknown, i) => {
    if (isStatus(item)) exact.add(item);
    else if (Array.isArray(item) && item.length === 2 && isStatus(item[0]) && isStatus(item[1]) && item[0] <= item[1])
      ranges.push([item[0], item[1]]);
    else throw new CacheOptionError(`${name}[${i}]`, item, 'a status code (100-599) or a [from, to] range');
  });
  return (status) => exact.has(status) || ranges.some(([from, to]) => status >= from && status <= to);
}

function isStatus(value: unknown): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= 100 && value <= 599;
}

function prefixOption(value: unknown): string {
  if (typeof value !== 'string' || value.length === 0 || /[{}]/.test(value)) {
    throw new CacheOptionError('prefix', value, 'a non-empty string without "{" or "}"');
  }
  return value;
}

function seconds(name: string, value: unknown, max = LIMITS.seconds): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0.001 || value > max) {
    throw new CacheOptionError(name, value, `a number of seconds from 0.001 to ${max}`);
  }
  return value;
}

function positiveNumber(name: string, value: unknown, max: number): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0 || value > max) {
    throw new CacheOptionError(name, value, `a positive number of at most ${max}`);
  }
  return value;
}

function nonNegativeNumber(name: string, value: unknown, max: number): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0 || value > max) {
    throw new CacheOptionError(name, value, `a number from 0 to ${max}`);
  }
  return value;
}

/** A window in seconds (0 allowed, at most a year) converted to milliseconds, or `undefined` when not given. */
function windowMs(name: string, value: unknown): number | undefined {
  if (value === undefined) return undefined;
  return Math.round(nonNegativeNumber(name, value, LIMITS.seconds) * 1000);
}

function positiveInteger(name: string, value: unknown, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > max) {
    throw new CacheOptionError(name, value, `a positive integer of at most ${max}`);
  }
  return value;
}

function boolean(name: string, value: unknown): boolean {
  if (typeof value !== 'boolean') throw new CacheOptionError(name, value, 'true or false');
  return value;
}

function fn<T>(name: string, value: T): T {
  if (typeof value !== 'function') throw new CacheOptionError(name, value, 'a function');
  return value;
}

// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what it finds.
const CONTROL_CHARACTERS = /[\u0000-\u001f\u007f]/;

/**
 * `cache.key`: a key without control characters (a newline would split the invalidation messages that
 * list keys one per line, and a key must mean one thing to every mechanism built on it), of bounded length.
 */
function cacheKey(value: unknown): string {
  if (
    typeof value !== 'string' ||
    value.length === 0 ||
    value.length > LIMITS.keyLength ||
    CONTROL_CHARACTERS.test(value)
  ) {
    throw new CacheOptionError(
      'cache.key',
      value,
      `a non-empty string of at most ${LIMITS.keyLength} characters, without control characters`,
    );
  }
  return value;
}

function nonEmptyString(name: string, value: unknown): string {
  if (typeof value !== 'string' || value.length === 0) throw new CacheOptionError(name, value, 'a non-empty string');
  return value;
}

function stringList(name: string, value: unknown, nonEmptyItems = false): string[] {
  if (!Array.isArray(value)) throw new CacheOptionError(name, value, 'an array of strings');
  return value.map((item: unknown, i) => {
    if (typeof item !== 'string' || (nonEmptyItems && item.length === 0)) {
      throw new CacheOptionError(`${name}[${i}]`, item, nonEmptyItems ? 'a non-empty string' : 'a string');
    }
    return item;
  });
}

function rejectUnknownKeys(value: object, known: ReadonlySet<string>, path: string): void {
  for (const key of Object.keys(value)) {
    if (!known.has(key)) {
      throw new CacheOptionError(
        `${path}${key}`,
        (value as Record<string, unknown>)[key],
        `a known option (${[...known].join(', ')})`,
      );
    }
  }
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null) return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}
