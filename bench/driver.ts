import { performance } from 'node:perf_hooks';

/** What one measured run produced. */
export interface RunResult {
  requests: number;
  errors: number;
  firstError: string | null;
  elapsedMs: number;
  /** Completed requests per second (errors excluded). */
  rps: number;
  /** Per-request latencies in ms (unsorted), when recorded. */
  latencies: number[];
}

export interface InFlightOptions {
  /** Requests kept outstanding: this many workers each loop `await task(i)`. */
  concurrency: number;
  /** Stop starting new requests after this long... */
  durationMs?: number;
  /** ...or after this many (whichever is given; both: whichever comes first). */
  count?: number;
  /** `i` counts requests started, from 0. */
  task: (i: number) => Promise<unknown>;
  recordLatency?: boolean;
}

const MAX_ERRORS = 1000;

/** Keep `concurrency` requests in flight until the duration or count is used up. */
export async function inFlight(options: InFlightOptions): Promise<RunResult> {
  const { concurrency, task, recordLatency = false } = options;
  const count = options.count ?? Number.POSITIVE_INFINITY;
  if (options.durationMs === undefined && options.count === undefined) throw new Error('durationMs or count');
  const latencies: number[] = [];
  let started = 0;
  let completed = 0;
  let errors = 0;
  let firstError: string | null = null;
  const start = performance.now();
  const deadline = options.durationMs === undefined ? Number.POSITIVE_INFINITY : start + options.durationMs;
  const worker = async () => {
    while (started < count && errors < MAX_ERRORS && performance.now() < deadline) {
      const i = started++;
      const t0 = recordLatency ? performance.now() : 0;
      try {
        await task(i);
        completed++;
        if (recordLatency) latencies.push(performance.now() - t0);
      } catch (error) {
        errors++;
        firstError ??= describe(error);
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  const elapsedMs = performance.now() - start;
  return { requests: completed, errors, firstError, elapsedMs, rps: (completed * 1000) / elapsedMs, latencies };
}

function describe(error: unknown): string {
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    return `${error.name}${code ? ` ${String(code)}` : ''}: ${error.message}`;
  }
  return String(error);
}

export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

/** The q-quantile (0..1) of `values` (nearest rank). */
export function quantile(values: readonly number[], q: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = Float64Array.from(values).sort();
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[rank] as number;
}

/** Contender order of round `r`: as given on even rounds, reversed on odd ones. */
export function alternate<T>(items: readonly T[], round: number): T[] {
  return round % 2 === 0 ? [...items] : [...items].reverse();
}

/** Let the previous run's garbage go before the next one starts (when node runs with --expose-gc). */
export async function settle(): Promise<void> {
  await new Promise((resolve) => setImmediate(resolve));
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc) gc();
}
