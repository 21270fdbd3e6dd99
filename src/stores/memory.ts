import { CacheOptionError } from '../api/errors.js';
import { globToRegExp } from './glob.js';
import { stamped } from './stamp.js';
import { type CacheStore, type IndexRef, indexKey, type StatsReport } from './types.js';

/** Options of {@link MemoryStore}. */
export interface MemoryStoreOptions {
  /**
   * Most entries kept; the least recently used is dropped first.
   * @default 10000
   */
  maxEntries?: number;
  /**
   * Most bytes kept (entry bytes plus key length); the least recently used entries are dropped first.
   * @default 67108864 (64 MiB)
   */
  maxBytes?: number;
  /**
   * Clock in milliseconds, for tests that drive time themselves.
   * @default Date.now
   */
  now?: () => number;
}

interface Slot {
  value: Uint8Array;
  expiresAt: number;
  bytes: number;
  /** The indexes listing this key (and as what), so that dropping the entry also drops it from them. */
  indexes: readonly IndexRef[];
}

/**
 * A bounded, in-process LRU store with per-entry expiry: the embedded default when `withCache` is
 * given no `store`. It serves one process only: use Redis to share a cache (and coalescing) across
 * processes. It has no fill leases: in one process, the in-flight map already makes identical requests
 * share one upstream call.
 */
export class MemoryStore implements CacheStore {
  readonly maxEntries: number;
  readonly maxBytes: number;
  private readonly now: () => number;
  private readonly slots = new Map<string, Slot>();
  private readonly indexes = new Map<string, Map<string, number>>();
  /** Fleet counter hashes (`recordStats`): they do not expire, as a Redis hash without TTL. */
  private readonly counters = new Map<string, Map<string, number>>();
  private bytes = 0;

  constructor(options: MemoryStoreOptions = {}) {
    this.maxEntries = positiveInteger('maxEntries', options.maxEntries, 10_000);
    this.maxBytes = positiveInteger('maxBytes', options.maxBytes, 64 * 1024 * 1024);
    if (options.now !== undefined && typeof options.now !== 'function') {
      throw new CacheOptionError('now', options.now, 'a function returning milliseconds');
    }
    this.now = options.now ?? Date.now;
  }

  /** Number of live entries (expired ones may be counted until they are next touched). */
  get size(): number {
    return this.slots.size;
  }

  /** Bytes currently accounted for. */
  get byteSize(): number {
    return this.bytes;
  }

  async get(key: string): Promise<Uint8Array | null> {
    return this.read(key);
  }

  /** Synchronous read: the bytes or `null`. Refreshes the entry's LRU position. */
  read(key: string): Uint8Array | null {
    const slot = this.slots.get(key);
    if (!slot) return null;
    if (slot.expiresAt <= this.now()) {
      this.remove(key, slot);
      return null;
    }
    // Move to the most recently used end.
    this.slots.delete(key);
    this.slots.set(key, slot);
    return slot.value;
  }

  async set(key: string, value: Uint8Array, ttlMs: number, indexes: readonly IndexRef[]): Promise<void> {
    const now = this.now();
    const expiresAt = now + ttlMs;
    const bytes = value.byteLength + key.length * 2;
    const old = this.slots.get(key);
    if (old) this.remove(key, old);
    if (bytes > this.maxBytes || ttlMs <= 0) return;
    this.slots.set(key, { value, expiresAt, bytes, indexes: [...indexes] });
    this.bytes += bytes;
    for (const index of indexes) {
      const name = indexKey(index);
      let members = this.indexes.get(name);
      if (!members) {
        members = new Map();
        this.indexes.set(name, members);
      }
      members.set(typeof index === 'string' ? key : index.member, expiresAt);
    }
    this.evictOverflow();
  }

  async replaceHead(key: string, oldHead: Uint8Array, newHead: Uint8Array, ttlMs: number): Promise<boolean> {
    const value = this.read(key);
    if (!value || value.byteLength < oldHead.byteLength) return false;
    if (Buffer.compare(Buffer.from(value.buffer, value.byteOffset, oldHead.byteLength), oldHead) !== 0) return false;
    const replaced = Buffer.concat([newHead, value.subarray(oldHead.byteLength)]);
    const slot = this.slots.get(key);
    await this.set(key, replaced, ttlMs, slot?.indexes ?? []);
    return true;
  }

  async markStale(keys: readonly string[], staleAt: number, graceMs: number, header: Uint8Array): Promise<number> {
    let marked = 0;
    for (const key of keys) {
      const slot = this.slots.get(key);
      if (!slot || slot.expiresAt <= this.now()) continue;
      // A new value (reads may have handed out the old one): same expiry, same indexes.
      const value = stamped(slot.value, header, staleAt, graceMs);
      if (!value) continue;
      slot.value = value;
      marked++;
    }
    return marked;
  }

  async indexMembers(indexKeys: readonly string[]): Promise<string[]> {
    const members = new Set<string>();
    for (const indexKey of indexKeys) for (const key of this.indexes.get(indexKey)?.keys() ?? []) members.add(key);
    return [...members];
  }

  async *scan(pattern: string): AsyncIterable<string[]> {
    const re = globToRegExp(pattern);
    const now = this.now();
    const keys = [...this.slots].filter(([key, slot]) => slot.expiresAt > now && re.test(key)).map(([key]) => key);
    if (keys.length > 0) yield keys;
  }

  async recordStats(report: StatsReport): Promise<void> {
    let counters = this.counters.get(report.countersKey);
    if (!counters) {
      counters = new Map();
      this.counters.set(report.countersKey, counters);
    }
    for (const [name, delta] of Object.entries(report.deltas)) counters.set(name, (counters.get(name) ?? 0) + delta);
    await this.set(report.instanceKey, Buffer.from(report.instance), report.ttlMs, []);
  }

  async readStats(
    countersKey: string,
    instancePattern: string,
  ): Promise<{ counters: Record<string, string>; instances: string[] }> {
    const counters: Record<string, string> = {};
    for (const [name, value] of this.counters.get(countersKey) ?? []) counters[name] = String(value);
    const instances: string[] = [];
    for await (const keys of this.scan(instancePattern)) {
      for (const key of keys) {
        const value = this.read(key);
        if (value) instances.push(Buffer.from(value).toString('utf8'));
      }
    }
    return { counters, instances };
  }

  async delete(keys: readonly string[]): Promise<number> {
    let removed = 0;
    const now = this.now();
    for (const key of keys) {
      const slot = this.slots.get(key);
      if (slot) {
        if (slot.expiresAt > now) removed++;
        this.remove(key, slot);
      }
    }
    return removed;
  }

  async deleteIndexed(indexKeys: readonly string[]): Promise<number> {
    const members = new Set<string>();
    for (const indexKey of indexKeys) {
      const index = this.indexes.get(indexKey);
      if (!index) continue;
      for (const member of index.keys()) members.add(member);
      this.indexes.delete(indexKey);
    }
    return this.delete([...members]);
  }

  async deleteMatching(pattern: string, filter?: (key: string) => boolean): Promise<number> {
    const re = globToRegExp(pattern);
    let removed = 0;
    const now = this.now();
    for (const [key, slot] of [...this.slots]) {
      if (!re.test(key) || (filter && !filter(key))) continue;
      if (slot.expiresAt > now) removed++;
      this.remove(key, slot);
    }
    if (!filter) {
      for (const key of [...this.indexes.keys()]) if (re.test(key)) this.indexes.delete(key);
    }
    return removed;
  }

  /** Drop everything. */
  clear(): void {
    this.slots.clear();
    this.indexes.clear();
    this.bytes = 0;
  }

  /** Number of indexes held (each lists at least one stored entry). */
  get indexCount(): number {
    return this.indexes.size;
  }

  private remove(key: string, slot: Slot): void {
    this.slots.delete(key);
    this.bytes -= slot.bytes;
    for (const index of slot.indexes) {
      const name = indexKey(index);
      const members = this.indexes.get(name);
      if (!members) continue;
      members.delete(typeof index === 'string' ? key : index.member);
      if (members.size === 0) this.indexes.delete(name);
    }
  }

  private evictOverflow(): void {
    if (this.slots.size <= this.maxEntries && this.bytes <= this.maxBytes) return;
    // Map iteration order is least recently used first.
    for (const [key, slot] of this.slots) {
      if (this.slots.size <= this.maxEntries && this.bytes <= this.maxBytes) break;
      this.remove(key, slot);
    }
  }
}

function positiveInteger(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1) {
    throw new CacheOptionError(name, value, 'a positive integer');
  }
  return value;
}
