import type { AxiosHeaders } from 'axios';
import { CacheEntryError } from '../api/errors.js';
import { crc32 } from './checksum.js';
import { NO_VARY, type VarySpec } from './vary.js';

/**
 * A stored response. Encoded as (integers big-endian):
 *
 *   "ARC"  version (1 byte)  CRC-32 of the head after it (4)
 *   key length (2)  the entry's own key (UTF-8)  metadata length (4)  metadata (JSON, with the body's CRC-32)
 *   body (raw bytes)
 *
 * Everything up to the body is the entry's *head*: a revalidation (`304`) replaces only the head and keeps
 * the body where it is (see `CacheStore.replaceHead`). Binary-safe. Every entry names the key it answers and
 * proves its bytes: a value of another version, whose checksums or lengths do not add up, or that names
 * another key (a reply meant for another command, a value copied under a foreign key) does not decode.
 */
export interface Entry {
  status: number;
  statusText: string;
  /** Lower-case names; never `set-cookie` nor hop-by-hop headers. */
  headers: Record<string, string | string[]>;
  /** When the upstream answered (ms since epoch). */
  createdAt: number;
  /** Fresh until (ms since epoch). */
  freshUntil: number;
  /** How long the upstream took to answer (ms): δ of the early-refresh formula. */
  fetchMs: number;
  tags: readonly string[];
  bodyKind: BodyKind;
  /** Content type of a Blob body. */
  blobType: string;
  /** Redirects the upstream call followed to get this answer (0 when unknown, e.g. the fetch adapter). */
  redirects: number;
  /** The URL that answered, after redirects, when the adapter tells it (`''` otherwise). */
  finalUrl: string;
  /** The response's `Vary`: the request headers it varies on, and the fetching request's fingerprint. */
  vary: VarySpec;
  /**
   * HTTP semantics (`httpSemantics`), from the response's headers when it was stored; zero/false in TTL
   * mode, where the request's and instance's options decide instead.
   */
  policy: EntryPolicy;
  /** The body exactly as the base adapter returned it, as bytes (UTF-8 for strings, JSON for values). */
  body: Uint8Array;
  /** A string body, decoded once and then shared (strings are immutable): hits from `l1` skip the decode. */
  text?: string;
  /**
   * `body` was read for this request alone and nothing else holds it (see `CacheStore.freshReads`): the
   * first caller may take a binary body as it is, without a copy. Cleared once taken, and by `l1`.
   */
  owned?: boolean;
  /** Length of the encoded head (everything before the body) in the value this entry was decoded from. */
  headBytes?: number;
  /** The decoded metadata this entry shares with other reads of the same stored answer (see {@link EntryMeta}). */
  meta?: EntryMeta;
}

/** What RFC 9111 said about reusing a stored answer when it was stored (see `http/freshness.ts`). */
export interface EntryPolicy {
  /** Stored under `httpSemantics`: replays carry an `Age` header. */
  readonly http: boolean;
  /** The response's age when it arrived, in seconds (RFC 9111 §4.2.3). */
  readonly initialAge: number;
  /** Never served stale (`must-revalidate`, `no-cache`; shared: `proxy-revalidate`, `s-maxage`). */
  readonly mustRevalidate: boolean;
  /** The response's own `stale-while-revalidate`, in ms. */
  readonly staleWhileRevalidateMs: number;
  /** The response's own `stale-if-error`, in ms. */
  readonly staleIfErrorMs: number;
}

/** The policy of entries stored in TTL mode. */
export const TTL_POLICY: EntryPolicy = Object.freeze({
  http: false,
  initialAge: 0,
  mustRevalidate: false,
  staleWhileRevalidateMs: 0,
  staleIfErrorMs: 0,
});

/** How the base adapter handed us the body, so that a replay hands back the same type. */
export type BodyKind = 'empty' | 'string' | 'buffer' | 'arraybuffer' | 'bytes' | 'blob' | 'json';

export const FORMAT_VERSION = 5;
const MAGIC = [0x41, 0x52, 0x43] as const; // "ARC"
/** Magic, version and checksum; then the key length. */
const CHECKED_FROM = 8;
const MAX_KEY_BYTES = 0xffff;
const BODY_KINDS: ReadonlySet<string> = new Set(['empty', 'string', 'buffer', 'arraybuffer', 'bytes', 'blob', 'json']);

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

/** Encode an entry to bytes, naming the key it is stored under. */
export function encodeEntry(entry: Omit<Entry, 'meta' | 'text' | 'owned' | 'headBytes'>, key: string): Buffer {
  const meta = JSON.stringify({
    s: entry.status,
    t: entry.statusText,
    h: entry.headers,
    c: entry.createdAt,
    f: entry.freshUntil,
    d: Math.round(entry.fetchMs * 100) / 100, // 10 µs is precision enough for the early-refresh formula
    g: entry.tags,
    k: entry.bodyKind,
    b: entry.blobType,
    r: entry.redirects,
    u: entry.finalUrl,
    y: entry.vary.names,
    z: entry.vary.fingerprint,
    p: policyFields(entry.policy),
    n: entry.body.byteLength,
    x: crc32(entry.body),
  });
  const keyLength = Buffer.byteLength(key);
  if (keyLength > MAX_KEY_BYTES) throw new CacheEntryError(`key of ${keyLength} bytes is too long to store`, key);
  const metaLength = Buffer.byteLength(meta);
  const metaStart = CHECKED_FROM + 2 + keyLength + 4;
  const out = Buffer.allocUnsafe(metaStart + metaLength + entry.body.byteLength);
  out[0] = MAGIC[0];
  out[1] = MAGIC[1];
  out[2] = MAGIC[2];
  out[3] = FORMAT_VERSION;
  out.writeUInt16BE(keyLength, CHECKED_FROM);
  out.write(key, CHECKED_FROM + 2, 'utf8');
  out.writeUInt32BE(metaLength, metaStart - 4);
  out.write(meta, metaStart, 'utf8');
  out.set(entry.body, metaStart + metaLength);
  out.writeUInt32BE(crc32(out.subarray(CHECKED_FROM, metaStart + metaLength)), 4);
  return out;
}

/** The length of an encoded entry's head (everything before the body), or -1 if it is not an entry. */
export function headLength(bytes: Uint8Array): number {
  if (bytes.length < CHECKED_FROM + 6) return -1;
  const view = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const metaStart = CHECKED_FROM + 2 + view.readUInt16BE(CHECKED_FROM) + 4;
  if (metaStart > view.length) return -1;
  const end = metaStart + view.readUInt32BE(metaStart - 4);
  return end > view.length ? -1 : end;
}

/** A policy as stored: omitted for TTL-mode entries (the common case stays small). */
function policyFields(policy: EntryPolicy): (number | boolean)[] | 0 {
  if (!policy.http) return 0;
  return [policy.initialAge, policy.mustRevalidate, policy.staleWhileRevalidateMs, policy.staleIfErrorMs];
}

function policyFrom(p: unknown): EntryPolicy | null {
  if (p === 0) return TTL_POLICY;
  if (!Array.isArray(p) || p.length !== 4) return null;
  const [initialAge, mustRevalidate, swr, sie] = p as unknown[];
  if (
    typeof initialAge !== 'number' ||
    typeof mustRevalidate !== 'boolean' ||
    typeof swr !== 'number' ||
    typeof sie !== 'number'
  ) {
    return null;
  }
  return { http: true, initialAge, mustRevalidate, staleWhileRevalidateMs: swr, staleIfErrorMs: sie };
}

/** The metadata of an entry, as decoded. */
export type EntryHead = Omit<Entry, 'body' | 'text' | 'owned' | 'meta' | 'headBytes'>;

/**
 * An entry's decoded metadata kept with a copy of its encoded bytes: when the same key is read again and
 * its metadata bytes are the same (the same stored answer), {@link decodeEntry} reuses it instead of
 * parsing and checking it again, and every replay copies one AxiosHeaders template.
 */
export interface EntryMeta {
  readonly bytes: Buffer;
  readonly head: Readonly<EntryHead>;
  /** Length of the body the metadata announces. */
  readonly bodyBytes: number;
  /** CRC-32 of the body the metadata announces. */
  readonly bodyCrc: number;
  /** `head.headers` as AxiosHeaders, built on first use: each replay copies it. */
  replayHeaders?: AxiosHeaders;
  /** `response.request` of its replays, built on first use (see `replayRequest`). */
  replayRequest?: object;
}

/**
 * Decode bytes read from a store. Throws {@link CacheEntryError} for anything that is not a valid entry.
 * `known`: the metadata of the last entry decoded for this key; reused when the metadata bytes are the
 * same. `remember`: attach the decoded metadata (`entry.meta`, with a copy of its bytes) to pass as
 * `known` next time.
 */
export function decodeEntry(bytes: Uint8Array, key?: EntryKey, known?: EntryMeta, remember = false): Entry {
  const label = key?.label;
  const buf = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (buf.length < CHECKED_FROM + 6 || buf[0] !== MAGIC[0] || buf[1] !== MAGIC[1] || buf[2] !== MAGIC[2]) {
    throw new CacheEntryError('not an axios-redis-cache entry', label, 'format');
  }
  if (buf[3] !== FORMAT_VERSION) {
    throw new CacheEntryError(`format version ${buf[3]}, expected ${FORMAT_VERSION}`, label, 'format');
  }
  const keyLength = buf.readUInt16BE(CHECKED_FROM);
  const metaStart = CHECKED_FROM + 2 + keyLength + 4;
  if (metaStart > buf.length) throw new CacheEntryError('truncated key', label, 'format');
  const headEnd = metaStart + buf.readUInt32BE(metaStart - 4);
  if (headEnd > buf.length) throw new CacheEntryError('truncated metadata', label, 'format');
  if (buf.readUInt32BE(4) !== crc32(buf.subarray(CHECKED_FROM, headEnd))) {
    throw new CacheEntryError('checksum does not match: the bytes were changed', label, 'checksum');
  }
  if (key && buf.compare(keyBytes(key), 0, undefined, CHECKED_FROM + 2, metaStart - 4) !== 0) {
    // A reply meant for another command, or a value copied under a foreign key: never another's answer.
    throw new CacheEntryError('the entry is stored for another key', label, 'key');
  }
  const metaLength = buf.readUInt32BE(metaStart - 4);
  const bodyStart = metaStart + metaLength;
  if (bodyStart > buf.length) throw new CacheEntryError('truncated metadata', label, 'format');
  const meta =
    known && known.bytes.length === metaLength && buf.compare(known.bytes, 0, metaLength, metaStart, bodyStart) === 0
      ? known
      : decodeMeta(buf, metaStart, bodyStart, label, remember);
  const { head } = meta;
  if (buf.length - bodyStart !== meta.bodyBytes) {
    throw new CacheEntryError(`body is ${buf.length - bodyStart} bytes, expected ${meta.bodyBytes}`, label, 'format');
  }
  if (crc32(buf.subarray(bodyStart)) !== meta.bodyCrc) {
    throw new CacheEntryError('checksum does not match: the bytes were changed', label, 'checksum');
  }
  if (head.bodyKind === 'json') {
    // Only mock adapters hand over JSON values; check once here so that a replay cannot throw.
    try {
      JSON.parse(buf.toString('utf8', bodyStart));
    } catch {
      throw new CacheEntryError('JSON body does not parse', label, 'format');
    }
  }
  const entry: Entry = {
    status: head.status,
    statusText: head.statusText,
    headers: head.headers,
    createdAt: head.createdAt,
    freshUntil: head.freshUntil,
    fetchMs: head.fetchMs,
    tags: head.tags,
    bodyKind: head.bodyKind,
    blobType: head.blobType,
    redirects: head.redirects,
    finalUrl: head.finalUrl,
    vary: head.vary,
    policy: head.policy,
    body: buf.subarray(bodyStart),
    headBytes: bodyStart,
  };
  if (meta.bytes.length > 0) entry.meta = meta;
  return entry;
}

/** The key an entry is expected to answer: its store key, and its readable label (for messages). */
export interface EntryKey {
  readonly entry: string;
  readonly label: string;
}

const KEY_BYTES = new WeakMap<EntryKey, Buffer>();

/** The UTF-8 bytes of an entry key, encoded once per keys object (they are reused across requests). */
function keyBytes(key: EntryKey): Buffer {
  let bytes = KEY_BYTES.get(key);
  if (!bytes) {
    bytes = Buffer.from(key.entry, 'utf8');
    KEY_BYTES.set(key, bytes);
  }
  return bytes;
}

/**
 * Parse and check the metadata in `buf` (from `metaStart` to `bodyStart`); with `remember`, keep a copy of
 * its bytes. Headers that are never stored (`set-cookie`, hop-by-hop) are dropped, however they got there.
 */
function decodeMeta(
  buf: Buffer,
  metaStart: number,
  bodyStart: number,
  key: string | undefined,
  remember: boolean,
): EntryMeta {
  let meta: unknown;
  try {
    meta = JSON.parse(buf.toString('utf8', metaStart, bodyStart));
  } catch {
    throw new CacheEntryError('metadata is not JSON', key, 'format');
  }
  if (typeof meta !== 'object' || meta === null || Array.isArray(meta)) {
    throw new CacheEntryError('metadata is not an object', key, 'format');
  }
  const { s, t, h, c, f, d, g, k, b, r, u, y, z, p, n, x } = meta as Record<string, unknown>;
  const policy = policyFrom(p);
  if (
    typeof s !== 'number' ||
    typeof t !== 'string' ||
    typeof h !== 'object' ||
    h === null ||
    typeof c !== 'number' ||
    typeof f !== 'number' ||
    typeof d !== 'number' ||
    !Array.isArray(g) ||
    typeof k !== 'string' ||
    !BODY_KINDS.has(k) ||
    typeof b !== 'string' ||
    typeof r !== 'number' ||
    typeof u !== 'string' ||
    !Array.isArray(y) ||
    !y.every((name) => typeof name === 'string') ||
    typeof z !== 'string' ||
    policy === null ||
    typeof n !== 'number' ||
    typeof x !== 'number'
  ) {
    throw new CacheEntryError('metadata fields are missing or of the wrong type', key, 'format');
  }
  return {
    bytes: remember ? Buffer.from(buf.subarray(metaStart, bodyStart)) : NO_BYTES,
    head: {
      status: s,
      statusText: t,
      headers: storableHeaders(h as Record<string, string | string[]>),
      createdAt: c,
      freshUntil: f,
      fetchMs: d,
      tags: g as string[],
      bodyKind: k as BodyKind,
      blobType: b,
      redirects: r,
      finalUrl: u,
      vary: y.length === 0 ? NO_VARY : { names: y as string[], fingerprint: z },
      policy,
    },
    bodyBytes: n,
    bodyCrc: x,
  };
}

const NO_BYTES = Buffer.alloc(0);

/** A body as bytes plus how to give it back. */
export interface BodyBytes {
  kind: BodyKind;
  bytes: Uint8Array;
  blobType: string;
}

/**
 * The body the base adapter returned, as bytes plus its kind; `null` when it cannot be stored (a stream,
 * or a value that does not survive JSON). Synchronous except for a Blob (a promise then), so that a write
 * of any other body goes out before the caller is answered.
 */
export function bodyToBytes(data: unknown): BodyBytes | null | Promise<BodyBytes | null> {
  if (data === undefined) return { kind: 'empty', bytes: EMPTY, blobType: '' };
  if (typeof data === 'string') return { kind: 'string', bytes: Buffer.from(data, 'utf8'), blobType: '' };
  if (Buffer.isBuffer(data)) return { kind: 'buffer', bytes: data, blobType: '' };
  if (data instanceof ArrayBuffer) return { kind: 'arraybuffer', bytes: new Uint8Array(data), blobType: '' };
  if (ArrayBuffer.isView(data)) {
    return { kind: 'bytes', bytes: new Uint8Array(data.buffer, data.byteOffset, data.byteLength), blobType: '' };
  }
  if (typeof Blob !== 'undefined' && data instanceof Blob) {
    return data.arrayBuffer().then((buffer) => ({ kind: 'blob', bytes: new Uint8Array(buffer), blobType: data.type }));
  }
  if (isJsonValue(data)) return { kind: 'json', bytes: Buffer.from(JSON.stringify(data), 'utf8'), blobType: '' };
  return null;
}

/**
 * The body in the form the base adapter returned it, for one caller: callers never share data. A binary
 * body the entry `owned` goes, uncopied, to the first caller; every other caller gets a copy.
 */
export function bytesToBody(entry: Pick<Entry, 'bodyKind' | 'body' | 'blobType' | 'text' | 'owned'>): unknown {
  const { body } = entry;
  if (entry.owned && (entry.bodyKind === 'buffer' || entry.bodyKind === 'bytes')) {
    entry.owned = false;
    return entry.bodyKind === 'buffer'
      ? Buffer.from(body.buffer, body.byteOffset, body.byteLength)
      : new Uint8Array(body.buffer, body.byteOffset, body.byteLength);
  }
  switch (entry.bodyKind) {
    case 'empty':
      return undefined;
    case 'string':
      entry.text ??= Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString('utf8');
      return entry.text;
    case 'buffer':
      return Buffer.from(body);
    case 'arraybuffer':
      return new Uint8Array(body).buffer; // a copy of exactly these bytes (Buffer#slice would share memory)
    case 'bytes':
      return new Uint8Array(body);
    case 'blob':
      return new Blob([new Uint8Array(body)], { type: entry.blobType });
    case 'json':
      return JSON.parse(Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString('utf8'));
  }
}

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

function connectionListed(value: string | string[]): ReadonlySet<string> {
  const names = new Set<string>();
  for (const part of (Array.isArray(value) ? value.join(',') : value).split(',')) {
    const name = part.trim().toLowerCase();
    if (name) names.add(name);
  }
  return names;
}

const EMPTY = new Uint8Array(0);

function isJsonValue(value: unknown): boolean {
  if (value === null || typeof value === 'number' || typeof value === 'boolean') return true;
  if (typeof value !== 'object') return false;
  const proto = Object.getPrototypeOf(value);
  return Array.isArray(value) || proto === Object.prototype || proto === null;
}
