import { AxiosError, CanceledError, type InternalAxiosRequestConfig, isCancel } from 'axios';
import type { CacheState } from '../api/state.js';
import type { Entry } from '../entries/entry.js';
import { writeEntry } from '../entries/entry-store.js';
import { staleWindows, unkeyedAuthorization } from '../entries/freshness.js';
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
  let staleUntil = 0;
  // A stale entry with a validator: the upstream call is a conditional request, and a `304` renews it.
  let revalidating: Entry | null = null;

  // With coalescing, a read that will probably miss also takes the fill lease when the entry is absent.
  let first: LeaseAnswer | undefined;
  if (!request.refresh) {
    let entry: Entry | null;
    if (flight && state.entries.expectMiss(keys)) {
      const started = timings ? performance.now() : 0;
      const read = await readOrLease(state, keys);
      if (timings) timings.storeMs += performance.now() - started;
      entry = read.entry;
      if (read.lease) first = read.lease;
    } else {
      const started = timings ? performance.now() : 0;
      entry = await state.entries.read(keys);
      if (timings) timings.storeMs += performance.now() - started;
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
      const windows = staleWindows(state.options, request, entry.policy);
      if (expired && now < entry.freshUntil + windows.whileRevalidateMs) {
        revalidate(state, keys, request, config, entry);
        return entryOutcome(entry, 'stale');
      }
      if (expired && staleAccepted(entry, now, request.directives)) return entryOutcome(entry, 'stale');
      if (expired && now < entry.freshUntil + windows.ifErrorMs) {
        stale = entry;
        staleUntil = entry.freshUntil + windows.ifErrorMs;
        // A caller whose own timeout passes while we fetch gets this copy instead of the timeout error.
        if (flight) flight.fallback = entryOutcome(entry, 'stale');
      }
      if (options.keepMs > 0 && hasValidator(entry.headers)) revalidating = entry;
    }
  }

  let lease: HeldLease | null = null;
  if (flight && !request.refresh) {
    if (flight.waiters === 0) {
      // Taken with the read (or maybe taken, by a call that failed on our side) for nobody: hand it on.
      if (first && first.lease !== 'held' && first.lease !== 'uncacheable') void releaseFill(state, keys, first, false);
      return abandoned(config);
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
      return abandoned(config);
    }
    // The call runs with one waiting caller's own config, as given: its timeout, signal and cancel token
    // act through the adapter exactly as without the cache, and it gets the adapter's own answer or error.
    const owner = takeOwner(flight);
    if (!owner) {
      if (lease) void releaseFill(state, keys, lease, false);
      return abandoned(config);
    }
    upstreamConfig = owner;
  }

  const stopRenewing = lease ? keepLease(state, keys, lease) : null;
  let result: UpstreamResult;
  if (revalidating) {
    result = await callUpstream(state, conditionalConfig(upstreamConfig, revalidationHeaders(revalidating.headers)));
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
  if (failed && stale && Date.now() < staleUntil) {
    if (lease) void releaseFill(state, keys, lease, false);
    return entryOutcome(stale, 'stale');
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
  return error instanceof AxiosError && (code === AxiosError.ETIMEDOUT || code === AxiosError.ECONNABORTED);
}

/** XFetch: refresh early with a probability that grows as expiry nears, scaled by the last fetch time. */
function refreshEarly(entry: Entry, now: number, beta: number): boolean {
  return now - entry.fetchMs * beta * Math.log(Math.random()) >= entry.freshUntil;
}

function abandoned(config: InternalAxiosRequestConfig): Outcome {
  return { kind: 'error', error: new CanceledError(undefined, config), config: null };
}
