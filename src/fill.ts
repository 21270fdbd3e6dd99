import { AxiosError, CanceledError, type InternalAxiosRequestConfig, isCancel } from 'axios';
import { type Flight, takeOwner } from './coalesce.js';
import type { Entry } from './entry.js';
import { expectMiss, notePresence, readEntry, writeEntry } from './entry-store.js';
import { coordinateFill, type HeldLease, keepLease, type LeaseAnswer, readOrLease, releaseFill } from './fleet.js';
import type { RequestKeys } from './key.js';
import type { ResolvedRequestOptions } from './options.js';
import { copyData, entryOutcome, type Outcome } from './outcome.js';
import { revalidate } from './revalidate.js';
import type { CacheState } from './state.js';
import { callUpstream, responseHead } from './upstream.js';
import { varyMatches } from './vary.js';

/**
 * Produce the answer to a request: from the store (fresh, or stale within a window), from another
 * process's fill (fleet coalescing), or from upstream (then stored). Never rejects: failures become an
 * `error` outcome. `flight` is the in-process flight this fill serves, or `null` when coalescing is off.
 */
export async function fill(
  state: CacheState,
  keys: RequestKeys,
  request: ResolvedRequestOptions,
  config: InternalAxiosRequestConfig,
  flight: Flight<Outcome> | null,
): Promise<Outcome> {
  const { options } = state;
  const staleIfErrorMs = request.staleIfErrorMs ?? options.staleIfErrorMs;
  let stale: Entry | null = null;

  // With coalescing, a read that will probably miss also takes the fill lease when the entry is absent.
  let first: LeaseAnswer | undefined;
  if (!request.refresh) {
    let entry: Entry | null;
    if (flight && expectMiss(state, keys)) {
      const read = await readOrLease(state, keys);
      entry = read.entry;
      if (read.lease) first = read.lease;
    } else {
      entry = await readEntry(state, keys);
    }
    notePresence(state, keys, entry !== null);
    // Another variant (fetched with other values of the headers its answer varies on) is not this answer.
    if (entry && !varyMatches(entry.vary, config.headers)) entry = null;
    if (entry) {
      const now = Date.now();
      if (now < entry.freshUntil) {
        state.l1?.set(keys.entry, entry, now);
        if (options.earlyRefresh > 0 && refreshEarly(entry, now, options.earlyRefresh)) {
          revalidate(state, keys, request, config, entry.createdAt);
        }
        return entryOutcome(entry, 'store');
      }
      if (now < entry.freshUntil + (request.staleWhileRevalidateMs ?? options.staleWhileRevalidateMs)) {
        revalidate(state, keys, request, config, entry.createdAt);
        return entryOutcome(entry, 'stale');
      }
      if (now < entry.freshUntil + staleIfErrorMs) {
        stale = entry;
        // A caller whose own timeout passes while we fetch gets this copy instead of the timeout error.
        if (flight) flight.fallback = entryOutcome(entry, 'stale');
      }
    }
  }

  let lease: HeldLease | null = null;
  if (flight && !request.refresh) {
    if (flight.waiters === 0) {
      // Taken with the read (or maybe taken, by a call that failed on our side) for nobody: hand it on.
      if (first && first.lease !== 'held' && first.lease !== 'uncacheable') void releaseFill(state, keys, first, false);
      return abandoned(config);
    }
    const plan = await coordinateFill(state, keys, flight, config, first);
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
  const result = await callUpstream(state, upstreamConfig);
  stopRenewing?.();
  const failed = !result.ok || result.response.status >= 500;
  if (failed && stale && Date.now() < stale.freshUntil + staleIfErrorMs) {
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
  void writeEntry(state, keys, request, head, response.data, createdAt, result.fetchMs, lease ?? undefined).then(
    (written) => {
      if (written.kind === 'stored' && written.entry) state.l1?.set(keys.entry, written.entry, Date.now());
      if (lease && !(written.kind === 'stored' && written.leaseReleased)) {
        void releaseFill(state, keys, lease, written.kind !== 'stored');
      }
    },
  );
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
