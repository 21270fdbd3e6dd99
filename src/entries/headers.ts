/** The response headers an entry keeps. */

/** Response headers never stored: per-client (`set-cookie`) and hop-by-hop (RFC 9110 §7.6.1). */
export const UNSTORED_HEADERS: ReadonlySet<string> = new Set([
  'set-cookie',
  'connection',
  'keep-alive',
  'proxy-authenticate',
  'proxy-authorization',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
]);

/** Response headers (AxiosHeaders or a plain object) as a plain object with lower-case names. */
export function plainHeaders(headers: unknown): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  if (!headers || typeof headers !== 'object') return out;
  const source =
    typeof (headers as { toJSON?: unknown }).toJSON === 'function'
      ? (headers as { toJSON: () => Record<string, unknown> }).toJSON()
      : (headers as Record<string, unknown>);
  for (const [name, value] of Object.entries(source)) {
    if (value === undefined || value === null || value === false) continue;
    out[name.toLowerCase()] = Array.isArray(value) ? value.map(String) : String(value);
  }
  return out;
}

/**
 * The headers that may be stored and shared: all but `set-cookie`, hop-by-hop headers, and the headers
 * `Connection` lists (hop-by-hop too, RFC 9110 §7.6.1).
 */
export function storableHeaders(headers: Record<string, string | string[]>): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  const connection = headers.connection;
  const listed = connection === undefined ? null : connectionListed(connection);
  for (const name of Object.keys(headers)) {
    if (!UNSTORED_HEADERS.has(name) && !listed?.has(name)) out[name] = headers[name] as string | string[];
  }
  return out;
}

const NOTHING_LISTED: ReadonlySet<string> = new Set();

function connectionListed(value: string | string[]): ReadonlySet<string> {
  // The usual values name no header (`keep-alive` is unstored anyway).
  if (value === 'keep-alive' || value === 'close') return NOTHING_LISTED;
  const names = new Set<string>();
  for (const part of (Array.isArray(value) ? value.join(',') : value).split(',')) {
    const name = part.trim().toLowerCase();
    if (name) names.add(name);
  }
  return names;
}
