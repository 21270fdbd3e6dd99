import type { AxiosError, AxiosResponse, InternalAxiosRequestConfig } from 'axios';
import { bytesToBody, type Entry, type EntryMeta, type EntryPolicy } from '../entries/entry.js';
import type { Timings } from '../observe/tracing.js';
import type { ResponseHead, StaleReason } from './replay.js';

/** The upstream call a fill made: whose config it ran with, and the adapter's own answer. */
export interface UpstreamCall {
  /** The config of the caller that owned the call (see `Flight.owner`): that caller gets `response` itself. */
  readonly config: InternalAxiosRequestConfig;
  readonly response: AxiosResponse;
  /** The adapter's own rejection when `validateStatus` refused the status (it carries `response`). */
  readonly rejection: AxiosError | null;
}

/**
 * What a fill produced, shared by every caller of the flight; each caller builds its own response from it.
 * `source`: `store` (fresh entry), `stale` (stale entry served), `fleet` (entry filled meanwhile by another
 * process), `upstream` (fetched here: `upstream` says by whom).
 */
export type Outcome =
  | {
      kind: 'response';
      source: 'store' | 'stale' | 'fleet' | 'upstream' | 'revalidated';
      head: ResponseHead;
      /** A copy of the body for each caller that replays it (never the owner's own data). */
      body: () => unknown;
      /** Length of the stored body in bytes (entries only; what `maxContentLength` is checked against). */
      bodyBytes: number;
      createdAt: number;
      /** The shared `request` of an upstream answer (replays of an entry build their own). */
      request: unknown;
      /** The stored answer's shared metadata, when the outcome comes from a decoded entry that has it. */
      meta?: EntryMeta | undefined;
      /** The stored answer's HTTP policy (entries only): an `Age` header is added under `httpSemantics`. */
      policy?: EntryPolicy;
      /** Until when the stored answer is fresh (entries only). */
      freshUntil?: number;
      /** With `source: 'stale'`: why. */
      staleReason?: StaleReason;
      /** Time the fill spent in the store and waiting on the fleet's lease (only while traced). */
      timings?: Timings;
      upstream?: UpstreamCall;
    }
  | {
      kind: 'error';
      error: unknown;
      /** The config the failed upstream call ran with (its owner gets `error` itself), or `null`. */
      config: InternalAxiosRequestConfig | null;
    };

/** An outcome served from a stored entry (`stale`: with the reason it may be). */
export function entryOutcome(
  entry: Entry,
  source: 'store' | 'stale' | 'fleet' | 'revalidated',
  staleReason?: StaleReason,
): Outcome {
  const outcome: Outcome = {
    kind: 'response',
    source,
    head: entry,
    body: () => bytesToBody(entry),
    bodyBytes: entry.body.byteLength,
    createdAt: entry.createdAt,
    request: undefined,
    meta: entry.meta,
    policy: entry.policy,
    freshUntil: entry.freshUntil,
  };
  if (staleReason) outcome.staleReason = staleReason;
  return outcome;
}

/** A copy of an upstream answer's data for a caller other than its owner (callers never share data). */
export function copyData(data: unknown): unknown {
  if (data === null || typeof data !== 'object') return data; // strings and scalars are immutable
  if (Buffer.isBuffer(data)) return Buffer.from(data);
  if (data instanceof ArrayBuffer) return data.slice(0);
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength).slice();
  if (typeof Blob !== 'undefined' && data instanceof Blob) return data; // immutable
  try {
    return structuredClone(data);
  } catch {
    return data;
  }
}
