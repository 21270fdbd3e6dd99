/**
 * Soft eviction and grace, without a server: the stamp's encoding (shared with the `MARK_STALE` script),
 * the memory store's marking, a soft-evicted entry's answers and its one refresh, and `l1`'s grace copies.
 */
import axios, { type AxiosAdapter, type InternalAxiosRequestConfig } from 'axios';
import { describe, expect, it } from 'vitest';
import { decodeEntry } from '../../src/entries/entry.js';
import { ENTRY_HEADER } from '../../src/entries/format.js';
import {
  clearCache,
  evict,
  evictTags,
  getCacheStats,
  MemoryStore,
  type StaleReason,
  withCache,
} from '../../src/index.js';
import { LocalLayer } from '../../src/local/l1.js';
import { readStamp, STAMP_CHECK, STAMP_OFFSET, stamped } from '../../src/stores/stamp.js';
import { entryBytes } from '../helpers/entries.js';

const KEY = { entry: 'p:{rid}:_:GET http://api.test/x', label: 'GET http://api.test/x' };

function storedHello(freshUntil = Date.now() + 60_000): Buffer {
  return entryBytes(KEY.entry, { headers: { 'content-type': 'text/plain' }, freshUntil, body: Buffer.from('hello') });
}

describe('the soft-eviction stamp', () => {
  it('is all zeros in a new entry: not soft-evicted', () => {
    const bytes = storedHello();
    expect(readStamp(bytes)).toBeNull();
    expect(decodeEntry(bytes, KEY).softEvicted).toBeUndefined();
  });

  it('marks an entry stale from a time, for a grace window, and decodes as stale from then', () => {
    const freshUntil = Date.now() + 60_000;
    const staleAt = Date.now() - 1000;
    const marked = stamped(storedHello(freshUntil), ENTRY_HEADER, staleAt, 30_000) as Uint8Array;
    expect(readStamp(marked)).toEqual({ staleAt, graceUntil: staleAt + 30_000 });
    const entry = decodeEntry(marked, KEY);
    expect(entry.freshUntil).toBe(staleAt); // never fresher than it was, stale from the eviction
    expect(entry.softEvicted).toEqual({ staleAt, graceUntil: staleAt + 30_000 });
  });

  it('keeps the earlier stale time and the earlier end of grace when marked again', () => {
    const first = stamped(storedHello(), ENTRY_HEADER, 1_000_000, 5_000) as Uint8Array;
    expect(readStamp(stamped(first, ENTRY_HEADER, 2_000_000, 60_000) as Uint8Array)).toEqual({
      staleAt: 1_000_000,
      graceUntil: 1_005_000,
    });
    expect(readStamp(stamped(first, ENTRY_HEADER, 1_001_000, 1_000) as Uint8Array)).toEqual({
      staleAt: 1_000_000,
      graceUntil: 1_002_000,
    });
  });

  it('leaves a value that is not an entry of this version alone, and never changes the original', () => {
    const original = storedHello();
    const copy = Buffer.from(original);
    expect(stamped(Buffer.from('not an entry, long enough to hold a stamp'), ENTRY_HEADER, 1, 1)).toBeNull();
    const older = Buffer.from(original);
    older[3] = (older[3] as number) - 1;
    expect(stamped(older, ENTRY_HEADER, 1, 1)).toBeNull();
    stamped(original, ENTRY_HEADER, 1, 1);
    expect(original.equals(copy)).toBe(true);
  });

  it('is checked: a changed stamp makes the entry a miss, as any changed byte does', () => {
    const marked = Buffer.from(stamped(storedHello(), ENTRY_HEADER, Date.now(), 1000) as Uint8Array);
    marked[STAMP_OFFSET + 9] = (marked[STAMP_OFFSET + 9] as number) ^ 1; // the grace, longer
    expect(readStamp(marked)).toBe('changed');
    expect(() => decodeEntry(marked, KEY)).toThrow(/stamp does not check/);
  });

  it('uses the check the Lua script computes (bit.bxor of the words and 1515870810, signed)', () => {
    expect(STAMP_CHECK).toBe(1515870810);
    const marked = stamped(storedHello(), ENTRY_HEADER, 0x1_2345_6789, 0xfedc) as Uint8Array;
    const view = Buffer.from(marked);
    const [hi, lo, grace] = [0, 4, 8].map((o) => view.readUInt32BE(STAMP_OFFSET + o)) as [number, number, number];
    expect(view.readInt32BE(STAMP_OFFSET + 12)).toBe(hi ^ lo ^ grace ^ 1515870810);
  });
});

/** An adapter answering `body` for each request (counting them), with an ETag when asked. */
function origin(etag?: string) {
  const seen: InternalAxiosRequestConfig[] = [];
  let version = 1;
  const adapter: AxiosAdapter = async (config) => {
    seen.push(config);
    const validated = etag && config.headers?.get?.('if-none-match') === etag;
    return {
      data: validated ? '' : `v${version}`,
      status: validated ? 304 : 200,
      statusText: validated ? 'Not Modified' : 'OK',
      headers: etag ? { etag, 'content-type': 'text/plain' } : { 'content-type': 'text/plain' },
      config,
      request: {},
    };
  };
  return {
    adapter,
    seen,
    change: () => {
      version++;
    },
  };
}

const flush = () => new Promise((resolve) => setTimeout(resolve, 20));

describe('soft eviction on the memory store', () => {
  it('answers the stale copy at once, refreshes it once, then answers the new one', async () => {
    const up = origin();
    const api = withCache(axios.create({ baseURL: 'http://api.test', adapter: up.adapter }), {
      store: new MemoryStore(),
    });
    expect((await api.get('/a', { cache: { tags: ['t'] } })).data).toBe('v1');
    up.change();
    expect(await evictTags(api, ['t'], { soft: true })).toBe(1);
    const stale = await Promise.all([api.get('/a'), api.get('/a'), api.get('/a')]);
    expect(stale.map((r) => [r.cache?.status, r.cache?.reason, r.data])).toEqual(
      stale.map(() => ['stale', 'soft-evicted' satisfies StaleReason, 'v1']),
    );
    await flush();
    const fresh = await api.get('/a');
    expect([fresh.cache?.status, fresh.data]).toEqual(['hit', 'v2']);
    expect(up.seen).toHaveLength(2); // the first fill and one refresh
    expect(getCacheStats(api).softEvictions).toBe(1);
  });

  it('with an ETag, refreshes with a conditional request', async () => {
    const up = origin('"e1"');
    const api = withCache(axios.create({ baseURL: 'http://api.test', adapter: up.adapter }), {
      store: new MemoryStore(),
    });
    await api.get('/e');
    await evict(api, '/e', { soft: true });
    expect((await api.get('/e')).cache?.status).toBe('stale');
    await flush();
    const renewed = await api.get('/e');
    expect([renewed.cache?.status, renewed.data]).toEqual(['hit', 'v1']);
    expect(up.seen.map((c) => c.headers?.get?.('if-none-match') ?? null)).toEqual([null, '"e1"']);
  });

  it('is a miss past its grace window, and a hard eviction still deletes', async () => {
    const up = origin();
    const api = withCache(axios.create({ baseURL: 'http://api.test', adapter: up.adapter }), {
      store: new MemoryStore(),
    });
    await api.get('/g');
    await clearCache(api, { soft: true, grace: 0.05 });
    await new Promise((resolve) => setTimeout(resolve, 80));
    expect((await api.get('/g')).cache?.status).toBe('miss');
    await evict(api, '/g', { soft: true });
    expect(await evict(api, '/g')).toBe(1);
    expect((await api.get('/g')).cache?.status).toBe('miss');
  });

  it('never answers stale an entry that must be revalidated: it is revalidated at once', async () => {
    const seen: string[] = [];
    const adapter: AxiosAdapter = async (config) => {
      seen.push(String(config.headers?.get?.('if-none-match') ?? ''));
      return {
        data: 'x',
        status: 200,
        statusText: 'OK',
        headers: { 'cache-control': 'max-age=60, must-revalidate', etag: '"m"' },
        config,
        request: {},
      };
    };
    const api = withCache(axios.create({ baseURL: 'http://api.test', adapter }), {
      store: new MemoryStore(),
      httpSemantics: true,
    });
    await api.get('/m');
    await evict(api, '/m', { soft: true });
    expect((await api.get('/m')).cache?.status).not.toBe('stale');
    expect(seen).toEqual(['', '"m"']);
  });
});

describe('l1 grace copies', () => {
  const entry = (freshUntil: number) => decodeEntry(storedHello(freshUntil), KEY);

  it('keeps a copy past its freshness for grace only: never served as fresh, given while within grace', () => {
    const l1 = new LocalLayer({ maxEntries: 10, maxBytes: 1 << 20, ttlMs: 1000, graceMs: 5000 });
    l1.usable = true;
    const now = 1_000_000;
    l1.set('k', entry(now + 100), now);
    expect(l1.get('k', now + 50)).not.toBeNull();
    expect(l1.get('k', now + 200)).toBeNull(); // stale: not served as a hit
    expect(l1.getForGrace('k', now + 200)).not.toBeNull();
    l1.usable = false; // the subscription is down: still there for grace
    expect(l1.getForGrace('k', now + 5000)).not.toBeNull();
    expect(l1.getForGrace('k', now + 5200)).toBeNull(); // past freshness + grace
  });

  it('without grace keeps nothing past freshness; a superseded copy is dropped, or kept for grace only', () => {
    const plain = new LocalLayer({ maxEntries: 10, maxBytes: 1 << 20, ttlMs: 1000, graceMs: 0 });
    plain.usable = true;
    plain.set('k', entry(2_000_000), 1_000_000);
    expect(plain.getForGrace('k', 1_000_001)).toBeNull();
    plain.supersede('k');
    expect(plain.size).toBe(0);
    const graceful = new LocalLayer({ maxEntries: 10, maxBytes: 1 << 20, ttlMs: 1000, graceMs: 5000 });
    graceful.usable = true;
    graceful.set('k', entry(2_000_000), 1_000_000);
    graceful.supersede('k');
    expect(graceful.get('k', 1_000_001)).toBeNull();
    expect(graceful.getForGrace('k', 1_000_001)).not.toBeNull();
  });

  it('keeps an answer fetched while the layer is not usable for grace only', () => {
    const l1 = new LocalLayer({ maxEntries: 10, maxBytes: 1 << 20, ttlMs: 1000, graceMs: 5000 });
    l1.set('k', entry(2_000_000), 1_000_000);
    expect(l1.size).toBe(0); // not usable: nothing kept
    l1.set('k', entry(2_000_000), 1_000_000, true);
    l1.usable = true;
    expect(l1.get('k', 1_000_001)).toBeNull();
    expect(l1.getForGrace('k', 1_000_001)).not.toBeNull();
  });
});
