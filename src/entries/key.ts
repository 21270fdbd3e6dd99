import crypto from 'node:crypto';
import axios, { type AxiosRequestConfig } from 'axios';
import { escapeGlob } from '../stores/glob.js';
import { forgetOlderHalf } from './bounded.js';

/**
 * The keys of one cached request. They all share the Redis Cluster hash tag `{rid}`, so one script (or
 * one multi-key command) can touch them together:
 *
 *   entry     <prefix>{<rid>}:<vid>:<label>     the stored response
 *   variants  <prefix>{<rid>}:variants          index of the entries of every variant of the request
 *   lease     <prefix>{<rid>}:<vid>:lease       fill lease (one fetcher fleet-wide)
 *
 * `rid` is a 128-bit hash of the request itself (method, the absolute URL axios puts on the wire — its own
 * URL building, with the request's `params` and `paramsSerializer`, query left as it is — body, or your own
 * `cache.key`); `vid` a 128-bit hash of the credential-bearing request parts (`varyHeaders`, which always
 * hold the credential headers unless `shareCredentials` says otherwise, `auth`, URL user info), of the
 * authority the request names (a `Host` header override), of who asks and where the request goes (a client
 * certificate, SNI name or source address on its agents, its `proxy`, its `lookup`, `socketPath`), of the
 * body's representation (a non-text `responseType`, a non-UTF-8 `responseEncoding`, `decompress: false`,
 * the adapter when it is not `http`) and of whether redirects are followed (`maxRedirects: 0`), or `_` when
 * there are none. `label` is
 * readable: method, origin and path, never the query string nor credentials.
 */
export interface RequestKeys {
  readonly entry: string;
  /** The index of the request's other variants (see `entries/variants.ts`). */
  readonly variants: string;
  readonly lease: string;
  readonly label: string;
  /** What every key of the request starts with: `<prefix>{<rid>}:`. */
  readonly base: string;
  /** The variant's id (`_`: no credential, identity or representation of its own: the plain variant). */
  readonly vid: string;
  /** The hash of `entry` an encoded entry carries, once computed (see `entries/format.ts`). */
  entryHash?: Buffer | undefined;
  /** Kept for later requests to the same URL (the plain variant of a request without params or body). */
  readonly memo: boolean;
  /**
   * Whose reads or writes found this entry present last (an `EntryStore`'s generation; see `expectMiss`):
   * a hint on memoized keys, kept on them rather than in a set of key strings.
   */
  presentIn?: object | undefined;
}

/** The part of a request config the key depends on. */
type KeyedConfig = Pick<
  AxiosRequestConfig,
  | 'method'
  | 'url'
  | 'baseURL'
  | 'allowAbsoluteUrls'
  | 'params'
  | 'paramsSerializer'
  | 'data'
  | 'headers'
  | 'auth'
  | 'responseType'
  | 'responseEncoding'
  | 'decompress'
  | 'socketPath'
  | 'maxRedirects'
  | 'httpAgent'
  | 'httpsAgent'
  | 'proxy'
  | 'lookup'
  | 'fetchOptions'
  | 'env'
>;

/** Response types whose raw body is the same text (axios' adapters hand back a string for each). */
const TEXT_RESPONSE_TYPES: ReadonlySet<unknown> = new Set([undefined, 'json', 'text']);

const ABSOLUTE_URL = /^([a-z][a-z\d+\-.]*:)?\/\//i;
const HASH_CHARS = 22; // 22 base64url characters = 132 bits

/** Node ≥ 20.12 has a one-shot hash, about 3× cheaper than createHash for short inputs. */
const oneShotHash = (crypto as { hash?: (algorithm: string, data: string, encoding: 'base64url') => string }).hash;

/** Hash to a 132-bit base64url string (no `{`, `}` or `:`). Each part is followed by a NUL separator. */
export function hash128(...parts: (string | Uint8Array)[]): string {
  if (oneShotHash && parts.every((part) => typeof part === 'string')) {
    return oneShotHash('sha256', `${parts.join('\u0000')}\u0000`, 'base64url').slice(0, HASH_CHARS);
  }
  const h = crypto.createHash('sha256');
  for (const part of parts) {
    h.update(part);
    h.update('\u0000');
  }
  return h.digest('base64url').slice(0, HASH_CHARS);
}

/** The key of a tag's index. Tags are hashed into the hash tag (any text is allowed in a tag). */
export function tagIndexKey(prefix: string, tag: string): string {
  return `${prefix}tag:{${hash128('tag', tag)}}`;
}

/**
 * Derive the keys of a request, or `null` when it cannot be keyed: a body that is a stream, FormData or a
 * Blob, or a URL axios itself cannot build (invalid `params`: axios then raises its own error). Such
 * requests bypass the cache. `adapter`: the kind of the instance's own adapter (`http`, `fetch`, …): the
 * adapters hand back bodies of different types, so each has its own entries.
 */
export function requestKeys(
  config: KeyedConfig,
  prefix: string,
  varyHeaders: readonly string[],
  customKey: string | undefined,
  adapter = 'http',
): RequestKeys | null {
  const method = (config.method ?? 'get').toUpperCase();
  // The common case (no params object, no body, no own key) repeats the same URL work for every request:
  // remember its result. Credentials never enter this memo (they only go into `vid`, computed each time).
  const simple = customKey === undefined && config.params == null && (config.data == null || config.data === '');
  const memoKey = simple ? `${method}\u0000${config.baseURL}\u0000${config.url}\u0000${config.allowAbsoluteUrls}` : '';
  const known = simple ? URL_MEMO.get(memoKey) : undefined;
  if (known) {
    // Moved to the newer end before it could reach the older half (forgotten when the memo is full).
    if (memoAdded - known.added >= URL_MEMO_KEEP) {
      URL_MEMO.delete(memoKey);
      URL_MEMO.set(memoKey, known);
      known.added = memoAdded++;
    }
    return finish(config, prefix, varyHeaders, known, adapter, true);
  }
  const wire = wireUrl(config);
  if (wire === null) return null;
  const url = new URL(wire, 'http://localhost/');
  // A `data:` URL never reaches a server (axios decodes it in place, in a type that depends on
  // `responseType`): nothing to cache, and nothing another request should share.
  if (url.protocol === 'data:') return null;
  let rid: string;
  let label: string;
  const origin = url.origin === 'null' ? `${url.protocol}//${url.host}` : url.origin;
  if (customKey !== undefined) {
    // The method stays part of the key: a HEAD's empty answer never answers a GET of the same key.
    rid = hash128('key', method, customKey);
    label = `key:${method}:${customKey}`;
  } else {
    const body = bodyBytes(config.data);
    if (body === null) return null;
    label = `${method} ${origin}${url.pathname}`;
    // The query exactly as it goes on the wire (order kept: `?a=1&a=2` is not `?a=2&a=1`).
    rid = body === undefined ? hash128(label, url.search) : hash128(label, url.search, body);
  }
  const parsed: ParsedRequest = { rid, label, username: url.username, password: url.password, added: 0 };
  if (simple) {
    if (URL_MEMO.size >= URL_MEMO_MAX) forgetOlderHalf(URL_MEMO);
    parsed.added = memoAdded++;
    URL_MEMO.set(memoKey, parsed);
  }
  return finish(config, prefix, varyHeaders, parsed, adapter, simple);
}

/** A bare axios context (no defaults): its `getUri` is axios' own URL building, and nothing else. */
const URI_BUILDER = new axios.Axios({});

/**
 * The URL axios sends: `baseURL` joined to `url`, then `params` serialized by axios' own `buildURL` with the
 * request's `paramsSerializer`; `null` when axios cannot build it (it will reject the request itself).
 */
export function wireUrl(config: KeyedConfig): string | null {
  if (config.params == null) return fullPath(config);
  try {
    const built: Record<string, unknown> = { url: config.url, baseURL: config.baseURL, params: config.params };
    if (config.paramsSerializer !== undefined) built.paramsSerializer = config.paramsSerializer;
    if (config.allowAbsoluteUrls !== undefined) built.allowAbsoluteUrls = config.allowAbsoluteUrls;
    return URI_BUILDER.getUri(built as AxiosRequestConfig);
  } catch {
    return null;
  }
}

/** What the URL part of a request yields; `username`/`password` are the URL's user info (they vary the key). */
interface ParsedRequest {
  rid: string;
  label: string;
  username: string;
  password: string;
  /** The keys of the request without a variant (`vid` `_`), under the prefix they were made for. */
  plain?: { prefix: string; vid: string; keys: RequestKeys };
  /** When it was added to the memo, or moved to its newer end (`memoAdded` then). */
  added: number;
}

const URL_MEMO = new Map<string, ParsedRequest>();
const URL_MEMO_MAX = 5000;
/** How many URLs were added to the memo (or moved to its newer end) so far. */
let memoAdded = 0;
/**
 * A URL asked for again at least this many additions after it was added (or last moved) is moved to the
 * memo's newer end: a URL in use never reaches the older half, which is what a full memo forgets. Hot URLs
 * keep their keys and the caches on them (`presentIn` above all: a key that loses it is read once more with
 * the fill lease folded in — a script where a GET would do); each is moved at most once per 1,000 others. A
 * full memo (5,000) forgets what has 2,500 newer: a URL asked for at least once per 1,500 others is kept.
 */
const URL_MEMO_KEEP = 1000;

function finish(
  config: KeyedConfig,
  prefix: string,
  varyHeaders: readonly string[],
  parsed: ParsedRequest,
  adapter: string,
  /** `parsed` is kept for later requests (in the URL memo). */
  memoized: boolean,
): RequestKeys {
  const vid = varyId(config, parsed, varyHeaders, adapter);
  const plain = parsed.plain;
  if (plain !== undefined && plain.vid === vid && plain.prefix === prefix) return plain.keys;
  const base = `${prefix}{${parsed.rid}}:`;
  const { label } = parsed;
  const keys: RequestKeys = {
    entry: `${base}${vid}:${label}`,
    variants: `${base}variants`,
    lease: `${base}${vid}:lease`,
    label,
    base,
    vid,
    entryHash: undefined,
    memo: memoized && (vid === '_' || vid === adapterVid(adapter)),
    presentIn: undefined,
  };
  // Shared by every later request for the same URL: RequestKeys are never modified but for their caches
  // (`entryHash`, `presentIn`).
  if (keys.memo) parsed.plain = { prefix, vid, keys };
  return keys;
}

/**
 * A Redis glob matching the entry keys (all methods, all variants) whose URL — origin and path, without
 * query — matches `urlGlob` (an already-escaped glob).
 */
export function entryPattern(prefix: string, urlGlob: string): string {
  return `${escapeGlob(prefix)}{*}:*:* ${urlGlob}`;
}

/** The URL (origin and path) in an entry key, or `null` for keys that are not entries of a URL. */
export function entryUrl(key: string): string | null {
  const space = key.indexOf(' ', key.indexOf('}:'));
  return space === -1 ? null : key.slice(space + 1);
}

/** Join `baseURL` and `url` as axios does (buildFullPath + combineURLs; any run of trailing slashes). */
export function fullPath(config: {
  url?: string | undefined;
  baseURL?: string | undefined;
  allowAbsoluteUrls?: boolean | undefined;
}): string {
  const url = config.url ?? '';
  const base = config.baseURL;
  if (base && (!ABSOLUTE_URL.test(url) || config.allowAbsoluteUrls === false)) {
    return url ? `${base.replace(/\/+$/, '')}/${url.replace(/^\/+/, '')}` : base;
  }
  return url;
}

/** JSON with object keys sorted at every level, so equal values always give equal text. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => {
    if (v && typeof v === 'object' && !Array.isArray(v) && Object.getPrototypeOf(v) === Object.prototype) {
      const sorted: Record<string, unknown> = {};
      for (const k of Object.keys(v).sort()) sorted[k] = (v as Record<string, unknown>)[k];
      return sorted;
    }
    return v;
  });
}

/** The request body as key material: `undefined` for none, `null` when it cannot be keyed. */
function bodyBytes(data: unknown): string | Uint8Array | undefined | null {
  if (data === undefined || data === null || data === '') return undefined;
  if (typeof data === 'string') return data;
  if (data instanceof Uint8Array) return data;
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  if (data instanceof URLSearchParams) return data.toString();
  if (typeof data === 'number' || typeof data === 'boolean') return String(data);
  const proto = typeof data === 'object' ? Object.getPrototypeOf(data) : undefined;
  if (proto === Object.prototype || proto === null || Array.isArray(data)) return canonicalJson(data);
  return null; // streams, FormData, Blob, class instances
}

function varyId(
  config: KeyedConfig,
  url: { username: string; password: string },
  varyHeaders: readonly string[],
  adapter: string,
): string {
  const parts = varyHeaderParts(config.headers, varyHeaders);
  if (config.auth) parts.push(`auth:${config.auth.username}:${config.auth.password}`);
  if (url.username || url.password) parts.push(`userinfo:${url.username}:${url.password}`);
  // The raw body differs by representation: a string for json/text, bytes for arraybuffer, a Blob…
  if (!TEXT_RESPONSE_TYPES.has(config.responseType)) parts.push(`type:${String(config.responseType)}`);
  const encoding = config.responseEncoding?.toLowerCase();
  if (encoding && encoding !== 'utf8' && encoding !== 'utf-8') parts.push(`encoding:${encoding}`);
  if (config.decompress === false) parts.push('raw');
  // Where the request goes and what comes back: another daemon's socket, another adapter's body types, a
  // redirect answered as it is instead of followed.
  if (config.socketPath) parts.push(`socket:${config.socketPath}`);
  if (config.maxRedirects === 0) parts.push('nofollow');
  // Who asks and which server answers, beyond the headers: a client certificate (or SNI name, source
  // address, proxy) on the request's agents, the request's own proxy and DNS lookup.
  const dispatcher = (config.fetchOptions as { dispatcher?: unknown } | undefined)?.dispatcher;
  const agents = agentIdentity(config.httpsAgent) + agentIdentity(config.httpAgent) + agentIdentity(dispatcher);
  if (agents) parts.push(`agents:${agents}`);
  if (config.proxy) parts.push(`proxy:${proxyIdentity(config.proxy)}`);
  if (typeof config.lookup === 'function') parts.push(`lookup:${functionIdentity(config.lookup)}`);
  const fetch = (config.env as { fetch?: unknown } | undefined)?.fetch;
  if (typeof fetch === 'function') parts.push(`fetch:${functionIdentity(fetch as () => unknown)}`);
  if (adapter === 'http') return parts.length === 0 ? '_' : hash128('vary', ...parts);
  // Every request of an instance whose adapter is not http has this part: hashed once per adapter kind.
  if (parts.length === 0) return adapterVid(adapter);
  parts.push(`adapter:${adapter}`);
  return hash128('vary', ...parts);
}

const VARY_SETS = new WeakMap<readonly string[], ReadonlySet<string>>();

/** Headers that name the server a request asks (the authority), whatever the URL says. */
const AUTHORITY_HEADERS: ReadonlySet<string> = new Set(['host', ':authority']);

/**
 * `name:value` of each listed header the request carries, and of a `Host` override (the authority the
 * request actually names), sorted by name: one pass over the request's headers (AxiosHeaders keeps each
 * as an own property), not one lookup per listed name.
 */
function varyHeaderParts(headers: unknown, varyHeaders: readonly string[]): string[] {
  const parts: string[] = [];
  if (!headers || typeof headers !== 'object') return parts;
  let wanted = VARY_SETS.get(varyHeaders);
  if (!wanted) {
    wanted = new Set(varyHeaders.map((name) => name.toLowerCase()));
    VARY_SETS.set(varyHeaders, wanted);
  }
  for (const name in headers) {
    const lower = name.toLowerCase();
    const authority = AUTHORITY_HEADERS.has(lower);
    if (!authority && !wanted.has(lower)) continue;
    const value = (headers as Record<string, unknown>)[name];
    if (value === undefined || value === null || value === false) continue;
    const text = Array.isArray(value) ? value.join(', ') : String(value);
    // A host name is case-insensitive: `Tenant-A.example` and `tenant-a.example` are one authority.
    parts.push(authority ? `authority:${text.trim().toLowerCase()}` : `${lower}:${text}`);
  }
  if (parts.length > 1) parts.sort();
  return parts;
}

const AGENT_IDS = new WeakMap<object, string>();

/**
 * What an agent adds to who asks and which server answers, hashed ('' for none, the common case: a
 * keep-alive agent): the client certificate it presents (`cert`, or `pfx` — hashed with its key, never
 * kept), its SNI `servername`, source `localAddress`, and the proxy a proxy agent goes through. Read from
 * node's `https.Agent` (`options`), from proxy agents (`connectOpts`, `proxy`) and from undici dispatchers
 * given to the fetch adapter (`fetchOptions.dispatcher`: their options' `connect` and `tls`); computed
 * once per agent. What a `createConnection` or `connect` function does cannot be read (see the README).
 */
function agentIdentity(agent: unknown): string {
  if (!agent || typeof agent !== 'object') return '';
  let id = AGENT_IDS.get(agent);
  if (id === undefined) {
    id = readAgentIdentity(agent as Record<string, unknown>);
    AGENT_IDS.set(agent, id);
  }
  return id;
}

function readAgentIdentity(agent: Record<string, unknown>): string {
  const parts: (string | Uint8Array)[] = [];
  const sources = [agent.options, agent.connectOpts, agent.connectOptions];
  // undici keeps a dispatcher's options under a symbol described 'options'.
  for (const symbol of Object.getOwnPropertySymbols(agent)) {
    if (symbol.description !== 'options') continue;
    const options = (agent as unknown as Record<symbol, unknown>)[symbol] as Record<string, unknown> | undefined;
    if (options && typeof options === 'object') sources.push(options.connect, options.tls);
  }
  for (const source of sources) {
    if (!source || typeof source !== 'object') continue;
    const o = source as Record<string, unknown>;
    for (const field of ['cert', 'pfx'] as const) {
      for (const item of Array.isArray(o[field]) ? (o[field] as unknown[]) : [o[field]]) {
        const bytes = secretBytes(item);
        if (bytes !== null) parts.push(`${field}:`, bytes);
      }
    }
    if (typeof o.servername === 'string' && o.servername) parts.push(`sni:${o.servername.toLowerCase()}`);
    if (typeof o.localAddress === 'string' && o.localAddress) parts.push(`local:${o.localAddress}`);
  }
  const proxy = agent.proxy;
  if (proxy instanceof URL) parts.push(`proxy:${proxy.href}`);
  else if (typeof proxy === 'string' && proxy) parts.push(`proxy:${proxy}`);
  return parts.length === 0 ? '' : hash128('agent', ...parts);
}

/** Certificate material as bytes: a PEM string, a Buffer, or a `{ buf }` pfx item. */
function secretBytes(item: unknown): string | Uint8Array | null {
  if (typeof item === 'string') return item.length > 0 ? item : null;
  if (item instanceof Uint8Array) return item.byteLength > 0 ? item : null;
  if (item && typeof item === 'object' && 'buf' in item) return secretBytes((item as { buf: unknown }).buf);
  return null;
}

/** The request's own `proxy` setting (where the request goes, and the credentials it goes with). */
function proxyIdentity(proxy: unknown): string {
  if (typeof proxy !== 'object' || proxy === null) return String(proxy);
  const p = proxy as {
    protocol?: unknown;
    host?: unknown;
    port?: unknown;
    auth?: { username?: unknown; password?: unknown };
  };
  const auth = p.auth ? `${String(p.auth.username)}:${String(p.auth.password)}@` : '';
  return `${String(p.protocol ?? 'http')}//${auth}${String(p.host)}:${String(p.port)}`;
}

const FUNCTION_IDS = new WeakMap<object, string>();

/**
 * A function's identity as far as it can be read across processes: its name and source text (the same
 * `lookup` in every process of a fleet shares entries). Two closures of one source that resolve to
 * different servers cannot be told apart: see "Security and isolation" in the README.
 */
function functionIdentity(fn: (...args: never[]) => unknown): string {
  let id = FUNCTION_IDS.get(fn);
  if (id === undefined) {
    id = hash128('fn', fn.name, Function.prototype.toString.call(fn));
    FUNCTION_IDS.set(fn, id);
  }
  return id;
}

const ADAPTER_VIDS = new Map<string, string>();

/** The variant of a request whose only variant part is its adapter kind (not http). */
function adapterVid(adapter: string): string {
  let vid = ADAPTER_VIDS.get(adapter);
  if (vid === undefined) {
    vid = hash128('vary', `adapter:${adapter}`);
    ADAPTER_VIDS.set(adapter, vid);
  }
  return vid;
}
