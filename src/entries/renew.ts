import type { InternalAxiosRequestConfig } from 'axios';
import type { CacheState } from '../api/state.js';
import { notModifiedApplies, updatedHeaders } from '../http/conditional.js';
import type { ResolvedRequestOptions } from '../options/index.js';
import type { UpstreamHead } from '../request/upstream.js';
import { FAILED } from '../stores/guard/guard.js';
import { type Entry, encodeEntry, headLength } from './entry.js';
import { freshness, storeTtlMs, unkeyedAuthorization } from './freshness.js';
import { plainHeaders, storableHeaders } from './headers.js';
import { type RequestKeys, tagIndexKey } from './key.js';
import { entryIndexes } from './variants.js';

/** After a `304`: the stored answer renewed, written back by replacing only its head. */

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
  const fresh = freshness(
    state.options,
    request,
    { status: stored.status, headers },
    createdAt,
    fetchMs,
    unkeyedAuthorization,
  );
  if (!fresh) return null;
  const bytes = encodeEntry(
    { ...stored, headers: fresh.headers, createdAt, freshUntil: fresh.freshUntil, policy: fresh.policy, fetchMs },
    keys,
  );
  const ttlMs = storeTtlMs(state.options, request, fresh.freshUntil, fresh.policy, fresh.headers, createdAt);
  if (ttlMs <= 0) return null;
  return { entry: state.entries.decode(keys, bytes), bytes, ttlMs };
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
  state.entries.notePresence(keys, true);
  state.l1?.supersede(keys.entry);
  const oldHead = storedHead(stored);
  if (guard.store.replaceHead && oldHead && guard.store.supports?.('leases') !== false) {
    const newHead = renewed.bytes.subarray(0, headLength(renewed.bytes));
    const leaseArg = lease ? { key: keys.lease, token: lease.token, ttlMs: state.options.lockTtlMs } : undefined;
    const result = await guard.call('set', keys, (s) =>
      s.replaceHead!(keys.entry, oldHead, newHead, renewed.ttlMs, leaseArg),
    );
    return lease !== undefined && result !== FAILED;
  }
  await guard.call(
    'set',
    keys,
    (s) =>
      s.set(
        keys.entry,
        renewed.bytes,
        renewed.ttlMs,
        entryIndexes(
          s,
          keys,
          stored.tags.map((tag) => tagIndexKey(state.options.prefix, tag)),
        ),
      ),
    renewed.bytes.length,
  );
  return false;
}

/** The encoded head of a decoded entry (its bytes sit just before the body in the value it was read from). */
function storedHead(entry: Entry): Uint8Array | null {
  const length = entry.headBytes;
  const body = entry.storedBody?.bytes ?? entry.body;
  if (length === undefined || body.byteOffset < length) return null;
  return new Uint8Array(body.buffer, body.byteOffset - length, length);
}

/**
 * A `304` answered the revalidation of `stored`: `null` when it is about another representation (its
 * `ETag` is not the stored one: it updates nothing); otherwise the stored headers updated from it
 * (RFC 9111 §3.2) and the renewed entry ({@link renewEntry}; `null` when it may no longer be stored).
 */
export function applyNotModified(
  state: CacheState,
  keys: RequestKeys,
  request: ResolvedRequestOptions,
  config: InternalAxiosRequestConfig,
  stored: Entry,
  responseHeaders: unknown,
  fetchMs: number,
): { headers: Record<string, string | string[]>; createdAt: number; renewed: ReturnType<typeof renewEntry> } | null {
  const fresh = storableHeaders(plainHeaders(responseHeaders));
  if (!notModifiedApplies(stored.headers, fresh)) return null;
  const headers = updatedHeaders(stored.headers, fresh);
  const createdAt = Date.now();
  const auth = unkeyedAuthorization(state.options, request, config);
  return { headers, createdAt, renewed: renewEntry(state, keys, request, stored, headers, createdAt, fetchMs, auth) };
}
