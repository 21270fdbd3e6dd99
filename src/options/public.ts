import type { CacheError } from '../api/errors.js';
import type { RedisClient } from '../stores/redis/store.js';
import type { CacheStore } from '../stores/types.js';

/**
 * The options users write: `withCache(instance, options)` and per request `config.cache`, every one with
 * its TSDoc and default. Validated by `resolve.ts`; defaults and bounds in `defaults.ts`.
 */

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
  /**
   * Grace while the store is down: seconds past its freshness during which an entry this process holds
   * may still answer, marked `'stale'` (`response.cache.reason: 'store-unavailable'`), when the store
   * cannot be read (breaker open, timeouts, not ready); the origin is then called at most once per key per
   * process until the store answers again. Off by default: an eviction made meanwhile cannot reach a
   * process whose store is down, and such an answer may be one the fleet was told to drop. At most a day.
   * @default 0
   */
  grace?: number;
}

/** How large bodies are stored compressed (the `compress` option). */
export interface CompressOptions {
  /**
   * Bodies at least this long (bytes) are compressed.
   * @default 16384
   */
  threshold?: number;
  /**
   * `'gzip'` (level 1) or `'brotli'` (quality 1), from `node:zlib`. gzip: cheaper to read back (a 20 KB
   * JSON hit costs about what an uncompressed one costs) and smaller up to ~50 KB; brotli: about 10 %
   * smaller for larger bodies, and slower to decompress.
   * @default 'gzip'
   */
  algorithm?: 'brotli' | 'gzip';
}

/** Options of `withCache(instance, options)`. Every option is validated when `withCache` runs. */
export interface CacheOptions {
  /**
   * Where entries live: a Redis client — node-redis 5 or 6 (`createClient()`, `createCluster()`,
   * `createSentinel()`) or ioredis (`Redis`, `Cluster`) — wrapped in a {@link RedisStore} (you keep
   * ownership of the connection: the cache never connects a node-redis client, nor quits either), or any
   * {@link CacheStore}.
   * @default a new in-process {@link MemoryStore} (10,000 entries, 64 MiB)
   */
  store?: RedisClient | CacheStore;
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
   * any of them never share an entry. The credential headers of the default list are part of the key
   * whatever you list here (a list of your own adds to them), unless you name them in `shareCredentials`;
   * HTTP basic `auth`, credentials in the URL, a `Host` override and a client certificate always count too.
   * @default ["authorization", "proxy-authorization", "cookie", "x-api-key", "api-key", "x-auth-token",
   *   "x-access-token", "x-amz-security-token", "x-goog-api-key", "ocp-apim-subscription-key", "x-functions-key"]
   */
  varyHeaders?: readonly string[];
  /**
   * Credential headers (from the default `varyHeaders` list) left out of the key, so that callers who
   * differ only in them share answers: an explicit opt-in, e.g. `['authorization']` for an upstream whose
   * answers are the same for every token. In `httpSemantics` mode a request whose `Authorization` is shared
   * this way is stored only when the response allows it (`public`, `s-maxage`, `must-revalidate`).
   * @default [] (every credential header is part of the key)
   */
  shareCredentials?: readonly string[];
  /**
   * Store responses that set a cookie (`Set-Cookie`), e.g. behind a load balancer that sets a stickiness
   * cookie on every answer. Off by default in a shared cache: such an answer is often personal (a session,
   * a CSRF token). The `Set-Cookie` header itself is never stored nor replayed. Per request:
   * `cache.allowSetCookie`. A private cache (`shared: false`) stores them anyway.
   * @default false
   */
  allowSetCookie?: boolean;
  /**
   * Store large bodies compressed: `true` (gzip, level 1, for bodies of 16 KiB and more), `false`, or
   * `{ threshold, algorithm }` (bytes; `'gzip'` or `'brotli'`). A body that does not shrink by a tenth is
   * stored as it is. Every reader decodes an entry whatever its own setting (the entry says how it was
   * stored); `l1` keeps bodies decompressed. Per request: `cache.compress`.
   * @default true
   */
  compress?: boolean | CompressOptions;
  /**
   * Largest encoded entry stored, in bytes. Larger responses are passed through and not stored (known
   * before the body is copied). At most what a read brings back within its budget: 4 MiB per 50 ms of
   * `storeTimeout` (4 MiB by default; 512 MiB, Redis' largest string, needs a `storeTimeout` of 6,400 ms).
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
   * An in-process LRU of hot entries in front of the store (answers without a Redis round trip): `true`
   * for the defaults (`{ maxEntries: 1000, maxBytes: 16 MiB, ttl: 1 }`), options, or `false`. With Redis, each process listens on a pub/sub channel for overwrites and evictions made
   * anywhere in the fleet, and serves nothing from the layer while that subscription is down.
   * Call `closeCache(instance)` to close its connection when shutting down.
   * @default false
   */
  l1?: L1Options | boolean;
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
   * Store this response's body compressed when it is large enough (`true`: with the instance's settings, or
   * the defaults when the instance compresses nothing) or as it is (`false`).
   * @default the instance's `compress`
   */
  compress?: boolean;
  /**
   * Follow HTTP caching (RFC 9111) for this request (see the instance option).
   * @default the instance's `httpSemantics`
   */
  httpSemantics?: boolean;
}
