/**
 * The soft-eviction stamp: 16 bytes at a fixed place in every value the cache stores (after its 4-byte
 * magic and version), outside the value's own checksums, so that a store marks an entry stale in place
 * (`CacheStore.markStale`; on Redis one `SETRANGE`, in a script) without reading or moving it. Four
 * unsigned 32-bit integers, big-endian: the time it went stale (ms since epoch, high and low words), the
 * grace window (ms), and a check (`high ^ low ^ grace ^ 0x5a5a5a5a`, as a signed 32-bit integer) — a changed
 * stamp is caught like a changed value. All zeros: not marked.
 */

export const STAMP_OFFSET = 4;
export const STAMP_BYTES = 16;
/** The check's constant (1515870810): `MARK_STALE` computes the same in Lua. */
export const STAMP_CHECK = 0x5a5a5a5a;

/** A soft eviction's mark: stale from `staleAt`, served stale at most until `graceUntil` (ms since epoch). */
export interface StaleStamp {
  readonly staleAt: number;
  readonly graceUntil: number;
}

/** The stamp of a value: `null` when unmarked, `'changed'` when its check fails. */
export function readStamp(value: Uint8Array): StaleStamp | null | 'changed' {
  const view = new DataView(value.buffer, value.byteOffset, value.byteLength);
  const hi = view.getUint32(STAMP_OFFSET);
  const lo = view.getUint32(STAMP_OFFSET + 4);
  const grace = view.getUint32(STAMP_OFFSET + 8);
  const check = view.getInt32(STAMP_OFFSET + 12);
  if (hi === 0 && lo === 0 && grace === 0 && check === 0) return null;
  if (check !== (hi ^ lo ^ grace ^ STAMP_CHECK) || hi > 0x1fffff) return 'changed';
  const staleAt = hi * 0x1_0000_0000 + lo;
  return { staleAt, graceUntil: staleAt + grace };
}

/**
 * A copy of `value` marked stale from `staleAt` for `graceMs` (an earlier mark keeps its earlier times, as
 * `MARK_STALE` does), or `null` when `value` does not start with `header` (not an entry of this version).
 */
export function stamped(value: Uint8Array, header: Uint8Array, staleAt: number, graceMs: number): Uint8Array | null {
  if (value.byteLength < STAMP_OFFSET + STAMP_BYTES) return null;
  for (let i = 0; i < header.byteLength; i++) if (value[i] !== header[i]) return null;
  let start = Math.floor(staleAt);
  let end = start + Math.max(0, Math.floor(graceMs));
  const before = readStamp(value);
  if (before !== null && before !== 'changed') {
    start = Math.min(start, before.staleAt);
    end = Math.min(end, before.graceUntil);
  }
  end = Math.max(end, start);
  const copy = new Uint8Array(value);
  const view = new DataView(copy.buffer, copy.byteOffset, copy.byteLength);
  const hi = Math.floor(start / 0x1_0000_0000);
  const lo = start - hi * 0x1_0000_0000;
  const grace = end - start;
  view.setUint32(STAMP_OFFSET, hi);
  view.setUint32(STAMP_OFFSET + 4, lo);
  view.setUint32(STAMP_OFFSET + 8, grace);
  view.setInt32(STAMP_OFFSET + 12, hi ^ lo ^ grace ^ STAMP_CHECK);
  return copy;
}
