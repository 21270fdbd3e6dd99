import { AxiosError, CanceledError, type InternalAxiosRequestConfig } from 'axios';

/**
 * One in-process fill of a key, shared by every identical request that arrives while it runs. The work
 * never rejects (it resolves to an outcome), and it stops going upstream once every waiter has left.
 */
export interface Flight<T> {
  readonly promise: Promise<T>;
  /** Callers currently waiting. */
  waiters: number;
  settled: boolean;
  /** Aborts the upstream call; created by the work when it goes upstream. */
  controller: AbortController | null;
  /**
   * What a caller whose own `timeout` passes gets instead of the timeout error (a stale entry allowed by
   * stale-if-error), when the work has found one.
   */
  fallback: T | null;
  /**
   * Called when the last waiter leaves before the flight settled: removes the flight from the map (a
   * newcomer starts a fresh one instead of joining a cancelled call) and aborts the upstream call.
   */
  abandon: () => void;
}

/** The in-flight map: key → flight. An entry is removed the moment its flight settles. */
export class FlightMap<T> {
  private readonly flights = new Map<string, Flight<T>>();

  /** Number of flights running (0 when idle: nothing leaks). */
  get size(): number {
    return this.flights.size;
  }

  /**
   * Wait, on behalf of the caller of `config`, for the flight running for `key`, or start one with `work`.
   * `joined` tells whether a flight was already running. The caller is counted as a waiter before `work`
   * starts, so the work sees at least one waiter; see {@link waitForFlight} for how the caller may leave.
   */
  attend(
    key: string,
    config: InternalAxiosRequestConfig,
    work: (flight: Flight<T>) => Promise<T>,
  ): { promise: Promise<T>; joined: boolean } {
    const running = this.flights.get(key);
    if (running) return { promise: waitForFlight(running, config), joined: true };
    const flight: Flight<T> = {
      promise: undefined as unknown as Promise<T>,
      waiters: 1,
      settled: false,
      controller: null,
      fallback: null,
      abandon: () => {
        if (this.flights.get(key) === flight) this.flights.delete(key);
        flight.controller?.abort();
      },
    };
    this.flights.set(key, flight);
    const done = () => {
      flight.settled = true;
      if (this.flights.get(key) === flight) this.flights.delete(key);
    };
    (flight as { promise: Promise<T> }).promise = work(flight).then(
      (value) => {
        done();
        return value;
      },
      (error: unknown) => {
        done();
        throw error;
      },
    );
    return { promise: followFlight(flight, config), joined: false };
  }
}

/**
 * Wait for a flight on behalf of one caller, honouring the caller's own `signal`, `cancelToken` and
 * `timeout`. A caller that gives up leaves the flight; when the last one leaves, the upstream call is
 * aborted. Other callers are never affected by one caller's abort or timeout.
 */
function waitForFlight<T>(flight: Flight<T>, config: InternalAxiosRequestConfig): Promise<T> {
  flight.waiters++;
  return followFlight(flight, config);
}

/** {@link waitForFlight} for a caller already counted in `flight.waiters`. */
function followFlight<T>(flight: Flight<T>, config: InternalAxiosRequestConfig): Promise<T> {
  // A caller that cannot give up (no signal, cancel token or timeout) waits for the flight itself: it stays
  // counted until the flight settles, which is exactly when it would have left.
  if (!canGiveUp(config)) return flight.promise;
  return new Promise<T>((resolve, reject) => {
    let finished = false;
    const stopWatching = watchCaller(config, (reason, timedOut) => {
      if (finished) return;
      finished = true;
      leave();
      if (timedOut && flight.fallback !== null) resolve(flight.fallback);
      else reject(reason);
    });
    const leave = () => {
      stopWatching();
      flight.waiters--;
      if (flight.waiters === 0 && !flight.settled) flight.abandon();
    };
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
 * Call `onGiveUp` with an axios-shaped error when the caller's signal aborts, its cancel token fires, or
 * its `timeout` passes. Returns a function that stops watching (clears the timer, removes listeners).
 */
export function watchCaller(
  config: InternalAxiosRequestConfig,
  onGiveUp: (reason: unknown, timedOut: boolean) => void,
): () => void {
  const signal = config.signal as SignalLike | undefined;
  const token = config.cancelToken as CancelTokenLike | undefined;
  const timeoutMs = timeoutOf(config);
  if (!signal && !token && !timeoutMs) return noop;

  let timer: NodeJS.Timeout | undefined;
  const onAbort = () => onGiveUp(new CanceledError(undefined, config), false);
  const onCancel = (reason: unknown) => onGiveUp(reason ?? new CanceledError(undefined, config), false);
  if (signal?.aborted) {
    queueMicrotask(onAbort);
  } else {
    signal?.addEventListener?.('abort', onAbort);
  }
  if (token?.reason) queueMicrotask(() => onCancel(token.reason));
  token?.subscribe?.(onCancel);
  if (timeoutMs) {
    timer = setTimeout(() => onGiveUp(timeoutError(config, timeoutMs), true), timeoutMs);
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

function timeoutOf(config: InternalAxiosRequestConfig): number {
  return typeof config.timeout === 'number' && config.timeout > 0 ? config.timeout : 0;
}

/** The error axios' own adapters raise when `timeout` passes. */
function timeoutError(config: InternalAxiosRequestConfig, timeoutMs: number): AxiosError {
  const message = config.timeoutErrorMessage || `timeout of ${timeoutMs}ms exceeded`;
  const clarify = (config.transitional as { clarifyTimeoutError?: boolean } | undefined)?.clarifyTimeoutError;
  return new AxiosError(message, clarify ? AxiosError.ETIMEDOUT : AxiosError.ECONNABORTED, config);
}

function noop(): void {}
