import type { Entry } from '../entries/entry.js';

/** Settings of the in-process layer. */
export interface L1Settings {
  maxEntries: number;
  maxBytes: number;
  ttlMs: number;
}

interface Slot {
  entry: Entry;
  /** Served until: the entry's freshness or the layer's own TTL, whichever comes first. */
  until: number;
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

  get(key: string, now: number): Entry | null {
    if (!this.usable) return null;
    const slot = this.slots.get(key);
    if (!slot) return null;
    if (slot.until <= now) {
      this.remove(key, slot);
      return null;
    }
    this.slots.delete(key); // most recently used last
    this.slots.set(key, slot);
    return slot.entry;
  }

  set(key: string, entry: Entry, now: number): void {
    if (!this.usable) return;
    entry.owned = false; // shared by every later hit from now on: each caller gets a copy
    const until = Math.min(entry.freshUntil, now + this.settings.ttlMs);
    const old = this.slots.get(key);
    if (old) this.remove(key, old);
    const bytes = entry.body.byteLength + key.length * 2 + 256;
    if (until <= now || bytes > this.settings.maxBytes) return;
    this.slots.set(key, { entry, until, bytes });
    this.bytes += bytes;
    for (const [k, slot] of this.slots) {
      if (this.slots.size <= this.settings.maxEntries && this.bytes <= this.settings.maxBytes) break;
      this.remove(k, slot);
    }
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
