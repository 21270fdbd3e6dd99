/**
 * `Cache-Control` (and `CDN-Cache-Control`, `Pragma`) parsing, RFC 9111 §5.2: a comma-separated list of
 * directives, `name` or `name=value`, the value a token or a quoted string. Names are case-insensitive.
 * Commas inside a quoted string do not split (`foo="max-age=1, x", max-age=0` has one `max-age`: 0).
 * Of a directive given twice, the first is used (RFC 9111 §4.2.1 allows it).
 */
export type Directives = ReadonlyMap<string, string | true>;

const EMPTY: Directives = new Map();

/** Parse one or more field lines of a `Cache-Control`-style header. */
export function parseDirectives(value: string | readonly string[] | undefined): Directives {
  if (value === undefined) return EMPTY;
  const text = typeof value === 'string' ? value : value.join(',');
  if (text === '') return EMPTY;
  const out = new Map<string, string | true>();
  let i = 0;
  const n = text.length;
  while (i < n) {
    // name: up to `=` or `,`
    let start = i;
    while (i < n && text[i] !== '=' && text[i] !== ',') i++;
    const name = text.slice(start, i).trim().toLowerCase();
    let directiveValue: string | true = true;
    if (i < n && text[i] === '=') {
      i++;
      while (i < n && (text[i] === ' ' || text[i] === '\t')) i++;
      if (text[i] === '"') {
        // quoted-string with backslash escapes
        i++;
        let quoted = '';
        while (i < n && text[i] !== '"') {
          if (text[i] === '\\' && i + 1 < n) i++;
          quoted += text[i];
          i++;
        }
        i++; // closing quote
        directiveValue = quoted;
        while (i < n && text[i] !== ',') i++; // anything after the quoted string up to the comma
      } else {
        start = i;
        while (i < n && text[i] !== ',') i++;
        directiveValue = text.slice(start, i).trim();
      }
    }
    i++; // the comma
    if (name !== '' && !out.has(name)) out.set(name, directiveValue);
  }
  return out;
}

/** 2^31: RFC 9111 §1.2.2's cap for a delta-seconds too large to represent. */
export const DELTA_SECONDS_CAP = 2 ** 31;

/**
 * A directive's delta-seconds (non-negative integer, capped at 2^31); `null` when absent, `-1` when present
 * but not a valid number (a malformed freshness directive makes the response stale: when in doubt, miss).
 */
export function deltaSeconds(directives: Directives, name: string): number | null {
  const value = directives.get(name);
  if (value === undefined) return null;
  if (value === true || !/^\d+$/.test(value)) return -1;
  const seconds = Number(value);
  return Math.min(seconds, DELTA_SECONDS_CAP);
}

/** The field names listed by a qualified `no-cache="a, b"` or `private="a"` (lower-case), or `null`. */
export function listedFields(directives: Directives, name: string): readonly string[] | null {
  const value = directives.get(name);
  if (typeof value !== 'string') return null;
  const names = value
    .split(',')
    .map((part) => part.trim().toLowerCase())
    .filter((part) => part !== '');
  return names.length === 0 ? null : names;
}
