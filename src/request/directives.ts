import { type RequestDirectives, requestDirectives } from '../http/request-directives.js';

/** What a request's own headers ask of the cache (`Range`, validators, `Cache-Control`, `Pragma`). */

/**
 * Request headers that ask the upstream for its own kind of answer: a part of the body (`Range`), or an
 * answer only if it changed (validators). A stored full `200` is never the answer to them: they bypass.
 */
export const OWN_ANSWER_HEADERS: ReadonlySet<string> = new Set([
  'range',
  'if-range',
  'if-none-match',
  'if-modified-since',
  'if-match',
  'if-unmodified-since',
]);

/** What a request asks of the cache under `httpSemantics`, beyond `bypass` and `refresh`. */
export interface HttpAsk {
  /** `Cache-Control: no-cache` (or `Pragma: no-cache`) too. */
  refresh: boolean;
  /** The caller's own validators: a fresh stored answer they match is answered with a `304`. */
  ifNoneMatch: string | undefined;
  ifModifiedSince: string | undefined;
  /** Its `max-age`, `min-fresh`, `max-stale`, `only-if-cached`. */
  directives: RequestDirectives | null;
}

/**
 * What the request's own headers ask of a cache: `bypass` (a `Range` or conditional header: the upstream's
 * own answer; `Cache-Control: no-store`: nothing stored either), `refresh` (`Cache-Control: no-cache`, or
 * `Pragma: no-cache` without `Cache-Control`: not answered from the cache, but stored), or nothing. Under
 * `httpSemantics` (`http`), `If-None-Match` / `If-Modified-Since` and the other request directives are
 * the cache's to answer: an {@link HttpAsk}.
 */
export function requestDirective(headers: unknown, http: boolean): 'bypass' | 'refresh' | HttpAsk | null {
  if (!headers || typeof headers !== 'object') return null;
  let directive: 'refresh' | null = null;
  let pragma = false;
  let control = false;
  let controlText: string | undefined;
  let ifNoneMatch: string | undefined;
  let ifModifiedSince: string | undefined;
  // AxiosHeaders keeps each header as an own property, named as it was set (its methods are not enumerable).
  for (const name in headers) {
    // Only names starting with r, i, c or p can matter: skip the others without a lower-case copy.
    const first = name.charCodeAt(0) | 0x20;
    if (first !== 0x72 && first !== 0x69 && first !== 0x63 && first !== 0x70) continue;
    const value = (headers as Record<string, unknown>)[name];
    if (value === undefined || value === null || value === false) continue;
    const lower = name.toLowerCase();
    if (OWN_ANSWER_HEADERS.has(lower)) {
      if (http && lower === 'if-none-match') ifNoneMatch = String(value);
      else if (http && lower === 'if-modified-since') ifModifiedSince = String(value);
      else return 'bypass';
    } else if (lower === 'cache-control') {
      control = true;
      const text = String(value).toLowerCase();
      if (/(^|,)\s*no-store\s*(,|$)/.test(text)) return 'bypass';
      if (/(^|,)\s*no-cache\s*(,|$|=)/.test(text)) directive = 'refresh';
      controlText = text;
    } else if (lower === 'pragma' && /no-cache/i.test(String(value))) {
      pragma = true;
    }
  }
  const refresh = directive ?? (pragma && !control ? 'refresh' : null);
  if (!http || (ifNoneMatch === undefined && ifModifiedSince === undefined && controlText === undefined))
    return refresh;
  const directives = controlText === undefined ? null : requestDirectives(controlText);
  if (ifNoneMatch === undefined && ifModifiedSince === undefined && directives === null) return refresh;
  return { refresh: refresh !== null, ifNoneMatch, ifModifiedSince, directives };
}
