import type { AxiosAdapter } from 'axios';
import type { EntryMeta } from '../entries/entry.js';
import type { LocalLayer } from '../local/l1.js';
import type { Counters } from '../observe/stats.js';
import type { ResolvedOptions } from '../options/index.js';
import type { FlightMap } from '../request/coalesce.js';
import type { Outcome } from '../request/outcome.js';
import type { StoreGuard } from '../stores/guard/guard.js';
import type { Subscription } from '../stores/types.js';

/** Everything one cached instance holds. */
export interface CacheState {
  readonly options: ResolvedOptions;
  /** The instance's own adapter, resolved once by `withCache`. */
  readonly base: AxiosAdapter;
  /** The kind of `base`: `http`, `fetch`, `xhr`, or `custom` (part of the keys: adapters return different body types). */
  readonly adapterKind: string;
  /** The adapter kind as keys of `httpSemantics` requests use it: entries of one mode are never read in the other. */
  readonly httpKeyKind: string;
  readonly guard: StoreGuard;
  /** In-process fills by key (single flight). */
  readonly flights: FlightMap<Outcome>;
  /** Entry keys this process recently found or stored (bounded): reads of others are expected to miss. */
  readonly present: Set<string>;
  /** The metadata last decoded for each recently read key (bounded): the same stored answer decodes once. */
  readonly metas: Map<string, EntryMeta>;
  /** Keys with a background refresh running in this process. */
  readonly refreshing: Set<string>;
  readonly counters: Counters;
  /** The optional in-process layer (`l1`), or `null`. */
  readonly l1: LocalLayer | null;
  /** Identifies this instance's own invalidation messages. */
  readonly instanceId: string;
  /** Fleet-wide counter reports (`fleetStats`), or `null` when off. */
  reporting: { timer: ReturnType<typeof setInterval>; intervalMs: number; reported: Counters } | null;
  /** The invalidation subscription behind `l1`, when the store has pub/sub. */
  subscription: Subscription | null;
}
