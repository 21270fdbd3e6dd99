import type { AxiosError, CanceledError, InternalAxiosRequestConfig } from 'axios';
import type { AxiosModule } from '../api/axios-copy.js';

/** One caller attending a flight. */
export interface Caller {
  readonly config: InternalAxiosRequestConfig;
  /** Wall-clock time (ms) at which the caller's own `timeout` passes, or 0 for none. */
  readonly deadline: number;
  /** Still waiting for the flight (false once it gave up). */
  waiting: boolean;
  /** Stop applying the caller's signal, cancel token and timeout to its wait. */
  stopWatching: () => void;
}

/**
 * One in-process fill of a key, shared by every identical request that arrives while it runs. The work
 * never rejects (it resolves to an outcome). When it goes upstream, it does so with the config of one
 * caller, the flight's {@link Flight.owner}, exactly as given: that caller's own timeout, signal and cancel
 * token act on the call through the adapter, as without the cache.
 */
export interface Flight<T> {
  readonly promise: Promise<T>;
  /** Callers currently waiting. */
  waiters: number;
  settled: boolean;
  /** The caller that started the flight. */
  readonly first: Caller;
  /** The callers that joined it, in order of arrival (`null` until one does). */
  joiners: Caller[] | null;
  /** The caller whose own config makes the upstream call, once the work goes upstream. */
  owner: Caller | null;
  /**
   * What a caller whose own `timeout` passes gets instead of the timeout error (a stale entry allowed by
   * stale-if-error), when the work has found one.
   */
  fallback: T | null;
  /**
   * Called when the last waiter leaves before the flight settled: removes the flight from the map, so that
   * a newcomer starts a fresh one instead of joining a flight nobody waits for.
   */
  abandon: () => void;
}

/**
 * Make the first caller still waiting the owner of the upstream call: from now on it no longer gives up
 * through the flight (its own signal and timeout reach the adapter with its config). Its config, or
 * `null` when nobody waits.
 */
export function takeOwner<T>(flight: Flight<T>): InternalAxiosRequestConfig | null {
  let owner: Caller | undefined = flight.first.waiting ? flight.first : undefined;
  if (!owner && flight.joiners) owner = flight.joiners.find((caller) => caller.waiting);
  if (!owner) return null;
  owner.stopWatching();
  flight.owner = owner;
  return owner.config;
}

/** The in-flight map: key → flight. An entry is removed the moment its flight settles. */
export class FlightMap<T> {
  private readonly flights = new Map<string, Flight<T>>();

  /**
   * `adapter`: the kind of the instance's own adapter, whose errors a caller that gives up gets; `axios`:
   * the copy of axios the instance was made by (whose classes those errors are).
   */
  constructor(
    private readonly adapter: string,
    private readonly axios: AxiosModule,
  ) {}

  /** Number of flights running (0 when idle: nothing leaks). */
  get size(): number {
    return this.flights.size;
  }

  /**
   * Wait, on behalf of the caller of `config`, for the flight running for `key`, or start one with `work`.
   * The caller is counted as a waiter before `work`
   * starts, so the work sees at least one waiter; it may leave early through its own signal, cancel token
   * or `deadline` (see {@link watchCaller}), except once it owns the upstream call.
   */
  attend(
    key: string,
    config: InternalAxiosRequestConfig,
    deadline: number,
    work: (flight: Flight<T>) => Promise<T>,
  ): Promise<T> {
    const running = this.flights.get(key);
    if (running) {
      running.waiters++;
      const caller: Caller = { config, deadline, waiting: true, stopWatching: noop };
      if (running.joiners) running.joiners.push(caller);
      else running.joiners = [caller];
      return followFlight(running, caller, this.adapter, this.axios);
    }
    const first: Caller = { config, deadline, waiting: true, stopWatching: noop };
    const flight: Flight<T> = {
      promise: undefined as unknown as Promise<T>,
      waiters: 1,
      settled: false,
      first,
      joiners: null,
      owner: null,
      fallback: null,
      abandon: () => {
        if (this.flights.get(key) === flight) this.flights.delete(key);
      },
    };
    this.flights.set(key, flight);
    const settle = () => {
      flight.settled = true;
      if (this.flights.get(key) === flight) this.flights.delete(key);
    };
    // The first caller is listed (and counted) before the work starts.
    (flight as { promise: Promise<T> }).promise = work(flight).then(
      (value) => {
        settle();
        return value;
      },
      (error: unknown) => {
        settle();
        throw error;
      },
    );
    return followFlight(flight, first, this.adapter, this.axios);
  }
}

/**
 * Wait for a flight on behalf of one caller (already listed and counted in `flight.waiters`), honouring
 * the caller's own `signal`, `cancelToken` and `deadline` until it owns the upstream call. A caller that
 * gives up leaves the flight; other callers are never affected.
 */
function followFlight<T>(flight: Flight<T>, caller: Caller, adapter: string, axios: AxiosModule): Promise<T> {
  const { config, deadline } = caller;
  // A caller that cannot give up (no signal, cancel token or timeout) waits for the flight itself: it stays
  // counted until the flight settles, which is exactly when it would have left.
  if (!canGiveUp(config)) return flight.promise;
  return new Promise<T>((resolve, reject) => {
    let finished = false;
    const leave = () => {
      caller.waiting = false;
      caller.stopWatching();
      flight.waiters--;
      if (flight.waiters === 0 && !flight.settled) flight.abandon();
    };
    caller.stopWatching = watchCaller(config, deadline, adapter, axios, (reason, timedOut) => {
      if (finished) return;
      // The owner's call runs under a timeout at most this caller's: the adapter applies it, with its own
      // meaning (the http adapter's is socket inactivity), and this caller settles with that call.
      if (timedOut && coveredByOwner(flight, config)) return;
      finished = true;
      leave();
      if (timedOut && flight.fallback !== null) resolve(flight.fallback);
      else reject(reason);
    });
    flight.promise.then(
      (value) => {
        if (finished) return;
        finished = true;
        leave();
        resolve(value);
      },
      (error: unknown) => {
        if (finished) return;
        finished = true;
        leave();
        reject(error);
      },
    );
  });
}

/** Whether the flight's upstream call runs under a timeout no longer than this caller's own. */
function coveredByOwner<T>(flight: Flight<T>, config: InternalAxiosRequestConfig): boolean {
  const owner = flight.owner;
  if (!owner || owner.config === config) return false;
  const ownerTimeout = timeoutOf(owner.config);
  return ownerTimeout > 0 && ownerTimeout <= timeoutOf(config);
}

interface CancelTokenLike {
  reason?: unknown;
  subscribe?(listener: (reason: unknown) => void): void;
  unsubscribe?(listener: (reason: unknown) => void): void;
}

interface SignalLike {
  aborted: boolean;
  addEventListener?(type: 'abort', listener: () => void): void;
  removeEventListener?(type: 'abort', listener: () => void): void;
}

/**
 * Call `onGiveUp` with the error the instance's adapter would give when the caller's signal aborts, its
 * cancel token fires, or its `deadline` (its own `timeout`, counted from when the request reached the
 * cache) passes. Returns a function that stops watching (clears the timer, removes listeners).
 */
export function watchCaller(
  config: InternalAxiosRequestConfig,
  deadline: number,
  adapter: string,
  axios: AxiosModule,
  onGiveUp: (reason: unknown, timedOut: boolean) => void,
): () => void {
  const signal = config.signal as SignalLike | undefined;
  const token = config.cancelToken as CancelTokenLike | undefined;
  if (!signal && !token && !deadline) return noop;

  let timer: NodeJS.Timeout | undefined;
  const onAbort = () => onGiveUp(abortError(config, adapter, axios), false);
  const onCancel = (reason: unknown) => onGiveUp(reason ?? new axios.CanceledError(undefined, config), false);
  if (signal?.aborted) {
    queueMicrotask(onAbort);
  } else {
    signal?.addEventListener?.('abort', onAbort);
  }
  if (token?.reason) queueMicrotask(() => onCancel(token.reason));
  token?.subscribe?.(onCancel);
  if (deadline) {
    timer = setTimeout(() => onGiveUp(timeoutError(config, adapter, axios), true), Math.max(0, deadline - Date.now()));
  }
  return () => {
    if (timer) clearTimeout(timer);
    signal?.removeEventListener?.('abort', onAbort);
    token?.unsubscribe?.(onCancel);
  };
}

/** Whether the caller of `config` may stop waiting before its answer (a signal, cancel token or timeout). */
export function canGiveUp(config: InternalAxiosRequestConfig): boolean {
  return config.signal != null || config.cancelToken != null || timeoutOf(config) > 0;
}

export function timeoutOf(config: InternalAxiosRequestConfig): number {
  return typeof config.timeout === 'number' && config.timeout > 0 ? config.timeout : 0;
}

/** When the caller's own `timeout` passes, counted from now; 0 for none. */
export function deadlineOf(config: InternalAxiosRequestConfig): number {
  const timeout = timeoutOf(config);
  return timeout ? Date.now() + timeout : 0;
}

/**
 * The error the instance's adapter raises when the caller's `timeout` passes: the http (and xhr) adapter's
 * (`timeoutErrorMessage`, `ECONNABORTED` or `ETIMEDOUT` with `clarifyTimeoutError`), or the fetch adapter's
 * (always `ETIMEDOUT`, its own message).
 */
export function timeoutError(config: InternalAxiosRequestConfig, adapter: string, axios: AxiosModule): AxiosError {
  const { AxiosError } = axios;
  const timeoutMs = timeoutOf(config);
  if (adapter === 'fetch') {
    return new AxiosError(`timeout of ${timeoutMs}ms exceeded`, AxiosError.ETIMEDOUT, config);
  }
  const message = config.timeoutErrorMessage || `timeout of ${timeoutMs}ms exceeded`;
  const clarify = (config.transitional as { clarifyTimeoutError?: boolean } | undefined)?.clarifyTimeoutError;
  return new AxiosError(message, clarify ? AxiosError.ETIMEDOUT : AxiosError.ECONNABORTED, config);
}

/**
 * The error the instance's adapter raises when the caller's signal aborts: `CanceledError('canceled')`
 * from the http adapter; from the fetch adapter, a `CanceledError` carrying the abort reason's message.
 */
function abortError(config: InternalAxiosRequestConfig, adapter: string, axios: AxiosModule): CanceledError<unknown> {
  const { CanceledError } = axios;
  if (adapter === 'fetch') {
    const reason = (config.signal as { reason?: unknown } | undefined)?.reason;
    const message = reason instanceof Error ? reason.message : reason === undefined ? undefined : String(reason);
    return new CanceledError(message, config);
  }
  return new CanceledError(undefined, config);
}

function noop(): void {}
