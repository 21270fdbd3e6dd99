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
import { type LeaseState, type LeaseWatch, UNCACHEABLE_MARKER_MS } from '../stores/types.js';

export { UNCACHEABLE_MARKER_MS } from '../stores/types.js';

const FIRST_POLL_MS = 5;
const MAX_POLL_MS = 20;
/**
 * While notified of the fill (see `CacheStore.watchLease`), a waiter still polls this often — or when the
 * lease would lapse, if sooner: the slow fallback for a holder that cannot notify (an older version
 * during a rolling deploy, an ACL without PUBLISH) or that died (a lapsing lease is not announced).
 */
const NOTIFIED_POLL_MS = 250;

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
 * re-read the entry in the same round trip. If another process holds the lease, wait — woken by the
 * holder's write where the store can notify (`watchLease`: one subscription to the lease's channel, then
 * one re-check, then one read when told), polling (lease + read, every 5 ms growing to 20 ms) where it
 * cannot — until the entry appears, the lease is released or expires (then take it over), an
 * "uncacheable" marker says to go upstream at once, or `lockWait` runs out (go upstream without a lease).
 * Store trouble at any point means "fetch on our own" (still releasing the lease in case the failed call
 * took it).
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
  if (!leasesUsable(state, keys)) {
    // Leases stopped working since the first read; a lease that read took (or may have taken, if it failed
    // on our side) is still released after the fetch, never left to stall the fleet.
    const taken = first && first.lease !== 'held' && first.lease !== 'uncacheable';
    return { kind: 'fetch', lease: taken ? { token: first.token } : null };
  }
  let token = first?.token ?? leaseToken();
  const acquire = () =>
    state.guard.call('lease', keys, (s) => s.acquireLease!(keys.lease, token, state.options.lockTtlMs));

  // The acquire and the read go out back to back on one connection (one slot on a Cluster), so Redis runs
  // them in that order: if a fill completed before our acquire, the read sees its entry. One round trip.
  type Attempt = readonly [LeaseState | Failed, Entry | null, string | undefined, number | undefined];
  const attempt = store.acquireLeaseAndGet
    ? async (): Promise<Attempt> => {
        // One atomic call where the store offers it.
        const answer = await state.guard.call('lease', keys, (s) =>
          s.acquireLeaseAndGet!(keys.lease, token, state.options.lockTtlMs, keys.entry),
        );
        if (answer === FAILED) return [FAILED, null, undefined, undefined];
        const entry = answer.value ? state.entries.decodeOrReport(keys, answer.value) : null;
        return [answer.lease, entry, answer.holder, answer.leaseMs];
      }
    : async (): Promise<Attempt> => [
        ...(await Promise.all([acquire(), state.entries.read(keys)] as const)),
        undefined,
        undefined,
      ];
  let [lease, entry, holder, leaseMs]: Attempt = first
    ? [first.lease, null, first.holder, first.leaseMs]
    : await attempt();
  let deadline = isSuccessor(holder) ? successorDeadline(state, flight) : waitDeadline(state, flight);
  // Held by another (a definite answer: our token took nothing): should this flight take the lease over
  // later, its token says so — other waiters then follow it even if they never saw the holder before.
  if (lease === 'held') token = successorToken(token);
  let pollMs = FIRST_POLL_MS;
  let watch: LeaseWatch | null = null;
  let watchTried = false;
  try {
    while (lease === 'held') {
      if (usable(entry)) return { kind: 'entry', entry };
      const left = deadline - Date.now();
      if (left <= 0 || (flight && flight.waiters === 0)) return { kind: 'fetch', lease: null };
      const seen = holder;
      if (!watchTried) {
        // The first time the lease is found held: subscribe to its notifications, then look once more
        // (the fill may have landed before the subscription did). Waiting within the store's budget.
        watchTried = true;
        watch = await watchFill(state, keys, Math.min(left, state.options.storeTimeoutMs));
        if (!watch) await sleep(Math.min(pollMs, left));
      } else if (watch) {
        const notice = await watch.next(Math.min(left, fallbackPollMs(leaseMs)));
        if (notice.event === 'lost') {
          // Notifications stopped (the subscription's connection dropped): poll from now on.
          watch.close();
          watch = null;
        } else if (notice.event === 'filled') {
          // Written: the entry came with the notice (from the holder this waiter saw: anyone else's notice is
          // only a hint), or one read — not a lease call, which would take the lease the write just freed.
          const sent = notice.value && notice.holder === holder ? state.entries.decodeNotice(keys, notice.value) : null;
          const written = usable(sent) ? sent : await state.entries.read(keys);
          if (usable(written)) return { kind: 'entry', entry: written };
        }
      } else {
        await sleep(Math.min(pollMs, left));
        pollMs = Math.min(MAX_POLL_MS, pollMs * 1.5);
      }
      [lease, entry, holder, leaseMs] = await attempt();
      // Another process took over the lease from a holder that gave up or died: its call started before any
      // this one could make now, so wait for its answer until this flight's own time is up (not half of it).
      if (lease === 'held' && holder !== undefined && holder !== seen && (seen !== undefined || isSuccessor(holder))) {
        deadline = successorDeadline(state, flight);
      }
    }
  } finally {
    watch?.close();
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
 * Subscribe to the notifications of a fill another process holds, waiting at most `withinMs` for the
 * server to confirm; `null` when the store cannot notify (no `watchLease`, refused, not confirmed in time).
 */
async function watchFill(state: CacheState, keys: RequestKeys, withinMs: number): Promise<LeaseWatch | null> {
  const watch = state.guard.store.watchLease?.(keys.lease) ?? null;
  if (!watch) return null;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const confirmed = await Promise.race([
    watch.ready,
    new Promise<false>((resolve) => {
      timer = setTimeout(resolve, withinMs, false);
    }),
  ]);
  clearTimeout(timer);
  if (confirmed) return watch;
  watch.close();
  return null;
}

/** How long a notified waiter waits before it looks for itself: {@link NOTIFIED_POLL_MS}, or the lease's lapse. */
function fallbackPollMs(leaseMs: number | undefined): number {
  return leaseMs === undefined ? NOTIFIED_POLL_MS : Math.max(1, Math.min(NOTIFIED_POLL_MS, leaseMs + 2));
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Whether fill leases can be used now: the store has them, the server lets us run them (scripting and
 * writes: see `CacheStore.supports`), and writes are not failing (their breaker is closed).
 */
export function leasesUsable(state: CacheState, keys: RequestKeys): boolean {
  const store = state.guard.store;
  return store.acquireLease !== undefined && store.supports?.('leases') !== false && state.guard.writesHealthy(keys);
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

/** The suffix of a lease token taken over from a holder that went away (see {@link successorToken}). */
const SUCCESSOR = '~';

/** The token a waiter takes a lease over with: marked, so that every waiter knows a successor holds it. */
function successorToken(token: string): string {
  return token.endsWith(SUCCESSOR) ? token : `${token}${SUCCESSOR}`;
}

function isSuccessor(holder: string | undefined): boolean {
  return holder?.endsWith(SUCCESSOR) === true;
}

/**
 * Until when a flight waits for a successor's fill (a holder took over from one that died): `lockWait` from
 * now, but no longer than its first waiting caller's own `timeout` — going upstream itself now could only
 * answer later than the call the successor already made.
 */
function successorDeadline(state: CacheState, flight: Flight<Outcome> | null): number {
  const now = Date.now();
  let deadline = now + state.options.lockWaitMs;
  const caller = flight && (flight.first.waiting ? flight.first : flight.joiners?.find((c) => c.waiting));
  if (caller?.deadline) deadline = Math.min(deadline, caller.deadline);
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
    void state.guard.call('lease', keys, (s) => s.renewLease!(keys.lease, lease.token, ttl));
  }, ttl / 3);
  timer.unref?.();
  return () => clearInterval(timer);
}

/** A lease call made with the first read ({@link readOrLease}): its token and answer. */
export interface LeaseAnswer {
  token: string;
  lease: LeaseState | Failed;
  /** Who holds it, when `held` and the store tells. */
  holder?: string;
  /** How long it has left, when `held` and the store tells. */
  leaseMs?: number;
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
  const answer = await state.guard.call('get', keys, (s) =>
    s.getOrAcquireLease!(keys.entry, keys.lease, token, state.options.lockTtlMs),
  );
  if (answer === FAILED) return { entry: null, lease: { token, lease: FAILED } };
  if (answer.value) return { entry: state.entries.decodeOrReport(keys, answer.value), lease: null };
  if (!answer.lease) return { entry: null, lease: null };
  const lease: LeaseAnswer = { token, lease: answer.lease };
  if (answer.holder !== undefined) lease.holder = answer.holder;
  if (answer.leaseMs !== undefined) lease.leaseMs = answer.leaseMs;
  return { entry: null, lease };
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
  await state.guard.call('release', keys, (s) =>
    s.releaseLease!(keys.lease, lease.token, uncacheable ? UNCACHEABLE_MARKER_MS : 0),
  );
}
