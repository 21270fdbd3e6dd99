import type { CacheEntryError } from '../api/errors.js';
import type { CacheState } from '../api/state.js';
import { hasValidator } from '../http/conditional.js';
import { storagePolicy } from '../http/freshness.js';
import { announce, announcement, dropLocal } from '../local/invalidation.js';
import type { ResolvedRequestOptions } from '../options/index.js';
import type { UpstreamHead } from '../request/upstream.js';
import { FAILED } from '../stores/guard.js';
import type { FillWrite } from '../stores/types.js';
import {
  bodyToBytes,
  decodeEntry,
  type Entry,
  type EntryPolicy,
  encodeEntry,
  headLength,
  TTL_POLICY,
} from './entry.js';
import { type RequestKeys, tagIndexKey } from './key.js';

/** Read and decode the entry of a request. `null` for a miss, a store failure or an unusable value. */
export async function readEntry(state: CacheState, keys: RequestKeys): Promise<Entry | null> {
  const raw = await state.guard.call('get', keys.label, (store) => store.get(keys.entry));
  if (raw === FAILED || raw === null) return null;
  return decodeOrReport(state, keys, raw);
}

/** Most keys {@link CacheState.present} remembers; it starts over when full. */
const PRESENT_MAX = 10_000;

/**
 * A read of a key this process has not found (or stored) lately will probably miss: when the store can
 * fold the lease into the read, that read goes as one call, and a miss costs one round trip before the
 * upstream call instead of two. Keys read or stored recently are read with a plain (batched) read.
 */
export function expectMiss(state: CacheState, keys: RequestKeys): boolean {
  const store = state.guard.store;
  return (
    store.getOrAcquireLease !== undefined &&
    store.acquireLease !== undefined &&
    !state.present.has(keys.entry) &&
    store.supports?.('leases') !== false &&
    state.guard.writesHealthy
  );
}

/** Remember whether the last read (or write) of a key found it (only for stores that fold the lease). */
export function notePresence(state: CacheState, keys: RequestKeys, found: boolean): void {
  if (state.guard.store.getOrAcquireLease === undefined) return;
  if (!found) {
    state.present.delete(keys.entry);
    return;
  }
  if (state.present.has(keys.entry)) return;
  if (state.present.size >= PRESENT_MAX) state.present.clear();
  state.present.add(keys.entry);
}

/** Most keys whose decoded metadata {@link CacheState.metas} keeps; it starts over when full. */
const METAS_MAX = 2_000;

/**
 * Decode an entry of this request, reusing the metadata decoded last time for its key when the bytes are
 * the same (and remembering it otherwise). Throws {@link CacheEntryError} as `decodeEntry` does.
 */
function decodeRemembered(state: CacheState, keys: RequestKeys, raw: Uint8Array): Entry {
  const known = state.metas.get(keys.entry);
  const entry = decodeEntry(raw, keys, known, true);
  if (entry.meta && entry.meta !== known) {
    if (state.metas.size >= METAS_MAX && !known) state.metas.clear();
    state.metas.set(keys.entry, entry.meta);
  }
  return entry;
}

/** Decode stored bytes; an unusable value is counted, reported, and treated as absent. */
export function decodeOrReport(state: CacheState, keys: RequestKeys, raw: Uint8Array): Entry | null {
  try {
    const entry = decodeRemembered(state, keys, raw);
    if (state.guard.store.freshReads === true) entry.owned = true;
    return entry;
  } catch (error) {
    state.counters.badEntries++;
    state.guard.report(error as CacheEntryError, 'get', keys.label);
    // Another key's entry in answer to this read: the connection may be answering the wrong commands.
    if ((error as CacheEntryError).problem === 'key') state.guard.distrust();
    return null;
  }
}

/** Whether a request follows HTTP caching (`httpSemantics`) rather than `ttl`. */
export function followsHttp(state: CacheState, request: ResolvedRequestOptions): boolean {
  return request.httpSemantics ?? state.options.httpSemantics;
}

/**
 * The stale windows that apply to a stored answer: its own (`stale-while-revalidate`, `stale-if-error`;
 * none when it must be revalidated) under `httpSemantics`, the request's or instance's options otherwise.
 */
export function staleWindows(
  state: CacheState,
  request: ResolvedRequestOptions,
  policy: EntryPolicy,
): { whileRevalidateMs: number; ifErrorMs: number } {
  if (policy.http) {
    return policy.mustRevalidate
      ? NO_WINDOWS
      : { whileRevalidateMs: policy.staleWhileRevalidateMs, ifErrorMs: policy.staleIfErrorMs };
  }
  return {
    whileRevalidateMs: request.staleWhileRevalidateMs ?? state.options.staleWhileRevalidateMs,
    ifErrorMs: request.staleIfErrorMs ?? state.options.staleIfErrorMs,
  };
}

const NO_WINDOWS = Object.freeze({ whileRevalidateMs: 0, ifErrorMs: 0 });

/**
 * How long the store keeps an entry past now: until it is no longer fresh, plus the longest stale window
 * that may use it, or the revalidation window (`keep`) when it has a validator. 0: not worth storing.
 */
function storeTtlMs(
  state: CacheState,
  request: ResolvedRequestOptions,
  freshUntil: number,
  policy: EntryPolicy,
  headers: UpstreamHead['headers'],
  now: number,
): number {
  const windows = staleWindows(state, request, policy);
  const past = Math.max(
    windows.whileRevalidateMs,
    windows.ifErrorMs,
    state.options.keepMs > 0 && hasValidator(headers) ? state.options.keepMs : 0,
  );
  return Math.max(0, freshUntil - now) + past;
}

/** When an answer stored now stops being fresh, and what RFC 9111 says of its reuse (`null`: not storable). */
interface Freshness {
  freshUntil: number;
  policy: EntryPolicy;
  headers: UpstreamHead['headers'];
}

function freshness(
  state: CacheState,
  request: ResolvedRequestOptions,
  head: Pick<UpstreamHead, 'status' | 'headers'>,
  createdAt: number,
  fetchMs: number,
  unkeyedAuthorization: boolean,
): Freshness | null {
  const { options } = state;
  if (!followsHttp(state, request)) {
    if (!options.isStorableStatus(head.status)) return null;
    const control = head.headers['cache-control'];
    if (control) {
      const directives = cacheControl(control);
      if (directives.has('no-store') || (options.shared && directives.has('private'))) return null;
    }
    return { freshUntil: createdAt + (request.ttlMs ?? options.ttlMs), policy: TTL_POLICY, headers: head.headers };
  }
  if (options.statusesGiven && !options.isStorableStatus(head.status)) return null;
  const policy = storagePolicy({
    status: head.status,
    headers: head.headers,
    shared: options.shared,
    responseTime: createdAt,
    fetchMs,
    unkeyedAuthorization,
    fallbackTtl: options.fallbackTtlMs / 1000,
  });
  if (!policy.storable) return null;
  let headers = head.headers;
  if (policy.omit.length > 0) {
    const kept: Record<string, string | string[]> = { ...headers };
    for (const name of policy.omit) delete kept[name];
    headers = kept;
  }
  return {
    freshUntil: createdAt + Math.round((policy.lifetime - policy.initialAge) * 1000),
    policy: {
      http: true,
      initialAge: policy.initialAge,
      mustRevalidate: policy.mustRevalidate,
      staleWhileRevalidateMs: policy.staleWhileRevalidate * 1000,
      staleIfErrorMs: policy.staleIfError * 1000,
    },
    headers,
  };
}

/** What a write did: stored (and whether it also released the fill lease), not storable, or failed. */
export type WriteResult =
  | { kind: 'stored'; entry: Entry | null; leaseReleased: boolean }
  | { kind: 'unstorable' }
  | { kind: 'failed' };

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
  const fresh = freshness(state, request, head, createdAt, fetchMs, unkeyedAuthorization);
  if (!fresh) return unstorable;
  const keepMs = storeTtlMs(state, request, fresh.freshUntil, fresh.policy, fresh.headers, createdAt);
  if (keepMs <= 0) return unstorable;
  const converted = bodyToBytes(data);
  const body = converted instanceof Promise ? await converted : converted;
  if (!body) return unstorable;
  const tags = entryTags(request.tags, options.tagHeader ? head.headers[options.tagHeader] : undefined);
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
    keys.entry,
  );
  if (bytes.length > options.maxEntryBytes) return unstorable;
  const indexes = [keys.variants];
  for (const tag of tags) indexes.push(tagIndexKey(options.prefix, tag));
  let leaseReleased = false;
  let result: unknown;
  // Written from now on (a failed write is forgotten at the next read, which misses).
  notePresence(state, keys, true);
  if (guard.store.writeFill) {
    // One call: entry, its slot's indexes, the announcement, and the lease release.
    dropLocal(state, keys.entry);
    const write: FillWrite = {
      key: keys.entry,
      value: bytes,
      ttlMs: keepMs,
      indexes,
      announce: announcement(state, keys.entry),
    };
    if (lease) write.lease = { key: keys.lease, token: lease.token };
    result = await guard.call('set', keys.label, (s) => s.writeFill!(write));
    leaseReleased = lease !== undefined && result !== FAILED;
  } else {
    // The write and the announcement go out back to back: the store has the entry before other processes
    // are told to drop their in-process copy of the key.
    [result] = await Promise.all([
      guard.call('set', keys.label, (s) => s.set(keys.entry, bytes, keepMs, indexes)),
      announce(state, keys.entry),
    ]);
  }
  if (result === FAILED) return { kind: 'failed' };
  // The in-process layer keeps the stored bytes, never the caller's own (mutable) data.
  return { kind: 'stored', entry: state.l1 ? decodeRemembered(state, keys, bytes) : null, leaseReleased };
}

/** The request's tags plus those listed in the tag header, without duplicates. */
function entryTags(requestTags: readonly string[], header: string | string[] | undefined): readonly string[] {
  if (!header) return requestTags;
  const tags = new Set(requestTags);
  for (const tag of (Array.isArray(header) ? header.join(',') : header).split(/[\s,]+/)) if (tag) tags.add(tag);
  return [...tags];
}

function cacheControl(value: string | string[] | undefined): Set<string> {
  const directives = new Set<string>();
  if (!value) return directives;
  for (const part of (Array.isArray(value) ? value.join(',') : value).split(',')) {
    const name = part.split('=')[0]?.trim().toLowerCase();
    if (name) directives.add(name);
  }
  return directives;
}

/**
 * After a `304`: the stored answer with its headers updated (RFC 9111 §3.2) and its freshness renewed (in
 * the mode it was stored in). `null` when the renewed answer may no longer be stored (say the `304` added
 * `no-store`): it still answers this request, but is not written.
 */
export function renewEntry(
  state: CacheState,
  keys: RequestKeys,
  request: ResolvedRequestOptions,
  stored: Entry,
  headers: UpstreamHead['headers'],
  createdAt: number,
  fetchMs: number,
  unkeyedAuthorization: boolean,
): { entry: Entry; bytes: Buffer; ttlMs: number } | null {
  const fresh = freshness(state, request, { status: stored.status, headers }, createdAt, fetchMs, unkeyedAuthorization);
  if (!fresh) return null;
  const bytes = encodeEntry(
    { ...stored, headers: fresh.headers, createdAt, freshUntil: fresh.freshUntil, policy: fresh.policy, fetchMs },
    keys.entry,
  );
  const ttlMs = storeTtlMs(state, request, fresh.freshUntil, fresh.policy, fresh.headers, createdAt);
  if (ttlMs <= 0) return null;
  return { entry: decodeRemembered(state, keys, bytes), bytes, ttlMs };
}

/**
 * Write a renewed entry ({@link renewEntry}) by replacing only its head in the store, where the store can
 * (the body stays there: see `CacheStore.replaceHead`), and release the fill `lease` in the same call.
 * Resolves whether the lease was released. Never rejects.
 */
export async function writeRenewed(
  state: CacheState,
  keys: RequestKeys,
  stored: Entry,
  renewed: { bytes: Buffer; ttlMs: number },
  lease?: { token: string },
): Promise<boolean> {
  const { guard } = state;
  if (guard.store.supports?.('writes') === false) return false;
  notePresence(state, keys, true);
  dropLocal(state, keys.entry);
  const oldHead = storedHead(stored);
  if (guard.store.replaceHead && oldHead && guard.store.supports?.('leases') !== false) {
    const newHead = renewed.bytes.subarray(0, headLength(renewed.bytes));
    const leaseArg = lease ? { key: keys.lease, token: lease.token } : undefined;
    const result = await guard.call('set', keys.label, (s) =>
      s.replaceHead!(keys.entry, oldHead, newHead, renewed.ttlMs, leaseArg),
    );
    return lease !== undefined && result !== FAILED;
  }
  await guard.call('set', keys.label, (s) => s.set(keys.entry, renewed.bytes, renewed.ttlMs, [keys.variants]));
  return false;
}

/** The encoded head of a decoded entry (its bytes sit just before the body in the value it was read from). */
function storedHead(entry: Entry): Uint8Array | null {
  const length = entry.headBytes;
  if (length === undefined || entry.body.byteOffset < length) return null;
  return new Uint8Array(entry.body.buffer, entry.body.byteOffset - length, length);
}
