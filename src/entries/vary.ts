import { hash128 } from './key.js';

/**
 * The response's `Vary`, honoured by default: an entry keeps the names of the request headers its answer
 * varies on and a fingerprint (a 128-bit hash) of the values the request that fetched it had. A request
 * whose values differ is not answered with it: a miss, and its own answer replaces it (one variant per
 * key, as RFC 9111 §4.1 allows). `Vary: *` is never stored.
 */
export interface VarySpec {
  /** Lower-case request header names the answer varies on, sorted, without duplicates; empty for none. */
  readonly names: readonly string[];
  /** Fingerprint of the fetching request's values of those headers (`''` when there are none). */
  readonly fingerprint: string;
}

export const NO_VARY: VarySpec = Object.freeze({ names: Object.freeze([]) as readonly string[], fingerprint: '' });

/** The names in a response's `Vary` header; `'*'` when it varies on everything (never stored). */
export function varyNames(header: string | string[] | undefined): readonly string[] | '*' {
  if (header === undefined) return NO_VARY.names;
  const names = new Set<string>();
  for (const part of (Array.isArray(header) ? header.join(',') : header).split(',')) {
    const name = part.trim().toLowerCase();
    if (name === '*') return '*';
    if (name) names.add(name);
  }
  return names.size === 0 ? NO_VARY.names : [...names].sort();
}

/** The fingerprint of a request's values of `names` (absent headers count as empty). */
export function varyFingerprint(names: readonly string[], headers: unknown): string {
  if (names.length === 0) return '';
  return hash128('vary-values', ...names.map((name) => `${name}:${headerText(headers, name)}`));
}

/** Whether a stored answer that varies on `spec` may answer a request with these headers. */
export function varyMatches(spec: VarySpec, headers: unknown): boolean {
  return spec.names.length === 0 || varyFingerprint(spec.names, headers) === spec.fingerprint;
}

/** A request header's value as text (case-insensitive name; AxiosHeaders or a plain object), `''` if absent. */
function headerText(headers: unknown, name: string): string {
  if (!headers || typeof headers !== 'object') return '';
  for (const key in headers) {
    if (key.toLowerCase() !== name) continue;
    const value = (headers as Record<string, unknown>)[key];
    if (value === undefined || value === null || value === false) return '';
    return Array.isArray(value) ? value.join(', ') : String(value);
  }
  return '';
}
