import type { CacheEntryError } from '../api/errors.js';
import type { CacheState } from '../api/state.js';
import type { Counters } from '../observe/stats.js';
import { CONTROL_CHARACTERS, DEFAULTS, LIMITS, type ResolvedRequestOptions } from '../options/index.js';
import type { UpstreamHead } from '../request/upstream.js';
import type { StoreGuard } from '../stores/guard/guard.js';
import { FAILED, type Failed } from '../stores/guard/guard.js';
import type { FillWrite } from '../stores/types.js';
import { forgetOlderHalf } from './bounded.js';
import { compressBody, PlainBodies } from './compress.js';
import { bodyToBytes, decodeEntry, type Entry, type EntryMeta, encodeEntry } from './entry.js';
import { freshness, storeTtlMs } from './freshness.js';
import { type RequestKeys, tagIndexKey } from './key.js';
import { entryIndexes } from './variants.js';

/** Most keys {@link EntryStore} remembers as present; the older half is forgotten when full. */
const PRESENT_MAX = 10_000;

/** Most keys whose decoded metadata {@link EntryStore} keeps; the older half is forgotten when full. */
const METAS_MAX = 2_000;

/**
 * The entries of one cached instance as its store holds them: read through the guard, decoded and checked
 * against the request that reads them (an unusable value is counted, reported, and a miss), with what this
 * process remembers of them — the keys it found or stored lately (so that a read expected to miss can take
 * the fill lease in the same call) and the metadata it decoded last (so that the same stored answer
 * decodes once).
 */
export class EntryStore {
  /**
   * Entry keys this process recently found or stored (bounded): reads of others are expected to miss.
   * Memoized keys (see `RequestKeys.memo`) are marked instead, with {@link generation}.
   */
  private readonly present = new Set<string>();
  /** What memoized keys found present are marked with; a new one forgets them all. */
  private generation: object = {};
  /** The metadata last decoded for each recently read key (bounded). */
  private readonly metas = new Map<string, EntryMeta>();
  /** Bodies of compressed entries read lately, decompressed (see `PlainBodies`). */
  private readonly plainBodies: PlainBodies;
  /** Keys whose reads answered another key's entry, being read again (see `confirmOutOfStep`). */
  private readonly checking = new Set<string>();

  constructor(
    readonly guard: StoreGuard,
    private readonly counters: Counters,
    /** The instance's `maxEntryBytes`: no body larger than that is stored, nor decompressed when read. */
    maxEntryBytes = Number.POSITIVE_INFINITY,
  ) {
    this.plainBodies = new PlainBodies(undefined, undefined, maxEntryBytes);
  }

  /** Read and decode the entry of a request. `null` for a miss, a store failure or an unusable value. */
  async read(keys: RequestKeys): Promise<Entry | null> {
    const entry = await this.readOrFailed(keys);
    return entry === FAILED ? null : entry;
  }

  /** As {@link read}, telling a store failure (`FAILED`: the store could not be read) from a miss. */
  async readOrFailed(keys: RequestKeys): Promise<Entry | null | Failed> {
    const raw = await this.guard.call('get', keys, (store) => store.get(keys.entry));
    if (raw === FAILED) return FAILED;
    if (raw === null) return null;
    return this.decodeOrReport(keys, raw);
  }

  /**
   * A read of a key this process has not found (or stored) lately will probably miss: when the store can
   * fold the lease into the read, that read goes as one call, and a miss costs one round trip before the
   * upstream call instead of two. Keys read or stored recently are read with a plain (batched) read.
   */
  expectMiss(keys: RequestKeys): boolean {
    const { guard } = this;
    const store = guard.store;
    return (
      store.getOrAcquireLease !== undefined &&
      store.acquireLease !== undefined &&
      !(keys.memo ? keys.presentIn === this.generation : this.present.has(keys.entry)) &&
      store.supports?.('leases') !== false &&
      guard.writesHealthy(keys)
    );
  }

  /** Remember whether the last read (or write) of a key found it (only for stores that fold the lease). */
  notePresence(keys: RequestKeys, found: boolean): void {
    if (this.guard.store.getOrAcquireLease === undefined) return;
    if (keys.memo) {
      // A hint only: keys shared by two instances with the same prefix just take turns.
      keys.presentIn = found ? this.generation : undefined;
      return;
    }
    const { present } = this;
    if (!found) {
      present.delete(keys.entry);
      return;
    }
    if (present.has(keys.entry)) return;
    if (present.size >= PRESENT_MAX) forgetOlderHalf(present);
    present.add(keys.entry);
  }

  /** Forget which keys were present (after an eviction, every read may miss). */
  forgetPresence(): void {
    this.present.clear();
    this.generation = {};
  }

  /**
   * Decode an entry of this request, reusing the metadata decoded last time for its key when the bytes are
   * the same (and remembering it otherwise). Throws {@link CacheEntryError} as `decodeEntry` does.
   */
  decode(keys: RequestKeys, raw: Uint8Array): Entry {
    const { metas } = this;
    const known = metas.get(keys.entry);
    const entry = decodeEntry(raw, keys, known, true, this.plainBodies);
    if (entry.meta && entry.meta !== known) {
      if (metas.size >= METAS_MAX && !known) forgetOlderHalf(metas);
      metas.set(keys.entry, entry.meta);
    }
    return entry;
  }

  /** Decode stored bytes; an unusable value is counted, reported, and treated as absent. */
  decodeOrReport(keys: RequestKeys, raw: Uint8Array): Entry | null {
    try {
      const entry = this.decode(keys, raw);
      // A decompressed body may be shared (see PlainBodies): never handed over as it is.
      if (this.guard.store.freshReads === true && !entry.storedBody) entry.owned = true;
      return entry;
    } catch (error) {
      this.counters.badEntries++;
      this.guard.report(error as CacheEntryError, 'get', keys.label);
      // Another key's entry in answer to this read: the connection may be answering the wrong commands.
      if ((error as CacheEntryError).problem === 'key') void this.confirmOutOfStep(keys, raw);
      return null;
    }
  }

  /**
   * Decode an entry that came with a fill's notice (the bytes are the caller's own copy): an unusable one is
   * counted and reported, and the waiter reads the store instead. Never a reason to distrust the
   * connection: a notice comes on another one, and anyone allowed to publish could have sent it.
   */
  decodeNotice(keys: RequestKeys, raw: Uint8Array): Entry | null {
    try {
      const entry = this.decode(keys, raw);
      if (!entry.storedBody) entry.owned = true;
      return entry;
    } catch (error) {
      this.counters.badEntries++;
      this.guard.report(error as CacheEntryError, 'get', keys.label);
      return null;
    }
  }

  /**
   * Another key's entry answered a read of `keys`: a reply meant for another command (the connection is out
   * of step, and must be replaced), or a value stored under this key by someone else (a planted copy, which
   * the refill overwrites: no reason to drop the user's connection). Read the key once more: the same bytes
   * again are what is stored; anything else proves the connection out of step. One check per key at a time.
   */
  private async confirmOutOfStep(keys: RequestKeys, raw: Uint8Array): Promise<void> {
    const { guard, checking } = this;
    if (guard.store.distrust === undefined || checking.has(keys.entry)) return;
    checking.add(keys.entry);
    try {
      // Not skipped by an open breaker: a lying connection opens it, and must still be found out.
      const again = await guard.call('get', keys, (store) => store.get(keys.entry), 0, true);
      if (again === FAILED) return; // the store could not say: nothing proven either way
      if (again !== null && Buffer.compare(again, raw) === 0) return; // stored that way: foreign, not a desync
      guard.distrust();
    } finally {
      checking.delete(keys.entry);
    }
  }
}

/** What a write did: stored (and whether it also released the fill lease), not storable, or failed. */
export type WriteResult =
  | { kind: 'stored'; entry: Entry | null; leaseReleased: boolean }
  | { kind: 'unstorable' }
  /** `entry`: what could not be written, decoded when `l1` keeps copies for grace (else absent). */
  | { kind: 'failed'; entry?: Entry };

/**
 * Store an upstream answer if it may be stored (status, Set-Cookie, Cache-Control, body type, size), announce the
 * overwrite to the fleet's in-process layers, and — when the store can do it in the same call — release
 * the fill `lease`. The stored entry is decoded only when this instance has an `l1`. Never rejects.
 * The store call is made before this returns (synchronously), except for a Blob body.
 */
export async function writeEntry(
  state: CacheState,
  keys: RequestKeys,
  request: ResolvedRequestOptions,
  head: UpstreamHead,
  data: unknown,
  createdAt: number,
  fetchMs: number,
  lease?: { token: string },
  unkeyedAuthorization = false,
): Promise<WriteResult> {
  const { options, guard } = state;
  const unstorable: WriteResult = { kind: 'unstorable' };
  // The server refuses writes for now (a read-only replica, maxmemory reached): do not try.
  if (guard.store.supports?.('writes') === false) return { kind: 'failed' };
  if (head.variesOnEverything) return unstorable;
  // An answer that sets a cookie is often personal (a session, a CSRF token): a shared cache does not keep
  // it unless told to (the cookie itself is never kept).
  if (head.setsCookie && options.shared && !(request.allowSetCookie ?? options.allowSetCookie)) return unstorable;
  const fresh = freshness(state.options, request, head, createdAt, fetchMs, unkeyedAuthorization);
  if (!fresh) return unstorable;
  const keepMs = storeTtlMs(state.options, request, fresh.freshUntil, fresh.policy, fresh.headers, createdAt);
  if (keepMs <= 0) return unstorable;
  // Too large to store whatever its metadata: known before the body is copied, encoded and checksummed.
  if (minimumBytes(data) > options.maxEntryBytes) return unstorable;
  const converted = bodyToBytes(data);
  const body = converted instanceof Promise ? await converted : converted;
  // A body larger than maxEntryBytes is not stored even when it would compress below it: readers do not
  // decompress more than that (see PlainBodies.maxPlainBytes).
  if (!body || body.bytes.length > options.maxEntryBytes) return unstorable;
  const tags = entryTags(request.tags, options.tagHeader ? head.headers[options.tagHeader] : undefined);
  if (tags === null) return unstorable;
  // Large bodies compressed (`compress`, per request or the instance's): the entry records how.
  const compression =
    request.compress === false ? null : (options.compress ?? (request.compress ? DEFAULTS.compress : null));
  const stored = compressBody(body.bytes, compression);
  const bytes = encodeEntry(
    {
      status: head.status,
      statusText: head.statusText,
      headers: fresh.headers,
      createdAt,
      freshUntil: fresh.freshUntil,
      fetchMs,
      tags,
      bodyKind: body.kind,
      blobType: body.blobType,
      redirects: head.redirects,
      finalUrl: head.finalUrl,
      vary: head.vary,
      policy: fresh.policy,
      body: body.bytes,
    },
    keys,
    stored,
  );
  if (bytes.length > options.maxEntryBytes) return unstorable;
  const indexes = entryIndexes(
    guard.store,
    keys,
    tags.map((tag) => tagIndexKey(options.prefix, tag)),
  );
  let leaseReleased = false;
  let result: unknown;
  // Written from now on (a failed write is forgotten at the next read, which misses).
  state.entries.notePresence(keys, true);
  if (guard.store.writeFill) {
    // One call: entry, its slot's indexes, the announcement, and the lease release.
    state.l1?.supersede(keys.entry);
    const write: FillWrite = {
      key: keys.entry,
      value: bytes,
      ttlMs: keepMs,
      indexes,
      announce: state.invalidations.announcement(keys.entry),
    };
    if (lease) write.lease = { key: keys.lease, token: lease.token, ttlMs: options.lockTtlMs };
    result = await guard.call('set', keys, (s) => s.writeFill!(write), bytes.length);
    leaseReleased = lease !== undefined && result !== FAILED;
  } else {
    // The write and the announcement go out back to back: the store has the entry before other processes
    // are told to drop their in-process copy of the key.
    [result] = await Promise.all([
      guard.call('set', keys, (s) => s.set(keys.entry, bytes, keepMs, indexes), bytes.length),
      state.invalidations.announce(keys.entry),
    ]);
  }
  // Not written (the store is failing): with `l1.grace`, this process keeps the answer to give while it is.
  if (result === FAILED)
    return state.l1?.graceMs ? { kind: 'failed', entry: state.entries.decode(keys, bytes) } : { kind: 'failed' };
  // The in-process layer keeps the stored bytes, never the caller's own (mutable) data.
  return { kind: 'stored', entry: state.l1 ? state.entries.decode(keys, bytes) : null, leaseReleased };
}

/**
 * A lower bound of a body's stored size, without converting it: a string's UTF-8 bytes are at least its
 * length in UTF-16 code units; bytes are their length; anything else (a parsed JSON value) 0.
 */
function minimumBytes(data: unknown): number {
  if (typeof data === 'string') return data.length;
  if (data instanceof ArrayBuffer || ArrayBuffer.isView(data)) return data.byteLength;
  if (typeof Blob !== 'undefined' && data instanceof Blob) return data.size;
  return 0;
}

/**
 * The request's tags plus those listed in the tag header, without duplicates; `null` when the header's
 * would go beyond what a request may give (`LIMITS.tags`, the length of a tag, control characters): such
 * an answer is not stored — leaving a tag out would let an eviction by that tag miss it.
 */
function entryTags(requestTags: readonly string[], header: string | string[] | undefined): readonly string[] | null {
  if (!header) return requestTags;
  const tags = new Set(requestTags);
  for (const tag of (Array.isArray(header) ? header.join(',') : header).split(/[\s,]+/)) {
    if (!tag) continue;
    if (tag.length > LIMITS.keyLength || CONTROL_CHARACTERS.test(tag)) return null;
    tags.add(tag);
    if (tags.size > LIMITS.tags) return null;
  }
  return [...tags];
}
