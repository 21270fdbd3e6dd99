import { randomBytes } from 'node:crypto';
import type { InternalAxiosRequestConfig } from 'axios';
import type { CacheState } from '../api/state.js';
import type { Entry } from '../entries/entry.js';
import type { RequestKeys } from '../entries/key.js';
import { varyMatches } from '../entries/vary.js';
import type { RequestDirectives } from '../http/request-directives.js';
import { freshFor } from '../http/reuse.js';
import type { Flight } from '../request/coalesce.js';
import type { Outcome } from '../request/outcome.js';
import { FAILED, type Failed } from '../stores/guard/guard.js';
import type { LeaseState } from '../stores/types.js';

/** How long a hit-for-miss marker tells waiters "go upstream yourselves" after an unstorable answer. */
export const UNCACHEABLE_MARKER_MS = 1000;
const FIRST_POLL_MS = 5;
const MAX_POLL_MS = 20;

const TOKEN_PREFIX = randomBytes(9).toString('base64url');
let tokenCount = 0;

/** A unique lease token: a random per-process prefix and a counter (no crypto call per miss). */
export function leaseToken(): string {
  tokenCount = (tokenCount + 1) % Number.MAX_SAFE_INTEGER;
  return `${TOKEN_PREFIX}${tokenCount.toString(36)}`;
}

/** A fill lease this process holds. */
export interface HeldLease {
  token: string;
}

/** What to do after coordinating with the fleet. */
export type FillPlan =
  | { kind: 'entry'; entry: Entry } // another process filled it meanwhile
  | { kind: 'fetch'; lease: HeldLease | null }; // fetch: as the lease holder, or on our own

/**
 * Fleet-wide single flight. Take the fill lease (`SET NX PX lockTtl` on the request's lease key) and
 * re-read the entry in the same round trip; if another process holds the lease, poll (lease + read, every
 * 5 ms growing to 20 ms) until the entry appears, the lease is released or expires (then take it over),
 * an "uncacheable" marker says to go upstream at once, or `lockWait` runs out (go upstream without a
 * lease). Store trouble at any point means "fetch on our own" (still releasing the lease in case the
 * failed call took it).
 */
export async function coordinateFill(
  state: CacheState,
  keys: RequestKeys,
  flight: Flight<Outcome> | null,
  config: InternalAxiosRequestConfig,
  first?: LeaseAnswer,
  directives?: RequestDirectives,
): Promise<FillPlan> {
  // An entry another process stored is this request's answer only if it is fresh (for this request's own
  // `max-age` / `min-fresh` too) and of this variant.
  const usable = (entry: Entry | null): entry is Entry =>
    entry !== null && freshFor(entry, Date.now(), directives) && varyMatches(entry.vary, config.headers);
  const store = state.guard.store;
  if (!leasesUsable(state)) {
    // Leases stopped working since the first read; a lease that read took (or may have taken, if it failed
    // on our side) is still released after the fetch, never left to stall the fleet.
    const taken = first && first.lease !== 'held' && first.lease !== 'uncacheable';
    return { kind: 'fetch', lease: taken ? { token: first.token } : null };
  }
  const token = first?.token ?? leaseToken();
  const acquire = () =>
    state.guard.call('lease', keys.label, (s) => s.acquireLease!(keys.lease, token, state.options.lockTtlMs));

  // The acquire and the read go out back to back on one connection (one slot on a Cluster), so Redis runs
  // them in that order: if a fill completed before our acquire, the read sees its entry. One round trip.
  const attempt = store.acquireLeaseAndGet
    ? async () => {
        // One atomic call where the store offers it.
        const answer = await state.guard.call('lease', keys.label, (s) =>
          s.acquireLeaseAndGet!(keys.lease, token, state.options.lockTtlMs, keys.entry),
        );
        if (answer === FAILED) return [FAILED, null] as const;
        return [answer.lease, answer.value ? state.entries.decodeOrReport(keys, answer.value) : null] as const;
      }
    : () => Promise.all([acquire(), state.entries.read(keys)] as const);
  let [lease, entry] = first ? ([first.lease, null] as const) : await attempt();
  const deadline = waitDeadline(state, flight);
  let pollMs = FIRST_POLL_MS;
  while (lease === 'held') {
    if (usable(entry)) return { kind: 'entry', entry };
    const left = deadline - Date.now();
    if (left <= 0 || (flight && flight.waiters === 0)) return { kind: 'fetch', lease: null };
    await new Promise((resolve) => setTimeout(resolve, Math.min(pollMs, left)));
    pollMs = Math.min(MAX_POLL_MS, pollMs * 1.5);
    [lease, entry] = await attempt();
  }
  if (lease === 'uncacheable') return usable(entry) ? { kind: 'entry', entry } : { kind: 'fetch', lease: null };
  // A lease call that timed out on our side may still have taken the lease in Redis: keep the token and
  // release it after the fetch (compare-and-delete: harmless if we never held it).
  const held: HeldLease = { token };
  if (usable(entry)) {
    // Filled by another process between our first read and our acquire.
    void releaseFill(state, keys, held, false); // acquired, or maybe (a failed call): compare-and-delete
    return { kind: 'entry', entry };
  }
  return { kind: 'fetch', lease: held };
}

/**
 * Whether fill leases can be used now: the store has them, the server lets us run them (scripting and
 * writes: see `CacheStore.supports`), and writes are not failing (their breaker is closed).
 */
export function leasesUsable(state: CacheState): boolean {
  const store = state.guard.store;
  return store.acquireLease !== undefined && store.supports?.('leases') !== false && state.guard.writesHealthy;
}

/**
 * Until when a flight waits for another process's fill: `lockWait`, but never more than half the time its
 * first waiting caller has left before its own `timeout` — the other half is for its own upstream call,
 * should the holder not deliver (a waiter whose time runs short goes upstream itself instead of failing).
 */
function waitDeadline(state: CacheState, flight: Flight<Outcome> | null): number {
  const now = Date.now();
  let deadline = now + state.options.lockWaitMs;
  const caller = flight && (flight.first.waiting ? flight.first : flight.joiners?.find((c) => c.waiting));
  if (caller?.deadline) deadline = Math.min(deadline, now + Math.max(0, caller.deadline - now) / 2);
  return deadline;
}

/**
 * Keep a held lease alive while its fetch runs: renewed every third of `lockTtl`, so that a short lease
 * covers a slow upstream, and a holder that dies stops renewing and its lease lapses within `lockTtl`.
 * Returns the function that stops renewing.
 */
export function keepLease(state: CacheState, keys: RequestKeys, lease: HeldLease): () => void {
  const store = state.guard.store;
  if (!store.renewLease) return () => {};
  const ttl = state.options.lockTtlMs;
  const timer = setInterval(() => {
    void state.guard.call('lease', keys.label, (s) => s.renewLease!(keys.lease, lease.token, ttl));
  }, ttl / 3);
  timer.unref?.();
  return () => clearInterval(timer);
}

/** A lease call made with the first read ({@link readOrLease}): its token and answer. */
export interface LeaseAnswer {
  token: string;
  lease: LeaseState | Failed;
}

/**
 * The first read of a request that will probably miss, where the store can fold the lease into it: read
 * the entry and, only when it is absent, take the fill lease, in one round trip. `lease` is `null` when
 * the entry was found (or the store failed: then there is no entry either, and the lease may have been
 * taken — the answer says FAILED, and the token is released after the fetch like any other).
 */
export async function readOrLease(
  state: CacheState,
  keys: RequestKeys,
): Promise<{ entry: Entry | null; lease: LeaseAnswer | null }> {
  const token = leaseToken();
  const answer = await state.guard.call('get', keys.label, (s) =>
    s.getOrAcquireLease!(keys.entry, keys.lease, token, state.options.lockTtlMs),
  );
  if (answer === FAILED) return { entry: null, lease: { token, lease: FAILED } };
  if (answer.value) return { entry: state.entries.decodeOrReport(keys, answer.value), lease: null };
  return { entry: null, lease: answer.lease ? { token, lease: answer.lease } : null };
}

/**
 * Release a held lease. `uncacheable`: the answer could not be stored, so leave the "uncacheable" marker
 * for a moment and waiting processes go upstream at once instead of waiting out the lease (hit-for-miss).
 * Otherwise (stored, or we merely gave up) just free it, so that one waiter takes over.
 */
export async function releaseFill(
  state: CacheState,
  keys: RequestKeys,
  lease: HeldLease,
  uncacheable: boolean,
): Promise<void> {
  const store = state.guard.store;
  if (!store.releaseLease) return;
  await state.guard.call('release', keys.label, (s) =>
    s.releaseLease!(keys.lease, lease.token, uncacheable ? UNCACHEABLE_MARKER_MS : 0),
  );
}
