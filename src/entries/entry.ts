import type { AxiosHeaders } from 'axios';
import type { BodyEncoding, StoredBody } from './format.js';
import type { VarySpec } from './vary.js';

/**
 * A stored response. Encoded as (integers big-endian):
 *
 *   "ARC"  version (1 byte)  soft-eviction stamp (16: see `STAMP_OFFSET`)  CRC-32 of the head after it (4)
 *   the entry's own key, hashed (8: SHA-256)  metadata length (4)  metadata (JSON, with the body's CRC-32)
 *   body (raw bytes, or compressed as the metadata says)
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
  /**
   * Soft-evicted (`evict(…, { soft: true })`): stale since `staleAt` (`freshUntil` is no later), served
   * stale while one refresh runs until `graceUntil`, then a miss. Absent otherwise.
   */
  softEvicted?: { readonly staleAt: number; readonly graceUntil: number };
  /**
   * The body as stored, when it was stored compressed (`body` is then what it decompressed to): a `304`
   * renewal writes a head for these bytes, which stay in the store.
   */
  storedBody?: StoredBody;
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

/** The metadata of an entry, as decoded. */
export type EntryHead = Omit<Entry, 'body' | 'text' | 'owned' | 'meta' | 'headBytes' | 'softEvicted' | 'storedBody'>;

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
  /** CRC-32 of the body the metadata announces (as stored). */
  readonly bodyCrc: number;
  /** How the stored body is compressed, and its length decompressed; absent when stored as it is. */
  readonly encoding?: BodyEncoding;
  readonly plainBytes?: number;
  /** `head.headers` as AxiosHeaders, built on first use: each replay copies it. */
  replayHeaders?: AxiosHeaders;
  /** `response.request` of its replays, built on first use (see `replayRequest`). */
  replayRequest?: object;
}

/** The key an entry is expected to answer: its store key, and its readable label (for messages). */
export interface EntryKey {
  readonly entry: string;
  readonly label: string;
  /** The hash of `entry` an encoded entry carries, once computed (see `entries/format.ts`). */
  entryHash?: Buffer | undefined;
}

export { type BodyBytes, bodyToBytes, bytesToBody } from './body.js';
export { decodeEntry, encodeEntry, FORMAT_VERSION, headLength, softStamp } from './format.js';
export { plainHeaders, storableHeaders, UNSTORED_HEADERS } from './headers.js';
