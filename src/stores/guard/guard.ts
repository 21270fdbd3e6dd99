import {
  type CacheError,
  CacheStoreError,
  CacheStoreTimeoutError,
  CacheStoreUnavailableError,
  type StoreOperation,
} from '../../api/errors.js';
import type { Counters } from '../../observe/stats.js';
import {
  type BreakerMessage,
  breakerChannel,
  type StoreErrorMessage,
  storeErrorChannel,
} from '../../observe/tracing.js';
import type { CacheErrorContext, ResolvedOptions } from '../../options/index.js';
import type { CacheStore } from '../types.js';
import { Breaker } from './breaker.js';
import { type CallStart, loopIdleMs, type StoreProgress, timeLeft } from './budget.js';
import { Deadlines } from './deadlines.js';
import { SilenceWatch } from './health.js';

/** A lying connection is dropped at most this often (a planted value read in a loop cannot thrash it). */
export const DISTRUST_INTERVAL_MS = 1000;
/** After dropping a lying connection, failures for this long are its own doing: they do not open the breaker. */
const DISTRUST_QUIET_MS = 1000;

/** Sentinel for a store call that was not made or did not succeed in time. */
export const FAILED: unique symbol = Symbol('store call failed');
export type Failed = typeof FAILED;

/**
 * Wraps the store so that no call can fail or stall a request: every call is bounded by
 * `storeTimeout`, is not attempted while the store is not ready or the circuit breaker is open, and
 * every failure is counted and reported to `onError` instead of thrown.
 *
 * Budget: see `budget.ts` — time this process spends busy does not count, nor time the store spends
 * answering the calls queued before this one; a stalled store adds at most `STALL_FACTOR` × `storeTimeout`.
 * A connection that answers nothing while calls wait is replaced (`health.ts`).
 *
 * Breaker: `failures` consecutive failures or timeouts open it; while open, calls are skipped; after
 * `cooldown` ms the next call is a probe (others still skip) whose success closes it and whose failure
 * re-opens it. "Not ready" answers cost nothing and do not count towards opening it.
 */
export class StoreGuard {
  /** Reads (`get`) and writes (everything else) fail separately: writes refused by Redis never skip reads. */
  private readonly reads: Breaker;
  private readonly writes: Breaker;
  /** Whether the store answers while calls wait (a silent connection is replaced). */
  private readonly health: SilenceWatch;
  /** Calls started so far: each call's number orders it against the others. */
  private started = 0;
  /** The highest-numbered call that has succeeded. */
  private lastDone = 0;
  /** The loop's idle time when a call last succeeded: progress for the calls made before that one. */
  private lastDoneIdle = 0;
  /** The deadlines of pending calls, under one timer. */
  private readonly deadlines = new Deadlines();
  /** When the connection was last distrusted, and until when failures do not count towards the breaker. */
  private distrustedAt = Number.NEGATIVE_INFINITY;
  private quietUntil = 0;

  constructor(
    readonly store: CacheStore,
    private readonly options: Pick<ResolvedOptions, 'storeTimeoutMs' | 'breaker' | 'onError'>,
    private readonly counters: Counters,
  ) {
    this.reads = new Breaker(options.breaker, (open) => announceBreaker('read', open));
    this.writes = new Breaker(options.breaker, (open) => announceBreaker('write', open));
    this.health = new SilenceWatch(options.storeTimeoutMs, (reason) => this.distrust(reason));
    // The store is back (reconnected): probe at once rather than wait out the cooldown.
    store.onReady?.(() => {
      this.reads.wake();
      this.writes.wake();
    });
  }

  /** The read breaker's state (what decides whether hits are served); `writeBreakerState` for writes. */
  get breakerState(): 'closed' | 'open' | 'half-open' {
    return this.reads.state;
  }

  get writeBreakerState(): 'closed' | 'open' | 'half-open' {
    return this.writes.state;
  }

  /** Whether writes (and so fill leases) are worth trying now: their breaker is closed or probing. */
  get writesHealthy(): boolean {
    return !this.writes.isOpen;
  }

  /** Run one store call under the guard. Resolves to its result, or {@link FAILED}. Never rejects. */
  call<T>(
    operation: StoreOperation,
    key: string | undefined,
    run: (store: CacheStore) => Promise<T>,
  ): Promise<T | Failed> {
    const store = this.store;
    if (store.isReady && !store.isReady()) {
      // A client still making its first connection (or a lazy one, which the store connects now) is waited
      // for, within the budget: a fleet that fires at start-up coalesces like a warm one.
      const starting = store.whenStarted?.();
      if (starting) return this.afterStart(starting, operation, key, run);
      this.counters.storeErrors++;
      this.report(() => new CacheStoreUnavailableError(operation, key, store.state?.() ?? 'not ready'), operation, key);
      return Promise.resolve(FAILED);
    }
    // A release is never skipped: a lease left behind would stall the fleet for its whole TTL.
    const breaker = operation === 'get' ? this.reads : this.writes;
    const admitted = operation === 'release' ? 'go' : breaker.admit();
    if (admitted === 'skip' || this.health.saturated) {
      if (admitted === 'probe') breaker.unprobe();
      this.counters.storeSkips++;
      return Promise.resolve(FAILED);
    }
    const probe = admitted === 'probe';
    let pending: Promise<T>;
    try {
      pending = run(store);
    } catch (error) {
      this.counters.storeErrors++;
      this.failed(breaker, () => new CacheStoreError(operation, key, error), operation, key, probe);
      return Promise.resolve(FAILED);
    }
    this.health.sent();
    const id = ++this.started;
    const startedAt = Date.now();
    const idleAtStart = loopIdleMs();
    return new Promise<T | Failed>((resolve) => {
      let settled = false;
      let timedOut = false;
      const expire = () => {
        if (settled) return;
        // Still within the budget (see budget.ts): wait on. (Built only here, when a deadline is reached:
        // a call that is answered in time allocates nothing for its budget.)
        const call: CallStart = { id, startedAt, idleAtStart };
        const progress: StoreProgress = {
          lastDone: this.lastDone,
          lastDoneIdle: this.lastDoneIdle,
          lastAnswerAt: this.health.lastAnswerAt,
        };
        const left = timeLeft(call, progress, this.options.storeTimeoutMs, Date.now());
        if (left > 0) {
          setTimeout(() => setImmediate(expire), Math.max(1, left));
          return;
        }
        settled = true;
        timedOut = true;
        this.counters.storeTimeouts++;
        this.failed(
          breaker,
          () => new CacheStoreTimeoutError(operation, key, this.options.storeTimeoutMs),
          operation,
          key,
          probe,
        );
        resolve(FAILED);
      };
      const watch = this.deadlines.watch(startedAt + this.options.storeTimeoutMs, expire);
      pending.then(
        (value) => {
          this.health.answered();
          if (timedOut) {
            // Late, but the store works: do not let queueing delays add up to an open breaker.
            breaker.recovered();
            return;
          }
          if (settled) return;
          settled = true;
          watch.expire = null;
          breaker.succeeded();
          if (id > this.lastDone) this.lastDone = id;
          this.lastDoneIdle = loopIdleMs();
          resolve(value);
        },
        (error: unknown) => {
          this.health.answered();
          if (settled) return;
          settled = true;
          watch.expire = null;
          this.counters.storeErrors++;
          const refused = error as { refused?: unknown; refusedNews?: unknown } | null;
          if (refused?.refused !== undefined) {
            // The server refuses a feature (ACL, read-only replica, maxmemory): the store now does without
            // it. Reported once; not a sign of a sick store, so the breaker does not count it.
            if (refused.refusedNews === true)
              this.report(() => new CacheStoreError(operation, key, error), operation, key);
            if (probe) breaker.unprobe();
            resolve(FAILED);
            return;
          }
          this.failed(breaker, () => new CacheStoreError(operation, key, error), operation, key, probe);
          if ((error as { desync?: unknown } | null)?.desync === true) this.distrust();
          resolve(FAILED);
        },
      );
    });
  }

  /** Run `run` once the store has started, if it does within the budget; otherwise fail as not ready. */
  private async afterStart<T>(
    starting: Promise<unknown>,
    operation: StoreOperation,
    key: string | undefined,
    run: (store: CacheStore) => Promise<T>,
  ): Promise<T | Failed> {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, this.options.storeTimeoutMs);
    });
    await Promise.race([starting.catch(() => {}), late]);
    clearTimeout(timer);
    if (this.store.isReady?.() === false) {
      this.counters.storeErrors++;
      this.report(
        () => new CacheStoreUnavailableError(operation, key, this.store.state?.() ?? 'not ready'),
        operation,
        key,
      );
      return FAILED;
    }
    return this.call(operation, key, run);
  }

  /**
   * The store answered a call with a reply that cannot belong to it (another key's entry, a reply of the
   * wrong type): the connection may be answering every command with the reply meant for another. Stop
   * trusting it — the store drops it and gets a new one ({@link CacheStore.distrust}) — at most once per
   * {@link DISTRUST_INTERVAL_MS}; the calls the drop fails do not open the breaker.
   */
  distrust(reason = 'a reply could not belong to its command: reconnecting'): void {
    const now = Date.now();
    if (now - this.distrustedAt < DISTRUST_INTERVAL_MS) return;
    this.distrustedAt = now;
    this.quietUntil = now + DISTRUST_QUIET_MS;
    this.counters.distrusts++;
    this.report(() => new CacheStoreError('get', undefined, reason), 'get', undefined);
    try {
      this.store.distrust?.();
    } catch {
      // Nothing more to do: the store keeps failing calls until it is healthy.
    }
  }

  /**
   * Report a swallowed error to `onError` (whose own exceptions are ignored). Takes the error or a factory:
   * without a hook, no error object (and stack trace) is built at all, which matters while Redis is down.
   */
  report(error: CacheError | (() => CacheError), operation: string, key: string | undefined): void {
    const hook = this.options.onError;
    const listened = storeErrorChannel.hasSubscribers;
    if (!hook && !listened) return;
    const built = typeof error === 'function' ? error() : error;
    if (listened) storeErrorChannel.publish({ error: built, operation, key } satisfies StoreErrorMessage);
    if (!hook) return;
    const context: CacheErrorContext = { operation, key };
    try {
      hook(built, context);
    } catch {
      // A reporting hook must not break a request.
    }
  }

  private failed(
    breaker: Breaker,
    error: () => CacheError,
    operation: StoreOperation,
    key: string | undefined,
    probe: boolean,
  ): void {
    this.report(error, operation, key);
    // Failures while a lying or silent connection is being replaced are the replacement's own doing.
    breaker.failed(probe, Date.now() >= this.quietUntil);
  }
}

/** Publish a breaker's change of state on `axios-redis-cache:breaker` (when someone listens). */
function announceBreaker(breaker: 'read' | 'write', open: boolean): void {
  if (breakerChannel.hasSubscribers) {
    breakerChannel.publish({ breaker, state: open ? 'open' : 'closed' } satisfies BreakerMessage);
  }
}
