import {
  type CacheError,
  CacheStoreError,
  CacheStoreTimeoutError,
  CacheStoreUnavailableError,
  type StoreOperation,
} from '../../api/errors.js';
import type { Counters } from '../../observe/stats.js';
import { type StoreErrorMessage, storeErrorChannel } from '../../observe/tracing.js';
import type { CacheErrorContext, ResolvedOptions } from '../../options/index.js';
import { type CacheStore, isForeignValue } from '../types.js';
import type { Breaker } from './breaker.js';
import { type CallStart, loopIdleMs, type StoreProgress, timeLeft } from './budget.js';
import { Deadlines } from './deadlines.js';
import { SilenceWatch } from './health.js';
import { BreakersByNode, type NodeBreakers } from './node-breakers.js';

/** A lying connection is dropped at most this often (a planted value read in a loop cannot thrash it). */
export const DISTRUST_INTERVAL_MS = 1000;
/** After dropping a lying connection, failures for this long are its own doing: they do not open the breaker. */
const DISTRUST_QUIET_MS = 1000;

/**
 * What a store call is about: a label for reports (`undefined` for calls about no request), or a request's
 * keys — their `label` for reports and their `entry` for the node that holds them (per-node breakers).
 */
export type CallTarget = string | undefined | { readonly label: string; readonly entry: string };

/**
 * How long a call waits for a client's first connection (one that has never been ready and has not failed
 * an attempt yet: still connecting, or waiting for its owner to connect it), if `storeTimeout` is shorter.
 * Freshly started processes got ready 50–154 ms after creating their client (median 144 ms): a fleet that
 * restarts and fires at once must meet at the lease, not go upstream alone after 50 ms. A Redis that
 * refuses at start fails the attempt (and the wait) at once; one that does not answer costs this, once.
 */
export const FIRST_CONNECTION_MS = 1000;

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
  /**
   * Reads (`get`) and writes (everything else) fail separately — writes refused by Redis never skip reads —
   * and per node of the store (a Cluster's masters): a dead master skips only its own keys.
   */
  private readonly breakers: BreakersByNode;
  /** The breakers of calls about no node (a single Redis, or a call about no request). */
  private readonly single: NodeBreakers;
  /** Whether the store answers while calls wait (a silent connection is replaced). */
  private readonly health: SilenceWatch;
  /** Calls started so far: each call's number orders it against the others. */
  private started = 0;
  /** The highest-numbered call that has succeeded. */
  private lastDone = 0;
  /**
   * When the store last answered a call within that call's budget. A late answer (to a call already given
   * up) is not progress: a store 1 s late on every reply keeps answering something all the time, and
   * counting that kept every waiting call from its wall-clock bound (requests waited the whole second).
   */
  private lastTimelyAnswerAt = Date.now();
  /** Bytes of every successful reply so far (what the store has delivered: see `budget.ts`). */
  private bytes = 0;
  /** The deadlines of pending calls, under one timer. */
  private readonly deadlines = new Deadlines();
  /** When the connection was last distrusted, and until when failures do not count towards the breaker. */
  private distrustedAt = Number.NEGATIVE_INFINITY;
  private quietUntil = 0;
  /** Removes the guard's ready listener from the store (see {@link close}). */
  private unwatchReady: (() => void) | null;

  constructor(
    readonly store: CacheStore,
    private readonly options: Pick<ResolvedOptions, 'storeTimeoutMs' | 'breaker' | 'onError'>,
    private readonly counters: Counters,
  ) {
    this.breakers = new BreakersByNode(options.breaker);
    this.single = this.breakers.of('');
    this.health = new SilenceWatch(options.storeTimeoutMs, (reason) => this.distrust(reason));
    // The store is back (reconnected): probe at once rather than wait out the cooldown.
    this.unwatchReady =
      store.onReady?.(() => {
        for (const pair of this.breakers.all()) {
          pair.reads.wake();
          pair.writes.wake();
        }
      }) ?? null;
  }

  /** Remove what the guard left on the store's client (its ready listener): `closeCache`. */
  close(): void {
    this.unwatchReady?.();
    this.unwatchReady = null;
  }

  /**
   * The read breakers' state (what decides whether hits are served); `writeBreakerState` for writes. On a
   * store with nodes (a Cluster), `half-open` while some nodes' breakers are open and others' closed.
   */
  get breakerState(): 'closed' | 'open' | 'half-open' {
    return this.breakers.state('reads');
  }

  get writeBreakerState(): 'closed' | 'open' | 'half-open' {
    return this.breakers.state('writes');
  }

  /** The nodes whose read (or write) breaker is not closed: `{ "host:port": "open" }`. */
  openNodes(which: 'reads' | 'writes'): Record<string, 'closed' | 'open' | 'half-open'> {
    return this.breakers.notClosed(which);
  }

  /**
   * Whether writes (and so fill leases) for this request's keys are worth trying now: their node's write
   * breaker is closed or probing.
   */
  writesHealthy(target?: CallTarget): boolean {
    return !this.breakersOf(target).writes.isOpen;
  }

  /** The breakers of the node that holds a request's keys (the one pair of a store without nodes). */
  private breakersOf(target: CallTarget): NodeBreakers {
    const nodeOf = this.store.nodeOf;
    const node = nodeOf && typeof target === 'object' ? nodeOf.call(this.store, target.entry) : undefined;
    return node ? this.breakers.of(node) : this.single;
  }

  /**
   * Run one store call under the guard. Resolves to its result, or {@link FAILED}. Never rejects.
   * `bytes`: what the call sends (a write): it is given the time to send them on top of its budget.
   * `always`: not skipped by an open breaker (a check whose answer decides whether the connection lies).
   */
  call<T>(
    operation: StoreOperation,
    target: CallTarget,
    run: (store: CacheStore) => Promise<T>,
    bytes = 0,
    always = false,
  ): Promise<T | Failed> {
    const store = this.store;
    const key = typeof target === 'object' ? target.label : target;
    if (store.isReady && !store.isReady()) {
      // A client still making its first connection (or a lazy one, which the store connects now) is waited
      // for, within the budget: a fleet that fires at start-up coalesces like a warm one.
      const starting = store.whenStarted?.();
      if (starting) return this.afterStart(starting, operation, target, run, bytes);
      this.counters.storeErrors++;
      // A lease release while the store is away: nothing to release on a connection that is gone, and
      // nothing worth a second report for the same request.
      if (operation !== 'release') this.reportUnavailable(operation, key);
      return Promise.resolve(FAILED);
    }
    // A release is never skipped: a lease left behind would stall the fleet for its whole TTL.
    const pair = this.breakersOf(target);
    const breaker = operation === 'get' ? pair.reads : pair.writes;
    const admitted = operation === 'release' || always ? 'go' : breaker.admit();
    if (admitted === 'skip' || this.health.saturated) {
      if (admitted === 'probe') breaker.unprobe();
      this.counters.storeSkips++;
      return Promise.resolve(FAILED);
    }
    const probe = admitted === 'probe';
    const budgetMs = bytes > 0 ? this.options.storeTimeoutMs + transferMs(bytes) : this.options.storeTimeoutMs;
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
    const bytesAtStart = this.bytes;
    return new Promise<T | Failed>((resolve) => {
      let settled = false;
      const expire = () => {
        if (settled) return;
        // Still within the budget (see budget.ts): wait on. (Built only here, when a deadline is reached:
        // a call that is answered in time allocates nothing for its budget.)
        const call: CallStart = { id, startedAt, idleAtStart, bytesAtStart };
        const progress: StoreProgress = {
          lastDone: this.lastDone,
          bytes: this.bytes,
          lastAnswerAt: this.lastTimelyAnswerAt,
        };
        const left = timeLeft(call, progress, budgetMs, Date.now());
        if (left > 0) {
          setTimeout(() => setImmediate(expire), Math.max(1, left));
          return;
        }
        settled = true;
        this.counters.storeTimeouts++;
        this.failed(breaker, () => new CacheStoreTimeoutError(operation, key, budgetMs), operation, key, probe);
        resolve(FAILED);
      };
      const watch = this.deadlines.watch(startedAt + budgetMs, expire);
      pending.then(
        (value) => {
          this.health.answered();
          this.bytes += replyBytes(value);
          // Late: the store answered, but slower than the budget (which already allowed for the bytes it
          // delivered meanwhile). Neither a success nor another failure: slowness opens the breaker.
          if (settled) return;
          settled = true;
          this.lastTimelyAnswerAt = Date.now();
          watch.expire = null;
          breaker.succeeded();
          if (id > this.lastDone) this.lastDone = id;
          resolve(value);
        },
        (error: unknown) => {
          this.health.answered();
          if (settled) return;
          settled = true;
          this.lastTimelyAnswerAt = Date.now();
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
          if (isForeignValue(error)) {
            // A value of another type under one of this request's keys (foreign, or planted): the server
            // answered, and works; this request misses (its fill overwrites the key), nobody else pays.
            this.report(() => new CacheStoreError(operation, key, error), operation, key);
            breaker.succeeded();
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
    target: CallTarget,
    run: (store: CacheStore) => Promise<T>,
    bytes: number,
  ): Promise<T | Failed> {
    const key = typeof target === 'object' ? target.label : target;
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, Math.max(this.options.storeTimeoutMs, FIRST_CONNECTION_MS));
    });
    await Promise.race([starting.catch(() => {}), late]);
    clearTimeout(timer);
    if (this.store.isReady?.() === false) {
      this.counters.storeErrors++;
      this.reportUnavailable(operation, key);
      return FAILED;
    }
    return this.call(operation, target, run, bytes);
  }

  private reportUnavailable(operation: StoreOperation, key: string | undefined): void {
    const { store } = this;
    this.report(
      () => new CacheStoreUnavailableError(operation, key, store.state?.() ?? 'not ready', store.lastError?.()),
      operation,
      key,
    );
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

/** The bytes a reply carried: a value read, or the value a lease-and-read call brought back. */
function replyBytes(value: unknown): number {
  if (value instanceof Uint8Array) return value.byteLength;
  const carried = (value as { value?: unknown } | null)?.value;
  return carried instanceof Uint8Array ? carried.byteLength : 0;
}

/**
 * Bytes per millisecond a write is assumed to move at the least (32 MB/s; Redis on a loaded 2-core host
 * took 73 ms for an 8 MB SET): a write is given this long to send its value on top of `storeTimeout`.
 */
export const WRITE_BYTES_PER_MS = 32 * 1024;

function transferMs(bytes: number): number {
  return bytes / WRITE_BYTES_PER_MS;
}
