import { bytesToBody, type Entry, type EntryMeta } from './entry.js';
import type { ResponseHead } from './replay.js';

/**
 * What a fill produced, shared by every caller of the flight; each caller builds its own response from it.
 * `source`: `store` (fresh entry), `stale` (stale entry served), `fleet` (entry filled meanwhile by another
 * process), `upstream` (fetched here).
 */
export type Outcome =
  | {
      kind: 'response';
      source: 'store' | 'stale' | 'fleet' | 'upstream';
      head: ResponseHead;
      /** All headers as the upstream sent them (incl. set-cookie): given only to the request that fetched. */
      upstreamHeaders: ResponseHead['headers'] | null;
      /** A fresh copy of the body for each call. */
      body: () => unknown;
      createdAt: number;
      request: unknown;
      /** The stored answer's shared metadata, when the outcome comes from a decoded entry that has it. */
      meta?: EntryMeta | undefined;
    }
  | { kind: 'error'; error: unknown };

/** An outcome served from a stored entry. */
export function entryOutcome(entry: Entry, source: 'store' | 'stale' | 'fleet'): Outcome {
  return {
    kind: 'response',
    source,
    head: entry,
    upstreamHeaders: null,
    body: () => bytesToBody(entry),
    createdAt: entry.createdAt,
    request: undefined,
    meta: entry.meta,
  };
}

/** The first call gets the upstream's own data; every later call gets a copy (callers never share). */
export function handOut(data: unknown): () => unknown {
  let taken = false;
  return () => {
    if (!taken) {
      taken = true;
      return data;
    }
    return copyData(data);
  };
}

function copyData(data: unknown): unknown {
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
