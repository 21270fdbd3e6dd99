import type { InternalAxiosRequestConfig } from 'axios';
import type { CacheState } from '../api/state.js';
import type { Entry } from '../entries/entry.js';
import { writeEntry } from '../entries/entry-store.js';
import { unkeyedAuthorization } from '../entries/freshness.js';
import type { RequestKeys } from '../entries/key.js';
import { applyNotModified, writeRenewed } from '../entries/renew.js';
import { keepLease, leasesUsable, leaseToken } from '../fleet/lease.js';
import { hasValidator, revalidationHeaders } from '../http/conditional.js';
import type { ResolvedRequestOptions } from '../options/index.js';
import { callUpstream, conditionalConfig, detachedConfig, responseHead } from './upstream.js';

/**
 * Refresh an entry in the background (stale-while-revalidate, early refresh, soft eviction): at most one
 * refresh per key in this process, a few at a time (the others queued: `RefreshQueue`), and — through the
 * fill lease — one for the whole fleet. When the entry has a validator
 * the refresh is a conditional request, and a `304` renews it without its body. A failed refresh leaves
 * the stored copy as it was. Never rejects.
 */
export function revalidate(
  state: CacheState,
  keys: RequestKeys,
  request: ResolvedRequestOptions,
  config: InternalAxiosRequestConfig,
  seen: Entry,
): void {
  if (state.refreshing.has(keys.entry)) return;
  // A few at a time (see RefreshQueue): the rest wait their turn.
  const queued = state.refreshQueue.add(() =>
    refresh(state, keys, request, config, seen)
      .catch(() => {})
      .finally(() => state.refreshing.delete(keys.entry)),
  );
  if (queued) state.refreshing.add(keys.entry);
}

async function refresh(
  state: CacheState,
  keys: RequestKeys,
  request: ResolvedRequestOptions,
  config: InternalAxiosRequestConfig,
  seen: Entry,
): Promise<void> {
  const { guard, options } = state;
  const token = leaseToken();
  let leased = leasesUsable(state, keys);
  if (leased) {
    // Lease and re-read in one round trip, in that order (as in coordinateFill): if another process has
    // refreshed the entry since we read it, its newer copy is there and there is nothing to do.
    const [lease, current] = await Promise.all([
      guard.call('lease', keys, (s) => s.acquireLease!(keys.lease, token, options.lockTtlMs)),
      state.entries.read(keys),
    ] as const);
    // Another process is refreshing it. (A lease call that failed or timed out may still have taken the
    // lease: refresh anyway and release it, rather than leave a lease nobody will release.)
    if (lease === 'held' || lease === 'uncacheable') return;
    if (current && current.createdAt > seen.createdAt) {
      await guard.call('release', keys, (s) => s.releaseLease!(keys.lease, token));
      return;
    }
  }
  state.counters.refreshes++;
  try {
    // Nobody waits for this call: bound it by the triggering request's timeout, or by the lease.
    const timeout = config.timeout && config.timeout > 0 ? config.timeout : options.lockWaitMs;
    const detached = detachedConfig(config, { timeout });
    const conditional = hasValidator(seen.headers);
    const stopRenewing = leased ? keepLease(state, keys, { token }) : null;
    const result = await callUpstream(
      state,
      conditional ? conditionalConfig(state.axios, detached, revalidationHeaders(seen.headers)) : detached,
    );
    stopRenewing?.();
    if (!result.ok || result.response.status >= 500) return;
    if (result.response.status === 304 && conditional) {
      const renewed = applyNotModified(
        state,
        keys,
        request,
        config,
        seen,
        result.response.headers,
        result.fetchMs,
      )?.renewed;
      if (!renewed) return;
      state.counters.revalidations++;
      state.l1?.set(keys.entry, renewed.entry, Date.now());
      if (await writeRenewed(state, keys, seen, renewed, leased ? { token } : undefined)) leased = false;
      return;
    }
    const written = await writeEntry(
      state,
      keys,
      request,
      responseHead(result.response, config),
      result.response.data,
      Date.now(),
      result.fetchMs,
      leased ? { token } : undefined,
      unkeyedAuthorization(state.options, request, config),
    );
    if (written.kind === 'stored') {
      if (written.entry) state.l1?.set(keys.entry, written.entry, Date.now());
      if (written.leaseReleased) leased = false;
    } else if (written.kind === 'failed' && written.entry) {
      state.l1?.set(keys.entry, written.entry, Date.now(), true); // the store is failing: for grace
    }
  } finally {
    if (leased) await guard.call('release', keys, (s) => s.releaseLease!(keys.lease, token));
  }
}
