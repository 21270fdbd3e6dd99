import type { Entry } from '../entries/entry.js';

/** Settings of the in-process layer. */
export interface L1Settings {
  maxEntries: number;
  maxBytes: number;
  ttlMs: number;
  /** Kept past freshness for this long, to answer while the store cannot be read (0: off). */
  graceMs: number;
}

interface Slot {
  entry: Entry;
  /** Served until: the entry's freshness or the layer's own TTL, whichever comes first. */
  until: number;
  /** Kept until: `until`, or the end of its grace (freshness + `graceMs`) when later. */
  keepUntil: number;
  bytes: number;
}

/**
 * The optional in-process layer (`l1`): a small LRU of decoded entries in front of the store, so that a
 * hot key is answered without a Redis round trip. Bounded in staleness: an entry is served for at most
 * `ttl` and never past its freshness, and it is served only while `usable` is true (the invalidation
 * subscription is live); any eviction or overwrite anywhere in the fleet drops it when the message
 * arrives. Entries are shared, never mutated: each caller still gets its own response and data.
 */
export class LocalLayer {
  private readonly slots = new Map<string, Slot>();
  private bytes = 0;
  /** False while invalidations may be missed (subscription down): nothing is served then. */
  usable = false;

  constructor(private readonly settings: L1Settings) {}

  get size(): number {
    return this.slots.size;
  }

  /** Whether entries are kept for grace while the store is down (`l1.grace`). */
  get graceMs(): number {
    return this.settings.graceMs;
  }

  get(key: string, now: number): Entry | null {
    if (!this.usable) return null;
    const slot = this.slots.get(key);
    if (!slot) return null;
    if (slot.until <= now) {
      if (slot.keepUntil <= now) this.remove(key, slot);
      return null;
    }
    this.slots.delete(key); // most recently used last
    this.slots.set(key, slot);
    return slot.entry;
  }

  /**
   * The copy this process holds of `key` within its grace (freshness + `l1.grace`), whether or not the
   * layer is usable: for the store-is-down answer only, which the caller marks stale.
   */
  getForGrace(key: string, now: number): Entry | null {
    if (this.settings.graceMs <= 0) return null;
    const slot = this.slots.get(key);
    if (!slot) return null;
    if (slot.keepUntil <= now || slot.entry.freshUntil + this.settings.graceMs <= now) return null;
    return slot.entry;
  }

  /**
   * Keep `entry` for `key`: served (while usable) for at most `l1.ttl` and never past its freshness; kept
   * for grace (`l1.grace`) past that. `forGraceOnly`: an answer fetched while the store could not be read
   * (the layer is not usable then) — kept for grace, never served as fresh from here.
   */
  set(key: string, entry: Entry, now: number, forGraceOnly = false): void {
    if (!this.usable && !(forGraceOnly && this.settings.graceMs > 0)) return;
    entry.owned = false; // shared by every later hit from now on: each caller gets a copy
    const until = forGraceOnly ? now : Math.min(entry.freshUntil, now + this.settings.ttlMs);
    const keepUntil = Math.max(until, entry.freshUntil + this.settings.graceMs);
    const old = this.slots.get(key);
    if (old) this.remove(key, old);
    const bytes = entry.body.byteLength + key.length * 2 + 256;
    if (keepUntil <= now || bytes > this.settings.maxBytes) return;
    this.slots.set(key, { entry, until, keepUntil, bytes });
    this.bytes += bytes;
    for (const [k, slot] of this.slots) {
      if (this.slots.size <= this.settings.maxEntries && this.bytes <= this.settings.maxBytes) break;
      this.remove(k, slot);
    }
  }

  /**
   * This process is storing a newer answer for `key`: its copy is no longer served, but with `l1.grace` it
   * is kept for grace until the new answer replaces it (should the write fail, the store is failing).
   */
  supersede(key: string): void {
    const slot = this.slots.get(key);
    if (!slot) return;
    if (this.settings.graceMs > 0) slot.until = 0;
    else this.remove(key, slot);
  }

  delete(key: string): void {
    const slot = this.slots.get(key);
    if (slot) this.remove(key, slot);
  }

  /** Drop every entry whose key starts with `prefix` (all variants of one request). */
  deletePrefix(prefix: string): void {
    for (const [key, slot] of this.slots) if (key.startsWith(prefix)) this.remove(key, slot);
  }

  clear(): void {
    this.slots.clear();
    this.bytes = 0;
  }

  private remove(key: string, slot: Slot): void {
    this.slots.delete(key);
    this.bytes -= slot.bytes;
  }
}
