import { deltaSeconds, parseDirectives } from './cache-control.js';

/**
 * What a request's own `Cache-Control` asks of a cache under `httpSemantics` (RFC 9111 §5.2.1), beyond
 * `no-cache` and `no-store` (handled in both modes). Absent directives are `null`.
 */
export interface RequestDirectives {
  /** `max-age`: the caller does not want an answer older than this (seconds). */
  readonly maxAge: number | null;
  /** `min-fresh`: the answer must stay fresh for at least this long (seconds). */
  readonly minFresh: number | null;
  /** `max-stale`: a stale answer is welcome up to this many seconds past freshness (`Infinity`: any). */
  readonly maxStale: number | null;
  /** `only-if-cached`: answer from the cache or with `504`, never from upstream. */
  readonly onlyIfCached: boolean;
  /** The header as given: part of the flight key (requests asking differently share no flight). */
  readonly text: string;
}

/** The directives of a request's `Cache-Control` value, or `null` when it asks nothing of those above. */
export function requestDirectives(value: string): RequestDirectives | null {
  const directives = parseDirectives(value);
  const maxAge = deltaSeconds(directives, 'max-age');
  const minFresh = deltaSeconds(directives, 'min-fresh');
  const stale = directives.get('max-stale');
  const onlyIfCached = directives.has('only-if-cached');
  if (maxAge === null && minFresh === null && stale === undefined && !onlyIfCached) return null;
  let maxStale: number | null = null;
  if (stale === true) maxStale = Number.POSITIVE_INFINITY;
  else if (stale !== undefined) maxStale = Math.max(0, deltaSeconds(directives, 'max-stale') ?? 0);
  return {
    // A malformed value asks for the strictest answer.
    maxAge: maxAge === null ? null : Math.max(0, maxAge),
    minFresh: minFresh === null ? null : Math.max(0, minFresh),
    maxStale,
    onlyIfCached,
    text: value,
  };
}
