import type { AxiosAdapter } from 'axios';
import type { EntryStore } from '../entries/entry-store.js';
import type { FleetReporter } from '../fleet/counters.js';
import type { Invalidations } from '../local/invalidation.js';
import type { LocalLayer } from '../local/l1.js';
import type { Counters } from '../observe/stats.js';
import type { ResolvedOptions } from '../options/index.js';
import type { FlightMap } from '../request/coalesce.js';
import type { Outcome } from '../request/outcome.js';
import type { RefreshQueue } from '../request/refresh-queue.js';
import type { StoreGuard } from '../stores/guard/guard.js';
import type { AxiosModule } from './axios-copy.js';

/**
 * Everything one cached instance holds: its resolved options and adapter, and the parts that own their data
 * — the store guard, the entry store, the flights, the in-process layer, invalidations and fleet reports.
 * The request flow (`request/`) reads these; none of it is reassigned after `withCache`.
 */
export interface CacheState {
  readonly options: ResolvedOptions;
  /** The copy of axios the instance was made by: its adapter, and the classes of what callers get. */
  readonly axios: AxiosModule;
  /** The instance's own adapter, resolved once by `withCache` (through the instance's copy of axios). */
  readonly base: AxiosAdapter;
  /** The kind of `base`: `http`, `fetch`, `xhr`, or `custom` (part of the keys: adapters return different body types). */
  readonly adapterKind: string;
  /** The adapter kind as keys of `httpSemantics` requests use it: entries of one mode are never read in the other. */
  readonly httpKeyKind: string;
  readonly guard: StoreGuard;
  /** In-process fills by key (single flight). */
  readonly flights: FlightMap<Outcome>;
  /** The instance's entries in its store: reads, decoding, what this process remembers of them. */
  readonly entries: EntryStore;
  /** Keys with a background refresh running or queued in this process. */
  readonly refreshing: Set<string>;
  /** The background refreshes, run a few at a time. */
  readonly refreshQueue: RefreshQueue;
  /**
   * Keys this process called the origin for while the store could not be read (`l1.grace`): at most once
   * each until a read of the key succeeds again.
   */
  readonly graceCalls: Set<string>;
  readonly counters: Counters;
  /** The optional in-process layer (`l1`), or `null`. */
  readonly l1: LocalLayer | null;
  /** This instance's reports to the fleet-wide counters (started when `fleetStats` is on). */
  readonly reporter: FleetReporter;
  /** This instance's announcements of overwrites and evictions, and (with `l1`) its subscription to the fleet's. */
  readonly invalidations: Invalidations;
}
