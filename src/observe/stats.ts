/** Counters of one cached instance: `getCacheStats(instance)`. */
export interface CacheStats {
  /** Responses served fresh from the store. */
  hits: number;
  /** Of `hits`, those answered by the in-process layer (`l1`) without asking the store. */
  l1Hits: number;
  /** Responses served from a stale entry (of which `graceHits`). */
  staleHits: number;
  /**
   * Of `staleHits`, answers from an `l1` copy while the store could not be read (`l1.grace`): stale, with
   * `response.cache.reason` `'store-unavailable'`.
   */
  graceHits: number;
  /** Entries this instance marked stale (`evict`, `evictTags`, `clearCache` with `{ soft: true }`). */
  softEvictions: number;
  /** Requests that went upstream themselves. */
  misses: number;
  /** Requests that shared another request's upstream call (in this process or, with Redis, another). */
  coalesced: number;
  /** Background refreshes started (stale-while-revalidate, early refresh). */
  refreshes: number;
  /** Stored answers renewed by a conditional request answered `304` (no body transferred). */
  revalidations: number;
  /** Requests that did not use the cache. */
  bypasses: number;
  /** Store calls that failed (including "not ready"). */
  storeErrors: number;
  /** Store calls that did not answer within `storeTimeout`. */
  storeTimeouts: number;
  /** Store calls skipped because the circuit breaker was open. */
  storeSkips: number;
  /** Values read from the store that were not usable entries (corrupt, foreign, other version). */
  badEntries: number;
  /** Times the store connection was dropped because a reply could not belong to its command. */
  distrusts: number;
  /** Upstream calls currently running (in-flight map size). */
  inFlight: number;
  /** Read circuit breaker: `closed` (store read), `open` (reads skipped), `half-open` (probing). */
  breaker: 'closed' | 'open' | 'half-open';
  /** Write circuit breaker (writes and leases): failing writes never skip reads. */
  writeBreaker: 'closed' | 'open' | 'half-open';
  /** The in-process layer: `off` (not configured), `live` (serving), `down` (invalidations may be missed: not serving). */
  l1: 'off' | 'live' | 'down';
  /** Entries held by the in-process layer. */
  l1Entries: number;
}

/** The mutable counters behind {@link CacheStats}. */
export type Counters = Omit<CacheStats, 'inFlight' | 'breaker' | 'writeBreaker' | 'l1' | 'l1Entries'>;

export function newCounters(): Counters {
  return {
    hits: 0,
    l1Hits: 0,
    staleHits: 0,
    graceHits: 0,
    softEvictions: 0,
    misses: 0,
    coalesced: 0,
    refreshes: 0,
    revalidations: 0,
    bypasses: 0,
    storeErrors: 0,
    storeTimeouts: 0,
    storeSkips: 0,
    badEntries: 0,
    distrusts: 0,
  };
}
