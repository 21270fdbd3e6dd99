import { type InternalAxiosRequestConfig, isAxiosError, isCancel } from 'axios';
import type { CacheState } from '../api/state.js';
import type { Entry } from '../entries/entry.js';
import { writeEntry } from '../entries/entry-store.js';
import { staleUntil, unkeyedAuthorization } from '../entries/freshness.js';
import type { RequestKeys } from '../entries/key.js';
import { applyNotModified, writeRenewed } from '../entries/renew.js';
import { varyMatches } from '../entries/vary.js';
import {
  coordinateFill,
  type HeldLease,
  keepLease,
  type LeaseAnswer,
  readOrLease,
  releaseFill,
} from '../fleet/lease.js';
import { hasValidator, revalidationHeaders } from '../http/conditional.js';
import { freshFor, staleAccepted } from '../http/reuse.js';
import { measuring, type Timings } from '../observe/tracing.js';
import type { ResolvedRequestOptions } from '../options/index.js';
import { FAILED } from '../stores/guard/guard.js';
import { type Flight, takeOwner } from './coalesce.js';
import { copyData, entryOutcome, type Outcome } from './outcome.js';
import { revalidate } from './revalidate.js';
import { asCallersOwn, callUpstream, conditionalConfig, responseHead, type UpstreamResult } from './upstream.js';

/**
 * Produce the answer to a request: from the store (fresh, or stale within a window), from another
 * process's fill (fleet coalescing), or from upstream (then stored). Never rejects: failures become an
 * `error` outcome. `flight` is the in-process flight this fill serves, or `null` when coalescing is off.
 */
export function fill(
  state: CacheState,
  keys: RequestKeys,
  request: ResolvedRequestOptions,
  config: InternalAxiosRequestConfig,
  flight: Flight<Outcome> | null,
): Promise<Outcome> {
  if (!measuring()) return fillOnce(state, keys, request, config, flight, undefined);
  const timings: Timings = { storeMs: 0, leaseWaitMs: 0 };
  return fillOnce(state, keys, request, config, flight, timings).then((outcome) => {
    if (outcome.kind === 'response') outcome.timings = timings;
    return outcome;
  });
}

async function fillOnce(
  state: CacheState,
  keys: RequestKeys,
  request: ResolvedRequestOptions,
  config: InternalAxiosRequestConfig,
  flight: Flight<Outcome> | null,
  timings: Timings | undefined,
): Promise<Outcome> {
  const { options } = state;
  // A stale entry that may answer instead of an upstream failure (stale-if-error), until this time.
  let stale: Entry | null = null;
  let staleIfErrorUntil = 0;
  // A stale entry with a validator: the upstream call is a conditional request, and a `304` renews it.
  let revalidating: Entry | null = null;

  // With coalescing, a read that will probably miss also takes the fill lease when the entry is absent.
  let first: LeaseAnswer | undefined;
  // The store could not be read within its budget (stalled, slower than it): this request makes no more
  // store calls before its answer — no lease, no wait for the fleet — so what it spends in the store is
  // one call's budget, not two.
  let storeFailed = false;
  if (!request.refresh) {
    let entry: Entry | null;
    let readFailed: boolean;
    if (flight && state.entries.expectMiss(keys)) {
      const started = timings ? performance.now() : 0;
      const read = await readOrLease(state, keys);
      if (timings) timings.storeMs += performance.now() - started;
      entry = read.entry;
      if (read.lease) first = read.lease;
      readFailed = read.lease?.lease === FAILED;
    } else {
      const started = performance.now();
      const read = await state.entries.readOrFailed(keys);
      const spent = performance.now() - started;
      if (timings) timings.storeMs += spent;
      // Failed after spending its budget (stalled, slow): no second call. A failure that came back at once
      // (a rejected command) leaves the lease call to find out — it re-reads the entry.
      storeFailed = read === FAILED && spent >= options.storeTimeoutMs;
      readFailed = read === FAILED;
      entry = read === FAILED ? null : read;
    }
    if (state.l1?.graceMs) {
      if (!readFailed) {
        state.graceCalls.delete(keys.entry); // the store answers for this key again
      } else {
        // The store cannot be read: this process's copy, within its grace, answers (marked stale); the
        // origin is called at most once per key until the store answers again.
        const copy = state.l1.getForGrace(keys.entry, Date.now());
        if (copy && varyMatches(copy.vary, config.headers)) {
          if (first && first.lease === FAILED) void releaseFill(state, keys, first, false);
          if (!state.graceCalls.has(keys.entry)) {
            noteGraceCall(state, keys);
            revalidate(state, keys, request, config, copy);
          }
          return entryOutcome(copy, 'stale', 'store-unavailable');
        }
        noteGraceCall(state, keys); // this request goes upstream: its answer is kept for grace
      }
    }
    state.entries.notePresence(keys, entry !== null);
    // Another variant (fetched with other values of the headers its answer varies on) is not this answer.
    if (entry && !varyMatches(entry.vary, config.headers)) entry = null;
    if (entry) {
      const now = Date.now();
      if (freshFor(entry, now, request.directives)) {
        state.l1?.set(keys.entry, entry, now);
        if (options.earlyRefresh > 0 && refreshEarly(entry, now, options.earlyRefresh)) {
          revalidate(state, keys, request, config, entry);
        }
        return entryOutcome(entry, 'store');
      }
      // Past its freshness (or fresh, but not enough for this request's own `max-age` / `min-fresh`).
      const expired = now >= entry.freshUntil;
      const until = staleUntil(state.options, request, entry);
      if (expired && now < until.whileRevalidate) {
        revalidate(state, keys, request, config, entry);
        return entryOutcome(entry, 'stale', entry.softEvicted ? 'soft-evicted' : 'while-revalidate');
      }
      if (expired && staleAccepted(entry, now, request.directives)) return entryOutcome(entry, 'stale', 'max-stale');
      if (expired && now < until.ifError) {
        stale = entry;
        staleIfErrorUntil = until.ifError;
        // A caller whose own timeout passes while we fetch gets this copy instead of the timeout error.
        if (flight) flight.fallback = entryOutcome(entry, 'stale', 'if-error');
      }
      if (options.keepMs > 0 && hasValidator(entry.headers)) revalidating = entry;
    }
  }

  let lease: HeldLease | null = null;
  if (flight && !request.refresh && !storeFailed) {
    if (flight.waiters === 0) {
      // Taken with the read (or maybe taken, by a call that failed on our side) for nobody: hand it on.
      if (first && first.lease !== 'held' && first.lease !== 'uncacheable') void releaseFill(state, keys, first, false);
      return abandoned(state, config);
    }
    const started = timings ? performance.now() : 0;
    const plan = await coordinateFill(state, keys, flight, config, first, request.directives);
    if (timings) timings.leaseWaitMs += performance.now() - started;
    if (plan.kind === 'entry') {
      state.l1?.set(keys.entry, plan.entry, Date.now());
      return entryOutcome(plan.entry, 'fleet');
    }
    lease = plan.lease;
  }

  let upstreamConfig = config;
  if (flight) {
    // Everyone who wanted this answer has already given up: do not call upstream for nobody.
    if (flight.waiters === 0) {
      if (lease) void releaseFill(state, keys, lease, false); // nothing learnt: hand the lease on
      return abandoned(state, config);
    }
    // The call runs with one waiting caller's own config, as given: its timeout, signal and cancel token
    // act through the adapter exactly as without the cache, and it gets the adapter's own answer or error.
    const owner = takeOwner(flight);
    if (!owner) {
      if (lease) void releaseFill(state, keys, lease, false);
      return abandoned(state, config);
    }
    upstreamConfig = owner;
  }

  const stopRenewing = lease ? keepLease(state, keys, lease) : null;
  let result: UpstreamResult;
  if (revalidating) {
    result = await callUpstream(
      state,
      conditionalConfig(state.axios, upstreamConfig, revalidationHeaders(revalidating.headers)),
    );
    if (result.ok && result.response.status === 304) {
      const renewed = renewed304(state, keys, request, upstreamConfig, revalidating, result, lease);
      if (renewed) {
        stopRenewing?.();
        return renewed;
      }
      // A `304` about another representation than the stored one: ask again, unconditionally.
      result = await callUpstream(state, upstreamConfig);
    } else {
      asCallersOwn(result, upstreamConfig);
    }
  } else {
    result = await callUpstream(state, upstreamConfig);
  }
  stopRenewing?.();
  const failed = !result.ok || result.response.status >= 500;
  if (failed && stale && Date.now() < staleIfErrorUntil) {
    if (lease) void releaseFill(state, keys, lease, false);
    return entryOutcome(stale, 'stale', 'if-error');
  }
  if (!result.ok) {
    // The owner's own cancellation or timeout says nothing about the answer: hand the lease on rather than
    // send the whole fleet upstream with the "uncacheable" marker.
    if (lease) void releaseFill(state, keys, lease, !callersOwnFailure(result.error));
    return { kind: 'error', error: result.error, config: upstreamConfig };
  }

  const { response } = result;
  const createdAt = Date.now();
  const head = responseHead(response, upstreamConfig);
  // The write goes out now, but the callers do not wait for it: a miss costs the upstream call plus the
  // lookups, not the write's round trip too. A later request on the same store still sees the entry: the
  // store applies calls in the order they are made (see CacheStore), and this one was made first.
  void writeEntry(
    state,
    keys,
    request,
    head,
    response.data,
    createdAt,
    result.fetchMs,
    lease ?? undefined,
    unkeyedAuthorization(state.options, request, upstreamConfig),
  ).then((written) => {
    if (written.kind === 'stored' && written.entry) state.l1?.set(keys.entry, written.entry, Date.now());
    // Not written (the store is failing): with `l1.grace`, kept to answer while it is.
    if (written.kind === 'failed' && written.entry) state.l1?.set(keys.entry, written.entry, Date.now(), true);
    if (lease && !(written.kind === 'stored' && written.leaseReleased)) {
      void releaseFill(state, keys, lease, written.kind !== 'stored');
    }
  });
  const data = response.data;
  return {
    kind: 'response',
    source: 'upstream',
    head,
    body: () => copyData(data),
    bodyBytes: 0,
    createdAt,
    request: response.request,
    upstream: { config: upstreamConfig, response, rejection: result.rejection },
  };
}

/** Most keys remembered as called while the store could not be read; beyond, the set starts over. */
const GRACE_CALLS_MAX = 10_000;

function noteGraceCall(state: CacheState, keys: RequestKeys): void {
  if (state.graceCalls.size >= GRACE_CALLS_MAX) state.graceCalls.clear();
  state.graceCalls.add(keys.entry);
}

/**
 * A `304` answered a revalidation: the stored answer, its headers updated and its freshness renewed, is the
 * answer of every caller (the body did not travel); written back by replacing its head, which also releases
 * the fill lease. `null` when the `304` is about another representation than the stored one.
 */
function renewed304(
  state: CacheState,
  keys: RequestKeys,
  request: ResolvedRequestOptions,
  config: InternalAxiosRequestConfig,
  stored: Entry,
  result: UpstreamResult & { ok: true },
  lease: HeldLease | null,
): Outcome | null {
  const applied = applyNotModified(state, keys, request, config, stored, result.response.headers, result.fetchMs);
  if (!applied) return null;
  const { renewed } = applied;
  if (!renewed) {
    if (lease) void releaseFill(state, keys, lease, true);
    // Not storable any more, but the `304` still says the stored body is current: it answers this request.
    const { headers, createdAt } = applied;
    return entryOutcome({ ...stored, headers, createdAt, freshUntil: createdAt }, 'revalidated');
  }
  state.l1?.set(keys.entry, renewed.entry, Date.now());
  void writeRenewed(state, keys, stored, renewed, lease ?? undefined).then((released) => {
    if (lease && !released) void releaseFill(state, keys, lease, false);
  });
  return entryOutcome(renewed.entry, 'revalidated');
}

/**
 * Whether an upstream failure is the caller's own doing: its cancellation, or its own `timeout` passing.
 * Other callers of the flight did not ask for that: they try again rather than share the error.
 */
export function callersOwnFailure(error: unknown): boolean {
  if (isCancel(error)) return true;
  const code = (error as { code?: unknown } | null)?.code;
  // Any copy of axios (the instance's may not be this library's): by its marker, not by class.
  return isAxiosError(error) && (code === 'ETIMEDOUT' || code === 'ECONNABORTED');
}

/** XFetch: refresh early with a probability that grows as expiry nears, scaled by the last fetch time. */
function refreshEarly(entry: Entry, now: number, beta: number): boolean {
  return now - entry.fetchMs * beta * Math.log(Math.random()) >= entry.freshUntil;
}

function abandoned(state: CacheState, config: InternalAxiosRequestConfig): Outcome {
  return { kind: 'error', error: new state.axios.CanceledError(undefined, config), config: null };
}
