import { bodyToBytes, decodeEntry, type Entry, encodeEntry } from './entry.js';
import type { CacheEntryError } from './errors.js';
import { announce } from './invalidation.js';
import { type RequestKeys, tagIndexKey } from './key.js';
import type { ResolvedRequestOptions } from './options.js';
import type { ResponseHead } from './replay.js';
import type { CacheState } from './state.js';
import { FAILED } from './store-guard.js';

/** Read and decode the entry of a request. `null` for a miss, a store failure or an unusable value. */
export async function readEntry(state: CacheState, keys: RequestKeys): Promise<Entry | null> {
  const raw = await state.guard.call('get', keys.label, (store) => store.get(keys.entry));
  if (raw === FAILED || raw === null) return null;
  try {
    return decodeEntry(raw, keys.label);
  } catch (error) {
    state.counters.badEntries++;
    state.guard.report(error as CacheEntryError, 'get', keys.label);
    return null;
  }
}

/** Extra time an entry is kept in the store past freshness: the longest stale window that may use it. */
export function staleWindowMs(state: CacheState, request: ResolvedRequestOptions): number {
  return Math.max(
    request.staleWhileRevalidateMs ?? state.options.staleWhileRevalidateMs,
    request.staleIfErrorMs ?? state.options.staleIfErrorMs,
  );
}

/**
 * Store an upstream answer if it may be stored (status, Cache-Control, body type, size), and announce the
 * overwrite to the fleet's in-process layers. Resolves to the stored entry (decoded only when this
 * instance has an `l1`), or `null` when nothing was stored. Never rejects.
 */
export async function writeEntry(
  state: CacheState,
  keys: RequestKeys,
  request: ResolvedRequestOptions,
  head: ResponseHead,
  data: unknown,
  createdAt: number,
  fetchMs: number,
): Promise<Entry | null> {
  const { options, guard } = state;
  if (!options.isStorableStatus(head.status)) return null;
  const directives = cacheControl(head.headers['cache-control']);
  if (directives.has('no-store') || (options.shared && directives.has('private'))) return null;
  const body = await bodyToBytes(data);
  if (!body) return null;
  const ttlMs = request.ttlMs ?? options.ttlMs;
  const tags = entryTags(request.tags, options.tagHeader ? head.headers[options.tagHeader] : undefined);
  const bytes = encodeEntry({
    ...head,
    headers: { ...head.headers },
    createdAt,
    freshUntil: createdAt + ttlMs,
    fetchMs,
    tags,
    bodyKind: body.kind,
    blobType: body.blobType,
    body: body.bytes,
  });
  if (bytes.length > options.maxEntryBytes) return null;
  const indexes = [keys.variants];
  for (const tag of tags) indexes.push(tagIndexKey(options.prefix, tag));
  const keepMs = ttlMs + staleWindowMs(state, request);
  // The write and the announcement go out back to back: Redis stores before it tells the other processes
  // to drop their in-process copy of the key.
  const [result] = await Promise.all([
    guard.call('set', keys.label, (s) => s.set(keys.entry, bytes, keepMs, indexes)),
    announce(state, keys.entry),
  ]);
  if (result === FAILED) return null;
  // The in-process layer keeps the stored bytes, never the caller's own (mutable) data.
  return state.l1 ? decodeEntry(bytes, keys.label) : STORED;
}

/** What `writeEntry` resolves to when it stored an entry but nobody needs it decoded. */
const STORED = Object.freeze({}) as Entry;

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
