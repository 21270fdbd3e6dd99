import type { ContenderId, Outcome } from './contenders.js';

/** The shape of bench/results.json: every figure a run produced. */
export interface Results {
  schema: 1;
  date: string;
  mode: 'full' | 'quick';
  scenarios: ScenarioName[];
  runtimeMs: number;
  machine: Machine;
  settings: Settings;
  hits: MeasuredRow[];
  /** The labelled extra of the hits scenario: one hot URL, 64 in flight (coalescing, not the store). */
  hotHits?: MeasuredRow[];
  misses: MeasuredRow[];
  zipf: ZipfRow[];
  herd: HerdRow[];
  cost: CostRow[];
  /** Anything that looked wrong (upstream calls on hits, errors, store timeouts, wrong data). */
  anomalies: string[];
}

export type ScenarioName = 'hits' | 'misses' | 'zipf' | 'herd' | 'cost';
export const SCENARIOS: readonly ScenarioName[] = ['hits', 'misses', 'zipf', 'herd', 'cost'];

export interface Machine {
  cpus: number;
  cpuModel: string;
  totalMemGB: number;
  platform: string;
  node: string;
  redis: string;
  /** `true` when the bench started its own redis-server. */
  redisOwn: boolean;
  axios: string;
  axiosCacheInterceptor: string;
  ioredis: string;
  /** node-redis (`redis`), for the node-redis contender. */
  nodeRedis?: string;
  /** os.loadavg() (1, 5, 15 min) when the run started and when it ended: other load skews every figure. */
  loadAvg: number[];
  loadAvgEnd: number[];
  /** Share of all CPUs used by processes other than the bench and its redis-server during the run (Linux). */
  foreignCpuShare: number | null;
  /** Where the bench and its redis-server ran (see bench/pin.ts), or why they were not pinned. */
  pinning: string;
}

export interface Settings {
  /** Measured time per contender per round (ms). */
  roundMs: number;
  rounds: number;
  /** Rounds of the misses scenario (they vary more from round to round than hits). */
  missRounds: number;
  /** Distinct keys cycled through in the hit scenario (more than the requests in flight: no two share a key). */
  hitKeys: number;
  ttlSeconds: number;
  zipfUrls: number;
  zipfRequests: number;
  zipfExponent: number;
  zipfLatencyMs: number;
  /** Chunks of the Zipf sequence the contenders take turns on. */
  zipfChunks: number;
  herdN: number;
  herdRepetitions: number;
  herdLatencyMs: number;
  herdProcesses: number[];
  /** Entries stored per body in the cost scenario (its own default per size when absent). */
  costEntries?: number;
}

/** Our own store counters over one measurement (deltas of getCacheStats). */
export interface StoreCounters {
  storeTimeouts: number;
  storeErrors: number;
  storeSkips: number;
  badEntries: number;
}

export interface RoundFigure {
  round: number;
  /** Position of this contender in the round's order (0 = first). */
  position: number;
  rps: number;
  requests: number;
  errors: number;
  firstError: string | null;
  upstreamCalls: number;
  p50Ms: number | null;
  p99Ms: number | null;
}

/** One contender in one case (a body size × requests in flight, or an upstream latency × in flight). */
export interface MeasuredRow {
  scenario: 'hits' | 'misses';
  /** e.g. `json-0.5k`. */
  body: string;
  bodyLabel: string;
  concurrency: number;
  /** Upstream latency during the measurement (misses), ms. */
  latencyMs: number;
  contender: ContenderId;
  label: string;
  /** Median req/s over the rounds. */
  rps: number;
  rounds: RoundFigure[];
  /** Latency quantiles over every request of every round (1 in flight only). */
  p50Ms: number | null;
  p99Ms: number | null;
  /** Upstream calls while measuring (hits: must be 0). */
  upstreamCalls: number;
  /** Upstream calls while warming (hits: one per key). */
  warmUpstreamCalls: number;
  requests: number;
  errors: number;
  outcomes: Record<Outcome, number>;
  store: StoreCounters | null;
  /** A sample response's data equals the upstream's body (type included). */
  dataOk: boolean | null;
  notes: string[];
}

export interface ZipfRow {
  contender: ContenderId;
  label: string;
  urls: number;
  requests: number;
  exponent: number;
  concurrency: number;
  latencyMs: number;
  rps: number;
  /** The median of this contender's per-chunk rate over the peer's (axios-cache-interceptor's). */
  ratioToPeer?: number | null;
  elapsedMs: number;
  /** Responses served from the store / requests. */
  hitRatio: number;
  /** Requests that shared an in-process upstream call / requests. */
  coalescedRatio: number;
  /** The best possible: 1 − distinct URLs requested / requests. */
  idealHitRatio: number;
  upstreamCalls: number;
  errors: number;
  outcomes: Record<Outcome, number>;
  store: StoreCounters | null;
  notes: string[];
}

export interface HerdRow {
  contender: ContenderId;
  label: string;
  /** Concurrent identical cold requests per process. */
  n: number;
  processes: number;
  latencyMs: number;
  /** Upstream calls per repetition (one cold URL each). */
  upstreamCalls: number[];
  /** Wall time of each repetition, ms. */
  wallMs: number[];
  errors: number;
  outcomes: Record<Outcome, number>;
}

/** What a cache costs Redis, for one body size and contender (see `scenarios/cost.ts`). */
export interface CostRow {
  contender: ContenderId;
  label: string;
  body: string;
  bodyLabel: string;
  /** The body's size on the wire. */
  bodyBytes: number;
  entries: number;
  /** Redis `used_memory` per entry stored (everything the cache keeps for it: value, key, indexes). */
  memoryPerEntry: number;
  /** The largest value stored (its entry, in the cache's format). */
  valueBytes: number;
  /** Commands Redis ran per miss (scripts' own commands included) and per hit. */
  commandsPerMiss: number;
  commandsPerHit: number;
  /** The miss commands by name (over all the misses). */
  missCommands: Record<string, number>;
  /** The hit commands by name (over all the hits). */
  hitCommands: Record<string, number>;
  hits: number;
}
