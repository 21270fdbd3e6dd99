import { parseHttpDate } from './dates.js';

type Headers = Readonly<Record<string, string | string[]>>;

function single(value: string | readonly string[] | undefined): string | undefined {
  return typeof value === 'string' ? value : value?.[0];
}

/** Whether a stored answer carries a validator (`ETag` or `Last-Modified`): it can be revalidated. */
export function hasValidator(headers: Headers): boolean {
  return headers.etag !== undefined || headers['last-modified'] !== undefined;
}

/**
 * The headers of the conditional request that revalidates a stored answer (RFC 9111 §4.3.1): its `ETag`
 * in `If-None-Match`, its `Last-Modified` in `If-Modified-Since`.
 */
export function revalidationHeaders(headers: Headers): Record<string, string> {
  const out: Record<string, string> = {};
  const etag = single(headers.etag);
  const lastModified = single(headers['last-modified']);
  if (etag !== undefined) out['if-none-match'] = etag;
  if (lastModified !== undefined) out['if-modified-since'] = lastModified;
  return out;
}

/** An entity tag without its weakness prefix (weak comparison, RFC 9110 §8.8.3.2). */
function opaque(tag: string): string {
  const trimmed = tag.trim();
  return trimmed.startsWith('W/') ? trimmed.slice(2) : trimmed;
}

/** Whether an `If-None-Match` list names `etag` (weak comparison; `*` names any). */
export function etagListMatches(list: string, etag: string | undefined): boolean {
  if (list.trim() === '*') return etag !== undefined;
  if (etag === undefined) return false;
  const wanted = opaque(etag);
  // Entity tags are quoted strings that cannot contain `"` or `,` inside, so a split on commas is exact.
  return list.split(',').some((tag) => opaque(tag) === wanted);
}

/**
 * Whether a caller's own conditional request (`If-None-Match`, or else `If-Modified-Since`) is answered
 * by `304 Not Modified` from a fresh stored answer (RFC 9111 §4.3.2, RFC 9110 §13.2.2: `If-None-Match`
 * takes precedence).
 */
export function notModified(
  ifNoneMatch: string | undefined,
  ifModifiedSince: string | undefined,
  stored: Headers,
): boolean {
  if (ifNoneMatch !== undefined) return etagListMatches(ifNoneMatch, single(stored.etag));
  if (ifModifiedSince === undefined) return false;
  const since = parseHttpDate(ifModifiedSince);
  if (since === null) return false;
  const modified = parseHttpDate(stored['last-modified']) ?? parseHttpDate(stored.date);
  return modified !== null && modified <= since;
}

/** Headers a `304` repeats from the answer it stands for (RFC 9110 §15.4.5), plus the validators. */
const NOT_MODIFIED_HEADERS = [
  'cache-control',
  'content-location',
  'date',
  'etag',
  'expires',
  'vary',
  'last-modified',
  'age',
] as const;

/** The headers of a `304` the cache answers for a stored answer. */
export function notModifiedHeaders(stored: Headers): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const name of NOT_MODIFIED_HEADERS) {
    const value = stored[name];
    if (value !== undefined) out[name] = value as string | string[];
  }
  return out;
}

/**
 * Fields a `304` never changes in a stored answer (RFC 9111 §3.2): those that describe the stored body
 * itself, which the `304` did not send.
 */
const KEPT_ON_UPDATE: ReadonlySet<string> = new Set([
  'content-length',
  'content-encoding',
  'content-range',
  'content-type',
  'transfer-encoding',
]);

/** The stored headers updated with those of a `304` (RFC 9111 §3.2, §4.3.4). */
export function updatedHeaders(stored: Headers, fresh: Headers): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = { ...stored };
  for (const name of Object.keys(fresh)) {
    if (!KEPT_ON_UPDATE.has(name)) out[name] = fresh[name] as string | string[];
  }
  return out;
}

/**
 * Whether a `304` is about the stored answer (RFC 9111 §4.3.4): if it names an entity tag, that tag must be
 * the stored one; a `304` naming another representation updates nothing.
 */
export function notModifiedApplies(stored: Headers, fresh: Headers): boolean {
  const tag = single(fresh.etag);
  if (tag === undefined) return true;
  const storedTag = single(stored.etag);
  return storedTag !== undefined && opaque(tag) === opaque(storedTag);
}
