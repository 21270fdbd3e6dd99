import crypto from 'node:crypto';
import { CacheEntryError } from '../api/errors.js';
import { readStamp, STAMP_BYTES, STAMP_OFFSET, type StaleStamp } from '../stores/stamp.js';
import { crc32 } from './checksum.js';
import { decompress, type PlainBodies } from './compress.js';
import { type BodyKind, type Entry, type EntryKey, type EntryMeta, type EntryPolicy, TTL_POLICY } from './entry.js';
import { storableHeaders } from './headers.js';
import { NO_VARY } from './vary.js';

/** The binary entry format (see `Entry`): encoding, and decoding that checks everything it reads. */

export const FORMAT_VERSION = 7;

const MAGIC = [0x41, 0x52, 0x43] as const; // "ARC"

/** What every entry of this version starts with: the magic and the version (`markStale` checks it). */
export const ENTRY_HEADER: Uint8Array = Uint8Array.of(MAGIC[0], MAGIC[1], MAGIC[2], FORMAT_VERSION);

/** Magic, version, the stamp and the head's checksum; then the key's hash. */
const CHECKED_FROM = STAMP_OFFSET + STAMP_BYTES + 4;
const CRC_AT = CHECKED_FROM - 4;
/** The entry's key, hashed: the first bytes of its SHA-256. */
const KEY_HASH_BYTES = 8;
const META_LENGTH_AT = CHECKED_FROM + KEY_HASH_BYTES;
const META_AT = META_LENGTH_AT + 4;

const BODY_KINDS: ReadonlySet<string> = new Set(['empty', 'string', 'buffer', 'arraybuffer', 'bytes', 'blob', 'json']);

/** How a stored body was compressed (`compress`); absent: as the adapter returned it. */
export type BodyEncoding = 'br' | 'gzip';

/** A body as stored: compressed bytes, and how (see `entries/compress.ts`). */
export interface StoredBody {
  readonly bytes: Uint8Array;
  readonly encoding: BodyEncoding;
}

/**
 * Encode an entry to bytes, naming (by its hash) the key it is stored under. `stored`: the body as it is to
 * be stored, compressed (the entry's own `body` is what it stands for); omitted: `entry.body` as it is.
 * Metadata fields at their usual value are left out (a small entry stays small).
 */
export function encodeEntry(
  entry: Omit<Entry, 'meta' | 'text' | 'owned' | 'headBytes'>,
  key: string | EntryKey,
  stored: StoredBody | undefined = entry.storedBody,
): Buffer {
  const body = stored ? stored.bytes : entry.body;
  const fields: Record<string, unknown> = {
    s: entry.status,
    h: entry.headers,
    c: entry.createdAt,
    f: entry.freshUntil,
    k: entry.bodyKind,
    n: body.byteLength,
    x: crc32(body),
  };
  if (entry.statusText !== 'OK') fields.t = entry.statusText;
  if (entry.fetchMs !== 0) fields.d = Math.round(entry.fetchMs * 100) / 100; // 10 µs: enough for early refresh
  if (entry.tags.length > 0) fields.g = entry.tags;
  if (entry.blobType !== '') fields.b = entry.blobType;
  if (entry.redirects !== 0) fields.r = entry.redirects;
  if (entry.finalUrl !== '') fields.u = entry.finalUrl;
  if (entry.vary.names.length > 0) {
    fields.y = entry.vary.names;
    fields.z = entry.vary.fingerprint;
  }
  if (entry.policy.http) fields.p = policyFields(entry.policy);
  if (stored) {
    fields.e = stored.encoding;
    fields.m = entry.body.byteLength;
  }
  const meta = JSON.stringify(fields);
  const metaLength = Buffer.byteLength(meta);
  const out = Buffer.allocUnsafe(META_AT + metaLength + body.byteLength);
  out[0] = MAGIC[0];
  out[1] = MAGIC[1];
  out[2] = MAGIC[2];
  out[3] = FORMAT_VERSION;
  out.fill(0, STAMP_OFFSET, STAMP_OFFSET + STAMP_BYTES);
  out.set(typeof key === 'string' ? keyHashOf(key) : keyHash(key), CHECKED_FROM);
  out.writeUInt32BE(metaLength, META_LENGTH_AT);
  out.write(meta, META_AT, 'utf8');
  out.set(body, META_AT + metaLength);
  out.writeUInt32BE(crc32(out.subarray(CHECKED_FROM, META_AT + metaLength)), CRC_AT);
  return out;
}

/** `crypto.hash` (one call, no Hash object) where Node has it (20.12+), else `createHash`. */
const oneShot = (crypto as { hash?: (algorithm: string, data: string, encoding: 'buffer') => Buffer }).hash;

/** The hash an entry stores of its key: the first bytes of its SHA-256. */
function keyHashOf(key: string): Buffer {
  const digest = oneShot ? oneShot('sha256', key, 'buffer') : crypto.createHash('sha256').update(key).digest();
  return digest.subarray(0, KEY_HASH_BYTES);
}

/**
 * The soft-eviction stamp of encoded entry bytes (see `stores/stamp.ts`): `null` when not soft-evicted;
 * throws {@link CacheEntryError} when its check fails (bytes changed: a miss, as any other changed value).
 */
export function softStamp(buf: Uint8Array, label?: string): StaleStamp | null {
  const stamp = readStamp(buf);
  if (stamp === 'changed') {
    throw new CacheEntryError('soft-eviction stamp does not check: the bytes were changed', label, 'checksum');
  }
  return stamp;
}

/** The length of an encoded entry's head (everything before the body), or -1 if it is not an entry. */
export function headLength(bytes: Uint8Array): number {
  if (bytes.length < META_AT) return -1;
  const view = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const end = META_AT + view.readUInt32BE(META_LENGTH_AT);
  return end > view.length ? -1 : end;
}

/** A policy as stored: omitted for TTL-mode entries (the common case stays small). */
function policyFields(policy: EntryPolicy): (number | boolean)[] | 0 {
  if (!policy.http) return 0;
  return [policy.initialAge, policy.mustRevalidate, policy.staleWhileRevalidateMs, policy.staleIfErrorMs];
}

function policyFrom(p: unknown): EntryPolicy | null {
  if (p === undefined || p === 0) return TTL_POLICY;
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
export function decodeEntry(
  bytes: Uint8Array,
  key?: EntryKey,
  known?: EntryMeta,
  remember = false,
  plain?: PlainBodies,
): Entry {
  const label = key?.label;
  const buf = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (buf.length < META_AT || buf[0] !== MAGIC[0] || buf[1] !== MAGIC[1] || buf[2] !== MAGIC[2]) {
    throw new CacheEntryError('not an axios-redis-cache entry', label, 'format');
  }
  if (buf[3] !== FORMAT_VERSION) {
    throw new CacheEntryError(`format version ${buf[3]}, expected ${FORMAT_VERSION}`, label, 'format');
  }
  const metaLength = buf.readUInt32BE(META_LENGTH_AT);
  const bodyStart = META_AT + metaLength;
  if (bodyStart > buf.length) throw new CacheEntryError('truncated metadata', label, 'format');
  if (buf.readUInt32BE(CRC_AT) !== crc32(buf.subarray(CHECKED_FROM, bodyStart))) {
    throw new CacheEntryError('checksum does not match: the bytes were changed', label, 'checksum');
  }
  if (key && buf.compare(keyHash(key), 0, KEY_HASH_BYTES, CHECKED_FROM, META_LENGTH_AT) !== 0) {
    // A reply meant for another command, or a value copied under a foreign key: never another's answer.
    throw new CacheEntryError('the entry is stored for another key', label, 'key');
  }
  const meta =
    known && known.bytes.length === metaLength && buf.compare(known.bytes, 0, metaLength, META_AT, bodyStart) === 0
      ? known
      : decodeMeta(buf, META_AT, bodyStart, label, remember);
  const { head } = meta;
  if (buf.length - bodyStart !== meta.bodyBytes) {
    throw new CacheEntryError(`body is ${buf.length - bodyStart} bytes, expected ${meta.bodyBytes}`, label, 'format');
  }
  const storedBytes = buf.subarray(bodyStart);
  if (crc32(storedBytes) !== meta.bodyCrc) {
    throw new CacheEntryError('checksum does not match: the bytes were changed', label, 'checksum');
  }
  let body: Buffer = storedBytes;
  if (meta.encoding) {
    const plainBytes = meta.plainBytes ?? 0;
    if (plain && plainBytes > plain.maxPlainBytes) {
      throw new CacheEntryError(
        `the body is ${plainBytes} bytes decompressed, more than maxEntryBytes (${plain.maxPlainBytes})`,
        label,
        'format',
      );
    }
    const reused = key ? plain?.get(key.entry, meta.bodyCrc) : undefined;
    if (reused && reused.length === plainBytes) {
      body = reused;
    } else {
      try {
        body = decompress(storedBytes, meta.encoding, plainBytes);
      } catch {
        throw new CacheEntryError(`the ${meta.encoding} body does not decompress`, label, 'format');
      }
      if (body.length !== plainBytes) {
        throw new CacheEntryError(`body is ${body.length} bytes, expected ${plainBytes}`, label, 'format');
      }
      if (key) plain?.set(key.entry, meta.bodyCrc, body);
    }
  }
  if (head.bodyKind === 'json') {
    // Only mock adapters hand over JSON values; check once here so that a replay cannot throw.
    try {
      JSON.parse(body.toString('utf8'));
    } catch {
      throw new CacheEntryError('JSON body does not parse', label, 'format');
    }
  }
  const stamp = softStamp(buf, label);
  const entry: Entry = {
    status: head.status,
    statusText: head.statusText,
    headers: head.headers,
    createdAt: head.createdAt,
    // Soft-evicted: stale from then on (never fresher than it was).
    freshUntil: stamp ? Math.min(head.freshUntil, stamp.staleAt) : head.freshUntil,
    fetchMs: head.fetchMs,
    tags: head.tags,
    bodyKind: head.bodyKind,
    blobType: head.blobType,
    redirects: head.redirects,
    finalUrl: head.finalUrl,
    vary: head.vary,
    policy: head.policy,
    body,
    headBytes: bodyStart,
  };
  if (meta.encoding) entry.storedBody = { bytes: storedBytes, encoding: meta.encoding };
  if (stamp) entry.softEvicted = stamp;
  if (meta.bytes.length > 0) entry.meta = meta;
  return entry;
}

/**
 * The hash of an entry key, computed once per keys object (they are reused across requests) and kept on
 * it (a field, not a WeakMap: a miss makes a keys object of its own, and a WeakMap entry costs more than the
 * hash).
 */
function keyHash(key: EntryKey): Buffer {
  let hash = key.entryHash;
  if (!hash) {
    hash = keyHashOf(key.entry);
    key.entryHash = hash;
  }
  return hash;
}

/**
 * Parse and check the metadata in `buf` (from `metaStart` to `bodyStart`); with `remember`, keep a copy of
 * its bytes. Headers that are never stored (`set-cookie`, hop-by-hop) are dropped, however they got there.
 * Fields left out take their usual value.
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
  const {
    s,
    t = 'OK',
    h,
    c,
    f,
    d = 0,
    g = [],
    k,
    b = '',
    r = 0,
    u = '',
    y = [],
    z = '',
    p,
    n,
    x,
    e,
    m,
  } = meta as Record<string, unknown>;
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
    !g.every((tag) => typeof tag === 'string') ||
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
    typeof x !== 'number' ||
    (e !== undefined && e !== 'br' && e !== 'gzip') ||
    (e !== undefined && (typeof m !== 'number' || m < 0 || m > MAX_PLAIN_BYTES))
  ) {
    throw new CacheEntryError('metadata fields are missing or of the wrong type', key, 'format');
  }
  const decoded: EntryMeta = {
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
  if (e !== undefined) return { ...decoded, encoding: e as BodyEncoding, plainBytes: m as number };
  return decoded;
}

/** The largest body a compressed entry may say it holds (Redis' largest string): bounds decompression. */
const MAX_PLAIN_BYTES = 512 * 1024 * 1024;

const NO_BYTES = Buffer.alloc(0);
