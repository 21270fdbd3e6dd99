import type { Entry } from '../entries/entry.js';
import type { RequestDirectives } from './request-directives.js';

/** What reuse decisions read of an entry. */
type Stored = Pick<Entry, 'createdAt' | 'freshUntil' | 'policy' | 'softEvicted'>;

/** Seconds since the origin produced a stored answer (RFC 9111 §4.2.3 `current_age`). */
export function currentAge(entry: Pick<Entry, 'createdAt' | 'policy'>, now: number): number {
  return entry.policy.initialAge + Math.max(0, now - entry.createdAt) / 1000;
}

/** The `Age` header of an answer served from the cache under `httpSemantics`. */
export function ageHeader(entry: Pick<Entry, 'createdAt' | 'policy'>, now: number): string {
  return String(Math.floor(currentAge(entry, now)));
}

/** Whether a stored answer is fresh for this request (its `max-age` and `min-fresh` included). */
export function freshFor(entry: Stored, now: number, directives: RequestDirectives | null | undefined): boolean {
  if (now >= entry.freshUntil) return false;
  if (!directives) return true;
  if (directives.maxAge !== null && currentAge(entry, now) > directives.maxAge) return false;
  return directives.minFresh === null || entry.freshUntil - now >= directives.minFresh * 1000;
}

/**
 * Whether the request's `max-stale` accepts this stale answer (never one that must be revalidated, nor a
 * soft-evicted one past its grace window).
 */
export function staleAccepted(entry: Stored, now: number, directives: RequestDirectives | null | undefined): boolean {
  if (!directives || directives.maxStale === null || entry.policy.mustRevalidate) return false;
  // Soft-evicted: never stale past its grace window, whatever the request accepts.
  if (entry.softEvicted && now >= entry.softEvicted.graceUntil) return false;
  if (directives.maxAge !== null && currentAge(entry, now) > directives.maxAge) return false;
  return now - entry.freshUntil <= directives.maxStale * 1000;
}
