import { DELTA_SECONDS_CAP, type Directives, deltaSeconds, listedFields, parseDirectives } from './cache-control.js';
import { parseHttpDate } from './dates.js';

/**
 * Statuses whose responses may be given heuristic freshness (RFC 9110 §15.1): the others are reused only
 * with explicit freshness (or `public`).
 */
export const HEURISTICALLY_CACHEABLE: ReadonlySet<number> = new Set([
  200, 203, 204, 206, 300, 301, 308, 404, 405, 410, 414, 501,
]);

/** Heuristic freshness: a tenth of the time since `Last-Modified` (RFC 9111 §4.2.2), at most a day. */
const HEURISTIC_FRACTION = 0.1;
const HEURISTIC_MAX_SECONDS = 24 * 3600;

/** What RFC 9111 says about storing and reusing one response. */
export interface StoragePolicy {
  /** Whether the response may be stored at all (RFC 9111 §3). */
  readonly storable: boolean;
  /** Freshness lifetime in seconds (RFC 9111 §4.2.1); 0: stale at once (reused only after revalidation). */
  readonly lifetime: number;
  /** Corrected initial age in seconds (RFC 9111 §4.2.3): the response's age when it arrived. */
  readonly initialAge: number;
  /** Never served stale: `must-revalidate`, `no-cache`; in a shared cache also `proxy-revalidate`, `s-maxage`. */
  readonly mustRevalidate: boolean;
  /** Seconds past freshness the response allows serving it while it is revalidated (RFC 5861). */
  readonly staleWhileRevalidate: number;
  /** Seconds past freshness the response allows serving it when revalidation fails (RFC 5861). */
  readonly staleIfError: number;
  /** Header fields not to store (`no-cache="…"`, and `private="…"` in a shared cache). */
  readonly omit: readonly string[];
}

export interface PolicyInput {
  readonly status: number;
  /** Response headers, lower-case names. */
  readonly headers: Readonly<Record<string, string | string[]>>;
  readonly shared: boolean;
  /** When the response arrived (ms since epoch). */
  readonly responseTime: number;
  /** How long the request took (ms): the response delay of the age calculation. */
  readonly fetchMs: number;
  /** Whether the request carried `Authorization` that the key does not isolate (shared caches then store it only when the response allows). */
  readonly unkeyedAuthorization: boolean;
  /** Lifetime in seconds for a response with no explicit or heuristic freshness (0: none). */
  readonly fallbackTtl: number;
}

/** The storage and freshness policy of a response (RFC 9111 §3, §4.2). */
export function storagePolicy(input: PolicyInput): StoragePolicy {
  const { status, headers, shared } = input;
  const cc = parseDirectives(headers['cache-control']);
  const initialAge = correctedInitialAge(headers, input.responseTime, input.fetchMs);
  const mustRevalidate =
    cc.has('must-revalidate') ||
    (cc.has('no-cache') && listedFields(cc, 'no-cache') === null) ||
    (shared && (cc.has('proxy-revalidate') || cc.has('s-maxage')));
  const policy = {
    storable: false,
    lifetime: 0,
    initialAge,
    mustRevalidate,
    staleWhileRevalidate: Math.max(0, deltaSeconds(cc, 'stale-while-revalidate') ?? 0),
    staleIfError: Math.max(0, deltaSeconds(cc, 'stale-if-error') ?? 0),
    omit: omitted(cc, shared),
  };
  if (!storableAt(status, cc, shared, input.unkeyedAuthorization, headers)) return policy;
  policy.storable = true;
  policy.lifetime = freshnessLifetime(status, headers, cc, shared, input.responseTime, input.fallbackTtl);
  return policy;
}

/** RFC 9111 §3: may a response be stored? (The method and a final status are checked by the caller.) */
function storableAt(
  status: number,
  cc: Directives,
  shared: boolean,
  unkeyedAuthorization: boolean,
  headers: Readonly<Record<string, string | string[]>>,
): boolean {
  if (status < 200 || status === 206 || status === 304) return false;
  if (cc.has('no-store')) return false;
  if (shared && cc.has('private') && listedFields(cc, 'private') === null) return false;
  if (shared && unkeyedAuthorization && !cc.has('must-revalidate') && !cc.has('public') && !cc.has('s-maxage')) {
    return false;
  }
  return (
    cc.has('public') ||
    (!shared && cc.has('private')) ||
    headers.expires !== undefined ||
    cc.has('max-age') ||
    (shared && cc.has('s-maxage')) ||
    HEURISTICALLY_CACHEABLE.has(status)
  );
}

/** RFC 9111 §4.2.1 (explicit), §4.2.2 (heuristic); then the configured fallback. Seconds. */
function freshnessLifetime(
  status: number,
  headers: Readonly<Record<string, string | string[]>>,
  cc: Directives,
  shared: boolean,
  responseTime: number,
  fallbackTtl: number,
): number {
  // `no-cache` (unqualified): stored, but every reuse is revalidated first.
  if (cc.has('no-cache') && listedFields(cc, 'no-cache') === null) return 0;
  if (shared) {
    const sMaxAge = deltaSeconds(cc, 's-maxage');
    if (sMaxAge !== null) return Math.max(0, sMaxAge);
  }
  const maxAge = deltaSeconds(cc, 'max-age');
  if (maxAge !== null) return Math.max(0, maxAge);
  const date = parseHttpDate(headers.date) ?? responseTime;
  if (headers.expires !== undefined) {
    const expires = parseHttpDate(headers.expires);
    // An invalid `Expires` (such as `0`) means "already expired" (RFC 9111 §5.3).
    return expires === null ? 0 : Math.max(0, Math.floor((expires - date) / 1000));
  }
  if (HEURISTICALLY_CACHEABLE.has(status) || cc.has('public')) {
    const lastModified = parseHttpDate(headers['last-modified']);
    if (lastModified !== null && lastModified < date) {
      return Math.min(HEURISTIC_MAX_SECONDS, Math.floor(((date - lastModified) / 1000) * HEURISTIC_FRACTION));
    }
  }
  return fallbackTtl;
}

/**
 * RFC 9111 §4.2.3: the corrected initial age, in seconds, from the response's `Age` and `Date` and the
 * time the request took. An `Age` that is not a number makes the response as old as can be (stale).
 */
function correctedInitialAge(
  headers: Readonly<Record<string, string | string[]>>,
  responseTime: number,
  fetchMs: number,
): number {
  const date = parseHttpDate(headers.date);
  const apparentAge = date === null ? 0 : Math.max(0, (responseTime - date) / 1000);
  const ageValue = parseAge(headers.age);
  if (ageValue === null) return apparentAge;
  return Math.max(apparentAge, ageValue + fetchMs / 1000);
}

/**
 * The first value of `Age` (RFC 9111 §5.1: of a list or several lines, the first), capped at 2^31;
 * `null` when absent or not a non-negative integer (an invalid `Age` is ignored).
 */
export function parseAge(value: string | readonly string[] | undefined): number | null {
  if (value === undefined) return null;
  const first = (typeof value === 'string' ? value : (value[0] ?? '')).split(',')[0]?.trim() ?? '';
  if (!/^\d+$/.test(first)) return null;
  return Math.min(Number(first), DELTA_SECONDS_CAP);
}

function omitted(cc: Directives, shared: boolean): readonly string[] {
  const noCache = listedFields(cc, 'no-cache') ?? [];
  const personal = shared ? (listedFields(cc, 'private') ?? []) : [];
  return noCache.length + personal.length === 0 ? [] : [...noCache, ...personal];
}
