import { CacheEntryError } from '../api/errors.js';
import { crc32 } from './checksum.js';
import { type BodyKind, type Entry, type EntryKey, type EntryMeta, type EntryPolicy, TTL_POLICY } from './entry.js';
import { storableHeaders } from './headers.js';
import { NO_VARY } from './vary.js';

/** The binary entry format (see `Entry`): encoding, and decoding that checks everything it reads. */

export const FORMAT_VERSION = 5;

const MAGIC = [0x41, 0x52, 0x43] as const; // "ARC"

/** Magic, version and checksum; then the key length. */
const CHECKED_FROM = 8;

const MAX_KEY_BYTES = 0xffff;

const BODY_KINDS: ReadonlySet<string> = new Set(['empty', 'string', 'buffer', 'arraybuffer', 'bytes', 'blob', 'json']);

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
