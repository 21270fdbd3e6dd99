import { type CacheStore, MemoryStore } from '../../src/index.js';
import { type LeaseState, UNCACHEABLE_MARKER } from '../../src/stores/types.js';

/** Operations a {@link LeaseStore} records. */
export type StoreOp = 'get' | 'set' | 'delete' | 'deleteIndexed' | 'deleteMatching' | 'acquire' | 'release';

/** One recorded call. Lease calls are recorded when made; `result` is filled in when they execute. */
export interface StoreCall {
  /** The "process" (view) that made the call. */
  by: string;
  op: StoreOp;
  key: string;
  token?: string | undefined;
  ttlMs?: number | undefined;
  uncacheableMs?: number | undefined;
  /** acquire: the answer (or `'error'`); release: whether the token owned the lease (or `'error'`). */
  result?: LeaseState | 'released' | 'not owner' | 'error' | undefined;
}

/**
 * How this view's lease calls misbehave: `reject` fails at once; `hang` pauses the view's "connection":
 * that call and every later call of the view wait, in order, until {@link LeaseStore.resumeHung} runs them
 * (like a stalled Redis connection that recovers: commands are applied in the order they were sent).
 */
export type LeaseFault = { kind: 'reject' } | { kind: 'hang' };

interface Shared {
  readonly memory: MemoryStore;
  readonly now: () => number;
  readonly leases: Map<string, { value: string; expiresAt: number }>;
  readonly log: StoreCall[];
  readonly paused: Set<LeaseStore>;
}

export interface LeaseStoreOptions {
  /** Clock in ms for entry and lease expiry. @default () => Date.now() (follows a mocked Date.now) */
  now?: () => number;
  /** Name recorded with this view's calls. @default 'main' */
  name?: string;
}

/**
 * A test double of a Redis store: a {@link MemoryStore} for entries plus fill leases with the semantics of
 * the Redis scripts (`SET NX PX` acquire that answers 'uncacheable' on the marker; compare-and-delete
 * release that may leave the marker instead). `process(name)` returns another view on the same data, as a
 * second process connected to the same Redis would see it; every call is logged with the view's name.
 */
export class LeaseStore implements CacheStore {
  readonly name: string;
  /** Makes this view's `acquireLease` calls fail. */
  acquireFault: LeaseFault | null = null;
  /** Makes this view's `releaseLease` calls fail. */
  releaseFault: LeaseFault | null = null;
  private readonly shared: Shared;
  /** Calls waiting behind a hung call, in order (`null` while the view is not paused). */
  private backlog: (() => void)[] | null = null;

  constructor(options: LeaseStoreOptions = {}, shared?: Shared) {
    this.name = options.name ?? 'main';
    if (shared) {
      this.shared = shared;
    } else {
      const now = options.now ?? (() => Date.now());
      this.shared = { memory: new MemoryStore({ now }), now, leases: new Map(), log: [], paused: new Set() };
    }
  }

  /** Another view on the same entries and leases, logging its calls under `name`. */
  process(name: string): LeaseStore {
    return new LeaseStore({ name }, this.shared);
  }

  /** The entries (read them with `memory.read(key)` without logging a call). */
  get memory(): MemoryStore {
    return this.shared.memory;
  }

  /** Every call made through any view, in order. */
  get log(): readonly StoreCall[] {
    return this.shared.log;
  }

  /** The calls matching a filter. */
  calls(filter: { by?: string; op?: StoreOp } = {}): StoreCall[] {
    return this.shared.log.filter(
      (c) => (filter.by === undefined || c.by === filter.by) && (filter.op === undefined || c.op === filter.op),
    );
  }

  /** The value a lease key holds now (a token or {@link UNCACHEABLE_MARKER}), or `null`. */
  leaseValue(key: string): string | null {
    const lease = this.shared.leases.get(key);
    if (!lease) return null;
    if (lease.expiresAt <= this.shared.now()) {
      this.shared.leases.delete(key);
      return null;
    }
    return lease.value;
  }

  /** Run every call held behind a hung call (of every view), in the order each view received them. */
  resumeHung(): void {
    for (const view of [...this.shared.paused]) {
      this.shared.paused.delete(view);
      const backlog = view.backlog ?? [];
      view.backlog = null;
      for (const run of backlog) run();
    }
  }

  /** Whether this view has calls held behind a hung one. */
  get paused(): boolean {
    return this.backlog !== null;
  }

  get(key: string): Promise<Uint8Array | null> {
    return this.run(this.record({ op: 'get', key }), null, () => this.shared.memory.get(key));
  }

  set(key: string, value: Uint8Array, ttlMs: number, indexes: readonly string[]): Promise<void> {
    return this.run(this.record({ op: 'set', key, ttlMs }), null, () =>
      this.shared.memory.set(key, value, ttlMs, indexes),
    );
  }

  delete(keys: readonly string[]): Promise<number> {
    return this.run(this.record({ op: 'delete', key: keys.join(' ') }), null, () => this.shared.memory.delete(keys));
  }

  deleteIndexed(indexKeys: readonly string[]): Promise<number> {
    return this.run(this.record({ op: 'deleteIndexed', key: indexKeys.join(' ') }), null, () =>
      this.shared.memory.deleteIndexed(indexKeys),
    );
  }

  deleteMatching(pattern: string, filter?: (key: string) => boolean): Promise<number> {
    return this.run(this.record({ op: 'deleteMatching', key: pattern }), null, () =>
      this.shared.memory.deleteMatching(pattern, filter),
    );
  }

  acquireLease(key: string, token: string, ttlMs: number): Promise<LeaseState> {
    const call = this.record({ op: 'acquire', key, token, ttlMs });
    return this.run(call, this.acquireFault, () => {
      const held = this.leaseValue(key);
      let answer: LeaseState;
      if (held === null) {
        this.shared.leases.set(key, { value: token, expiresAt: this.shared.now() + Math.max(1, Math.ceil(ttlMs)) });
        answer = 'acquired';
      } else {
        answer = held === UNCACHEABLE_MARKER ? 'uncacheable' : 'held';
      }
      call.result = answer;
      return answer;
    });
  }

  releaseLease(key: string, token: string, uncacheableMs = 0): Promise<void> {
    const call = this.record({ op: 'release', key, token, uncacheableMs });
    return this.run(call, this.releaseFault, () => {
      if (this.leaseValue(key) !== token) {
        call.result = 'not owner';
        return;
      }
      if (uncacheableMs > 0) {
        this.shared.leases.set(key, {
          value: UNCACHEABLE_MARKER,
          expiresAt: this.shared.now() + Math.ceil(uncacheableMs),
        });
      } else {
        this.shared.leases.delete(key);
      }
      call.result = 'released';
    });
  }

  private record(call: Omit<StoreCall, 'by'>): StoreCall {
    const recorded: StoreCall = { by: this.name, ...call };
    this.shared.log.push(recorded);
    return recorded;
  }

  /**
   * Execute a call now (synchronously, so calls apply in the order they are made), or queue it behind a
   * hung call of this view.
   */
  private run<T>(call: StoreCall, fault: LeaseFault | null, op: () => T | Promise<T>): Promise<T> {
    if (fault?.kind === 'reject' && this.backlog === null) {
      call.result = 'error';
      return Promise.reject(new Error(`injected ${call.op} failure`));
    }
    const execute = (): Promise<T> => {
      try {
        return Promise.resolve(op());
      } catch (error) {
        return Promise.reject(error);
      }
    };
    if (fault?.kind === 'hang' && this.backlog === null) {
      this.backlog = [];
      this.shared.paused.add(this);
    }
    const backlog = this.backlog;
    if (backlog === null) return execute();
    return new Promise<T>((resolve, reject) => {
      backlog.push(() => void execute().then(resolve, reject));
    });
  }
}
