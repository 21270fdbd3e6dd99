import type { LocalLayer } from '../local/l1.js';
import type { CacheStats, Counters } from '../observe/stats.js';
import { escapeGlob } from '../stores/glob.js';
import { FAILED, type StoreGuard } from '../stores/guard/guard.js';
import type { CacheStore } from '../stores/types.js';

/**
 * Fleet-wide counters: every instance adds what its counters gained since its last report to one Redis
 * hash under its prefix (`<prefix>{stats}`, one `HINCRBY` per changed counter, pipelined: one round trip
 * every `fleetStats` seconds, never per request), and keeps a short-lived key of its own with its breaker
 * and `l1` states (`<prefix>{stats}:instance:<id>`, expiring after three intervals: a process that stops
 * leaves nothing behind). `getCacheStats(instance, { fleet: true })` and the CLI's `stats` read them.
 */

/** The counters summed across the fleet. */
export const FLEET_COUNTERS: readonly (keyof Counters)[] = [
  'hits',
  'l1Hits',
  'staleHits',
  'graceHits',
  'softEvictions',
  'misses',
  'coalesced',
  'refreshes',
  'revalidations',
  'bypasses',
  'storeErrors',
  'storeTimeouts',
  'storeSkips',
  'badEntries',
  'distrusts',
];

/** What one instance reports of itself, alongside its counters. */
export interface InstanceReport {
  /** The instance's random id (also in its invalidation messages). */
  id: string;
  breaker: CacheStats['breaker'];
  writeBreaker: CacheStats['writeBreaker'];
  l1: CacheStats['l1'];
  /** When it reported (ms since epoch). */
  at: number;
}

/** The fleet's totals: `getCacheStats(instance, { fleet: true })`. */
export interface FleetCacheStats {
  /** Each counter summed over every instance that reported under this prefix (since the hash was created). */
  counters: Record<(typeof FLEET_COUNTERS)[number], number>;
  /** (hits + staleHits + revalidations) ÷ every request that consulted the cache (`null` before any). */
  hitRatio: number | null;
  /** The instances that reported within the last three intervals. */
  instances: InstanceReport[];
}

/** The key of the counters hash of a prefix. */
export function statsKey(prefix: string): string {
  return `${prefix}{stats}`;
}

/** The key an instance reports its states under. */
export function instanceKey(prefix: string, id: string): string {
  return `${prefix}{stats}:instance:${id}`;
}

/**
 * One instance's reports to the fleet's counters, every `intervalMs` once {@link start}ed. The timer keeps
 * neither the process nor the instance alive: it holds the reporter weakly, and stops itself once the
 * reporter (owned by the instance's state) has been collected.
 */
export class FleetReporter {
  private timer: ReturnType<typeof setInterval> | null = null;
  private intervalMs = 0;
  /** The counters as last reported: the next report adds what they gained since. */
  private reported: Counters;

  constructor(
    private readonly guard: StoreGuard,
    private readonly counters: Counters,
    private readonly prefix: string,
    private readonly instanceId: string,
    private readonly l1: LocalLayer | null,
  ) {
    this.reported = { ...counters };
  }

  /** Report every `intervalMs` (nothing, for a store that keeps no fleet counters). */
  start(intervalMs: number): void {
    if (!this.guard.store.recordStats) return;
    const weak = new WeakRef(this);
    const timer: ReturnType<typeof setInterval> = setInterval(() => {
      const live = weak.deref();
      if (live) void live.report();
      else clearInterval(timer);
    }, intervalMs);
    timer.unref?.();
    this.timer = timer;
    this.intervalMs = intervalMs;
    this.reported = { ...this.counters };
  }

  /**
   * Add what the counters gained since the last report to the fleet's hash. A report that fails is not
   * lost: the next one carries its gains too. Never rejects.
   */
  async report(): Promise<void> {
    const { guard, prefix } = this;
    const store = guard.store;
    if (!this.timer || !store.recordStats || store.supports?.('writes') === false || !guard.writesHealthy()) return;
    const snapshot = { ...this.counters };
    const deltas: Record<string, number> = {};
    for (const name of FLEET_COUNTERS) {
      const gained = snapshot[name] - this.reported[name];
      if (gained !== 0) deltas[name] = gained;
    }
    const self: InstanceReport = {
      id: this.instanceId,
      breaker: guard.breakerState,
      writeBreaker: guard.writeBreakerState,
      l1: this.l1 ? (this.l1.usable ? 'live' : 'down') : 'off',
      at: Date.now(),
    };
    const result = await guard.call('stats', undefined, (s) =>
      s.recordStats!({
        countersKey: statsKey(prefix),
        deltas,
        instanceKey: instanceKey(prefix, this.instanceId),
        instance: JSON.stringify(self),
        ttlMs: this.intervalMs * 3,
      }),
    );
    if (result === FAILED) return; // the next report carries these gains too
    this.reported = snapshot;
  }

  /** Stop reporting (after one last report). */
  async stop(): Promise<void> {
    const timer = this.timer;
    if (!timer) return;
    clearInterval(timer);
    await this.report();
    this.timer = null;
  }
}

/** Read the fleet's totals and live instances under a prefix from a store that keeps them. */
export async function readFleetStats(store: Pick<CacheStore, 'readStats'>, prefix: string): Promise<FleetCacheStats> {
  if (!store.readStats) throw new Error('this store keeps no fleet counters');
  const { counters: raw, instances: rawInstances } = await store.readStats(
    statsKey(prefix),
    `${escapeGlob(instanceKey(prefix, ''))}*`,
  );
  const counters = {} as FleetCacheStats['counters'];
  for (const name of FLEET_COUNTERS) counters[name] = Number(raw[name] ?? 0) || 0;
  const consulted = counters.hits + counters.staleHits + counters.revalidations + counters.misses + counters.coalesced;
  const instances: InstanceReport[] = [];
  for (const text of rawInstances) {
    try {
      const parsed = JSON.parse(text) as InstanceReport;
      if (typeof parsed?.id === 'string') instances.push(parsed);
    } catch {
      // Not ours: skipped.
    }
  }
  instances.sort((a, b) => a.id.localeCompare(b.id));
  return {
    counters,
    hitRatio: consulted === 0 ? null : (counters.hits + counters.staleHits + counters.revalidations) / consulted,
    instances,
  };
}
