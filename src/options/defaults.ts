import type { CacheError } from '../api/errors.js';
import type { Compression } from '../entries/compress.js';
import type { CacheStore } from '../stores/types.js';
import type { CacheErrorContext } from './public.js';

/** Options after validation, with defaults applied. */
export interface ResolvedOptions {
  store: CacheStore;
  /** `store` was made by `withCache` from a client you passed: `closeCache` closes it (`CacheStore.close`). */
  ownsStore: boolean;
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
  /** The headers of the key: `varyHeaders` and the credential headers not named in `shareCredentials`. */
  varyHeaders: readonly string[];
  /** Credential headers left out of the key (`shareCredentials`). */
  sharedCredentials: readonly string[];
  allowSetCookie: boolean;
  /** How large bodies are stored compressed; `null`: as they are. */
  compress: Compression | null;
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
  l1: { maxEntries: number; maxBytes: number; ttlMs: number; graceMs: number } | null;
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
  /** A soft eviction's `grace`: a day, in seconds. */
  graceSeconds: 24 * 3600,
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
  /**
   * `maxEntryBytes` per ms of `storeTimeout` (4 MiB at the default 50 ms): a read must be able to bring an
   * entry back within its budget. Measured on a 2-core host: 16 MiB reads timed out as misses at 50 ms (the
   * entry was stored and never served); 8 MiB reads hit alone (about 100 ms each, mostly parsing) but missed
   * with a second process streaming values beside them; 4 MiB (30–50 ms) kept hitting.
   */
  entryBytesPerTimeoutMs: (4 * 1024 * 1024) / 50,
  /** `l1.maxEntries`. */
  l1Entries: 10_000_000,
  /** `l1.maxBytes`: 8 GiB. */
  l1Bytes: 8 * 1024 * 1024 * 1024,
  /** `earlyRefresh` (β): any finite value works; this one only keeps it a safe integer. */
  earlyRefresh: Number.MAX_SAFE_INTEGER,
  /** `cache.key`, and each tag, in characters. */
  keyLength: 1024,
  /**
   * Tags of one entry (`cache.tags` and the `tagHeader`'s together): each costs an index write per fill.
   * An answer whose tag header lists more is not stored (an eviction by a tag left out would miss it).
   */
  tags: 64,
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
  shareCredentials: [] as readonly string[],
  allowSetCookie: false,
  compress: { algorithm: 'gzip', thresholdBytes: 16 * 1024 } as Compression,
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
