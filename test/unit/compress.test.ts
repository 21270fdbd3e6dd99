/**
 * Compressed entries, without a server: what is stored, that every reader decodes it whatever its own
 * setting, that the checksums cover the stored bytes, that decompression is bounded, and that a `304`
 * renewal keeps the compressed body.
 */
import zlib from 'node:zlib';
import axios, { type AxiosAdapter } from 'axios';
import { describe, expect, it } from 'vitest';
import { compressBody, decompress, PlainBodies } from '../../src/entries/compress.js';
import { decodeEntry, encodeEntry, TTL_POLICY } from '../../src/entries/entry.js';
import { getCacheStore, inspectEntry, listEntries, MemoryStore, withCache } from '../../src/index.js';

const KEY = { entry: 'p:{rid}:_:GET http://api.test/big', label: 'GET http://api.test/big' };
const BIG = JSON.stringify({
  items: Array.from({ length: 800 }, (_, i) => ({ id: i, name: `item-${i}`, on: i % 2 === 0 })),
});

function entryOf(body: Buffer) {
  return {
    status: 200,
    statusText: 'OK',
    headers: { 'content-type': 'application/json' },
    createdAt: 1_700_000_000_000,
    freshUntil: 1_700_000_060_000,
    fetchMs: 0,
    tags: [],
    bodyKind: 'string' as const,
    blobType: '',
    redirects: 0,
    finalUrl: '',
    vary: { names: [], fingerprint: '' },
    policy: TTL_POLICY,
    body,
  };
}

describe('compressBody and the entry format', () => {
  it.each([
    ['brotli', 'br'],
    ['gzip', 'gzip'],
  ] as const)(
    'stores a large body compressed (%s), records how, and decodes it to the same bytes',
    (algorithm, encoding) => {
      const body = Buffer.from(BIG);
      const stored = compressBody(body, { algorithm, thresholdBytes: 16 * 1024 });
      expect(stored?.encoding).toBe(encoding);
      const bytes = encodeEntry(entryOf(body), KEY.entry, stored);
      expect(bytes.length).toBeLessThan(body.length * 0.35);
      const entry = decodeEntry(bytes, KEY);
      expect(Buffer.from(entry.body).equals(body)).toBe(true);
      expect(entry.storedBody?.encoding).toBe(encoding);
    },
  );

  it('decompresses to exactly the stated length, and refuses output beyond it', () => {
    const body = Buffer.from(BIG);
    for (const algorithm of ['brotli', 'gzip'] as const) {
      const stored = compressBody(body, { algorithm, thresholdBytes: 1 });
      if (!stored) throw new Error('not compressed');
      expect(decompress(Buffer.from(stored.bytes), stored.encoding, body.length).equals(body)).toBe(true);
      expect(() => decompress(Buffer.from(stored.bytes), stored.encoding, body.length - 1)).toThrow();
    }
  });

  it('leaves small bodies, and bodies that do not shrink by a tenth, as they are', () => {
    expect(compressBody(Buffer.from('small'), { algorithm: 'brotli', thresholdBytes: 16 })).toBeUndefined();
    const random = Buffer.from(Array.from({ length: 40_000 }, (_, i) => (i * 7919 + (i >> 3) * 104729) & 0xff));
    const incompressible = zlib.brotliCompressSync(random); // already compressed bytes
    expect(compressBody(incompressible, { algorithm: 'gzip', thresholdBytes: 16 })).toBeUndefined();
    expect(compressBody(Buffer.from(BIG), null)).toBeUndefined();
  });

  it('gzip works the same way', () => {
    const body = Buffer.from(BIG);
    const stored = compressBody(body, { algorithm: 'gzip', thresholdBytes: 1 });
    expect(stored?.encoding).toBe('gzip');
    expect(Buffer.from(decodeEntry(encodeEntry(entryOf(body), KEY.entry, stored), KEY).body).equals(body)).toBe(true);
  });

  it('checks the stored (compressed) bytes, and never decompresses past the length the entry states', () => {
    const body = Buffer.from(BIG);
    const stored = compressBody(body, { algorithm: 'brotli', thresholdBytes: 1 });
    const bytes = encodeEntry(entryOf(body), KEY.entry, stored);
    const changed = Buffer.from(bytes);
    changed[changed.length - 5] = (changed[changed.length - 5] as number) ^ 1;
    expect(() => decodeEntry(changed, KEY)).toThrow(/checksum/);
    // A bomb: a body that says it is small but expands far beyond.
    const bomb = zlib.brotliCompressSync(Buffer.alloc(10_000_000));
    expect(() => decompress(bomb, 'br', 1000)).toThrow();
  });

  it('reuses a decompressed body for the same stored bytes, by key and checksum, within a byte budget', () => {
    const plain = new PlainBodies(1000, 600);
    plain.set('a', 1, Buffer.alloc(500));
    expect(plain.get('a', 1)).toBeDefined();
    expect(plain.get('a', 2)).toBeUndefined(); // other stored bytes
    plain.set('b', 1, Buffer.alloc(501)); // over the budget: the oldest goes
    expect(plain.get('a', 1)).toBeUndefined();
    plain.set('c', 1, Buffer.alloc(700)); // over the largest kept
    expect(plain.get('c', 1)).toBeUndefined();
  });
});

/** An upstream answering BIG (with an ETag, and `304` to a matching conditional request). */
function upstream() {
  const seen: string[] = [];
  const adapter: AxiosAdapter = async (config) => {
    const validated = config.headers?.get?.('if-none-match') === '"v1"';
    seen.push(validated ? '304' : '200');
    return {
      data: validated ? '' : BIG,
      status: validated ? 304 : 200,
      statusText: validated ? 'Not Modified' : 'OK',
      headers: { 'content-type': 'application/json', etag: '"v1"' },
      config,
      request: {},
    };
  };
  return { adapter, seen };
}

describe('compress through a cached instance', () => {
  it('on by default above 16 KiB; an instance with compress: false reads the compressed entries too', async () => {
    const store = new MemoryStore();
    const up = upstream();
    const writer = withCache(axios.create({ baseURL: 'http://api.test', adapter: up.adapter }), { store });
    const reader = withCache(axios.create({ baseURL: 'http://api.test', adapter: up.adapter }), {
      store,
      compress: false,
    });
    const first = await writer.get('/big');
    const stored = (await store.get(first.cache?.key as string)) as Uint8Array;
    expect(stored.byteLength).toBeLessThan(BIG.length * 0.35);
    // gzip by default (its member header, 1f 8b, follows the entry's head).
    expect(Buffer.from(stored).includes(Buffer.from([0x1f, 0x8b, 0x08]))).toBe(true);
    const read = await reader.get('/big');
    expect([read.cache?.status, read.data]).toEqual(['hit', JSON.parse(BIG)]);
    // Per request: stored as it is.
    await reader.get('/raw', { cache: { compress: false } });
    const raw = (await store.get((await reader.get('/raw')).cache?.key as string)) as Uint8Array;
    expect(raw.byteLength).toBeGreaterThan(BIG.length);
    expect(getCacheStore(reader)).toBe(store);
  });

  it('an entry that says it holds more than the reader’s maxEntryBytes decompressed is a miss, never inflated', async () => {
    const store = new MemoryStore();
    const up = upstream();
    // The writer allows bodies of 1 MiB; the reader only 20,000 bytes: BIG (over 20,000) is not its to inflate.
    const writer = withCache(axios.create({ baseURL: 'http://api.test', adapter: up.adapter }), { store });
    const errors: string[] = [];
    const reader = withCache(axios.create({ baseURL: 'http://api.test', adapter: up.adapter }), {
      store,
      maxEntryBytes: 20_000,
      onError: (error) => errors.push(error.message),
    });
    expect(BIG.length).toBeGreaterThan(20_000);
    const first = await writer.get('/big');
    const stored = (await store.get(first.cache?.key as string)) as Uint8Array;
    expect(stored.byteLength).toBeLessThan(20_000); // small enough as stored: only the stated size tells
    const read = await reader.get('/big');
    expect([read.cache?.status, read.data]).toEqual(['miss', JSON.parse(BIG)]);
    expect(errors.some((m) => m.includes('more than maxEntryBytes (20000)'))).toBe(true);
    // Nor does the reader store what it would not read back, however well it compresses.
    const again = await reader.get('/big');
    expect(again.cache?.status).toBe('miss');
    expect(up.seen).toEqual(['200', '200', '200']);
  });

  it('a 304 renewal keeps the compressed body as it is stored', async () => {
    const store = new MemoryStore();
    const up = upstream();
    const api = withCache(axios.create({ baseURL: 'http://api.test', adapter: up.adapter }), { store, ttl: 0.05 });
    await api.get('/big');
    await new Promise((resolve) => setTimeout(resolve, 80));
    const renewed = await api.get('/big');
    expect(renewed.cache?.status).toBe('revalidated');
    expect(renewed.data).toEqual(JSON.parse(BIG));
    expect(up.seen).toEqual(['200', '304']);
    const again = await api.get('/big');
    expect([again.cache?.status, again.data]).toEqual(['hit', JSON.parse(BIG)]);
    const stored = (await store.get(again.cache?.key as string)) as Uint8Array;
    expect(stored.byteLength).toBeLessThan(BIG.length * 0.35);
  });

  it('refuses a bad compress option where it is given', () => {
    expect(() => withCache(axios.create(), { compress: { algorithm: 'zip' as never } })).toThrow(/compress\.algorithm/);
    expect(() => withCache(axios.create(), { compress: { threshold: -1 } })).toThrow(/compress\.threshold/);
    expect(() => withCache(axios.create(), { compress: 'yes' as never })).toThrow(/compress/);
  });
});

describe('listing and inspecting a planted compression bomb', () => {
  it('a body that says it holds more than 64 MiB is not decompressed: left out of ls and inspect', async () => {
    const store = new MemoryStore();
    const up = upstream();
    const api = withCache(axios.create({ baseURL: 'http://api.test', adapter: up.adapter }), { store });
    const key = (await api.get('/big')).cache?.key as string;
    expect(await inspectEntry(store, key)).toHaveLength(1);
    // The same key, now holding 65 MiB of zeros compressed to a few KB (a valid entry: checksums right).
    const bomb = Buffer.alloc(65 * 1024 * 1024);
    const stored = compressBody(bomb, { algorithm: 'brotli', thresholdBytes: 1 });
    expect(stored?.bytes.byteLength).toBeLessThan(100_000);
    await store.set(key, encodeEntry(entryOf(bomb), key, stored), 60_000, []);
    expect(await inspectEntry(store, key)).toEqual([]);
    expect((await listEntries(store)).entries).toEqual([]);
  });
});
