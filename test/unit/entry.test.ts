import { createHash, randomBytes, randomInt } from 'node:crypto';
import { AxiosHeaders } from 'axios';
import { describe, expect, it } from 'vitest';
import { crc32 } from '../../src/entries/checksum.js';
import {
  bodyToBytes,
  bytesToBody,
  decodeEntry,
  type Entry,
  encodeEntry,
  FORMAT_VERSION,
  plainHeaders,
  storableHeaders,
  TTL_POLICY,
} from '../../src/entries/entry.js';
import { CacheEntryError } from '../../src/index.js';
import { STAMP_BYTES, STAMP_OFFSET } from '../../src/stores/stamp.js';

/** The key the test entries are stored under, and its readable label. */
const KEY = { entry: 'test:{rid}:_:GET http://api.test/x', label: 'GET http://api.test/x' };
const encode = (entry: Parameters<typeof encodeEntry>[0], key = KEY.entry) => encodeEntry(entry, key);
const decode = (bytes: Uint8Array, known?: Entry['meta'], remember = false) => decodeEntry(bytes, KEY, known, remember);

/**
 * Recompute the head checksum of hand-changed bytes (it covers the key and the metadata, which holds the
 * body's own checksum), as a bug that wrote them consistently would.
 */
function reseal(bytes: Buffer): Buffer {
  let end = bytes.length;
  if (bytes.length >= META_AT) end = Math.min(end, META_AT + bytes.readUInt32BE(META_AT - 4));
  bytes.writeUInt32BE(crc32(bytes.subarray(CHECKED, end)), CHECKED - 4);
  return bytes;
}

/** Where the head's checksummed part starts: magic, version, the soft-eviction stamp, the checksum. */
const CHECKED = STAMP_OFFSET + STAMP_BYTES + 4;

/** Where the metadata of an encoded entry starts (after the key's hash and the metadata length). */
const META_AT = CHECKED + 8 + 4;
const metaStartOf = (_bytes: Buffer) => META_AT;

/** The metadata every entry carries (plus `fetchMs`, which newer formats record). */
const HEAD = {
  status: 200,
  statusText: 'OK',
  headers: { 'content-type': 'application/json', vary: ['accept', 'origin'] },
  createdAt: 1_700_000_000_000,
  freshUntil: 1_700_000_060_000,
  tags: ['domain:example.com', 'ünïcode'],
  redirects: 2,
  finalUrl: 'https://api.test/final',
  vary: { names: ['accept-language'], fingerprint: 'f' },
  policy: TTL_POLICY,
};

/** A complete entry around a body. */
function entryOf(bodyKind: Entry['bodyKind'], body: Uint8Array, blobType = ''): Entry {
  return { ...HEAD, fetchMs: 12, bodyKind, blobType, body };
}

/** Body → bytes → encoded entry → decoded entry → body, as a store round trip does. */
async function roundTrip(data: unknown): Promise<{ entry: Entry; body: unknown }> {
  const bytes = await bodyToBytes(data);
  if (!bytes) throw new Error('body should be storable');
  const encoded = encode(entryOf(bytes.kind, bytes.bytes, bytes.blobType));
  const entry = decode(encoded);
  return { entry, body: bytesToBody(entry) };
}

/** An entry with hand-written metadata, to produce values the encoder never would. */
function rawEntry(
  meta: unknown,
  body: Uint8Array = new Uint8Array(0),
  version = FORMAT_VERSION,
  key = KEY.entry,
): Buffer {
  const metaBytes =
    typeof meta === 'string' && meta.startsWith('{') ? Buffer.from(meta) : Buffer.from(JSON.stringify(meta));
  const head = Buffer.alloc(META_AT);
  head.set([0x41, 0x52, 0x43, version]);
  head.set(createHash('sha256').update(key).digest().subarray(0, 8), CHECKED);
  head.writeUInt32BE(metaBytes.length, META_AT - 4);
  return reseal(Buffer.concat([head, metaBytes, body]));
}

/** The metadata of a valid entry with the body "ok", as the encoder writes it. */
const GOOD_META: Record<string, unknown> = (() => {
  const good = encode(entryOf('string', Buffer.from('ok')));
  const start = metaStartOf(good);
  return JSON.parse(good.toString('utf8', start, start + good.readUInt32BE(start - 4)));
})();

function expectBadEntry(bytes: Uint8Array, reason: RegExp): void {
  let caught: unknown;
  try {
    decode(bytes);
  } catch (error) {
    caught = error;
  }
  expect(caught).toBeInstanceOf(CacheEntryError);
  const error = caught as CacheEntryError;
  expect(error.code).toBe('ERR_CACHE_BAD_ENTRY');
  expect(error.key).toBe('GET http://api.test/x');
  expect(error.message).toMatch(reason);
}

describe('entry round trips', () => {
  it('keeps the status line, headers, timestamps and tags', async () => {
    const { entry } = await roundTrip('x');
    expect(entry).toMatchObject(HEAD);
    expect(entry.headers).toEqual(HEAD.headers);
    expect(entry.tags).toEqual(HEAD.tags);
  });

  it('round-trips strings, including non-ASCII and the empty string', async () => {
    for (const text of ['plain', 'héllo wörld ✓ 😀 日本語', '', '\u0000\uffff', '{"json":"as text"}']) {
      const { entry, body } = await roundTrip(text);
      expect(entry.bodyKind).toBe('string');
      expect(body).toBe(text);
    }
  });

  it('round-trips a Buffer as a Buffer', async () => {
    const bytes = Buffer.from([0, 1, 2, 253, 254, 255]);
    const { entry, body } = await roundTrip(bytes);
    expect(entry.bodyKind).toBe('buffer');
    expect(Buffer.isBuffer(body)).toBe(true);
    expect(body).toEqual(bytes);
  });

  it('round-trips a Blob as a Blob with its content type', async () => {
    const bytes = Uint8Array.from([0, 1, 2, 253, 254, 255]);
    const { entry, body } = await roundTrip(new Blob([bytes], { type: 'image/png' }));
    expect(entry.bodyKind).toBe('blob');
    expect(entry.blobType).toBe('image/png');
    expect(body).toBeInstanceOf(Blob);
    expect((body as Blob).type).toBe('image/png');
    expect(new Uint8Array(await (body as Blob).arrayBuffer())).toEqual(bytes);
  });

  it('stores only the viewed bytes of a Uint8Array view', async () => {
    const bytes = Uint8Array.from([0, 1, 2, 253, 254, 255]);
    const view = new Uint8Array(Uint8Array.from([9, 9, ...bytes, 9]).buffer, 2, bytes.length);
    const { entry, body } = await roundTrip(view);
    expect(entry.bodyKind).toBe('bytes');
    expect(entry.body.byteLength).toBe(bytes.length);
    expect([...(body as Uint8Array)]).toEqual([...bytes]);
  });

  // Bug (src/entry.ts bytesToBody, case 'arraybuffer'): `body.slice().buffer` — `body` is a Buffer (a subarray
  // of the value read from the store) and Buffer#slice does NOT copy, so `.buffer` is the whole backing
  // ArrayBuffer: the entry header, the metadata and, for pooled buffers, 8 KiB of unrelated memory.
  it('round-trips an ArrayBuffer as an ArrayBuffer holding exactly the body', async () => {
    const bytes = Uint8Array.from([0, 1, 2, 253, 254, 255]);
    const { entry, body } = await roundTrip(bytes.slice().buffer);
    expect(entry.bodyKind).toBe('arraybuffer');
    expect(body).toBeInstanceOf(ArrayBuffer);
    expect((body as ArrayBuffer).byteLength).toBe(bytes.length);
    expect(new Uint8Array(body as ArrayBuffer)).toEqual(bytes);
  });

  // Bug (src/entry.ts bytesToBody, case 'bytes'): `body.slice()` on a Buffer is a view, not a copy, and a
  // Buffer rather than the plain Uint8Array the base adapter returned.
  it('round-trips a Uint8Array as a plain Uint8Array', async () => {
    const { body } = await roundTrip(Uint8Array.from([1, 2, 3]));
    expect(Buffer.isBuffer(body)).toBe(false);
    expect(body).toBeInstanceOf(Uint8Array);
  });

  it('round-trips JSON values and undefined', async () => {
    const values: unknown[] = [{ a: 1, b: [true, null, 'ü'] }, [1, 'two', { three: 3 }], null, 0, -1.5, true, false];
    for (const value of values) {
      const { entry, body } = await roundTrip(value);
      expect(entry.bodyKind).toBe('json');
      expect(body).toEqual(value);
    }
    const empty = await roundTrip(undefined);
    expect(empty.entry.bodyKind).toBe('empty');
    expect(empty.entry.body.byteLength).toBe(0);
    expect(empty.body).toBeUndefined();
  });

  it('refuses bodies that cannot be stored', async () => {
    expect(await bodyToBytes(new Map())).toBeNull();
    expect(await bodyToBytes(() => 1)).toBeNull();
    expect(await bodyToBytes(Symbol('s'))).toBeNull();
  });

  it('round-trips 1,000 random byte strings of random lengths', async () => {
    for (let i = 0; i < 1000; i++) {
      const bytes = randomBytes(randomInt(0, 4097));
      const { entry, body } = await roundTrip(bytes);
      expect(entry.body.byteLength).toBe(bytes.length);
      if (!bytes.equals(body as Buffer)) throw new Error(`round trip ${i} changed ${bytes.length} bytes`);

      const asView = bytesToBody({ bodyKind: 'bytes', blobType: '', body: entry.body }) as Uint8Array;
      if (!bytes.equals(asView)) throw new Error(`round trip ${i} (Uint8Array) changed the bytes`);
    }
  });

  it('decodes from a Uint8Array that is not a Buffer, at an offset', async () => {
    const encoded = encode(entryOf('string', Buffer.from('hello')));
    const padded = new Uint8Array(encoded.length + 3);
    padded.set(encoded, 3);
    const entry = decode(new Uint8Array(padded.buffer, 3, encoded.length));
    expect(bytesToBody(entry)).toBe('hello');
  });
});

describe('bytesToBody copies', () => {
  /** Decode an entry from a buffer that is not pooled, so that nothing else shares its memory. */
  function isolatedEntry(kind: Entry['bodyKind'], body: Uint8Array): { encoded: Buffer; entry: Entry } {
    const pooled = encode(entryOf(kind, body));
    const encoded = Buffer.alloc(pooled.length);
    pooled.copy(encoded);
    return { encoded, entry: decode(encoded) };
  }

  it('returns a fresh Buffer each time: mutating one result changes neither the next nor the stored bytes', () => {
    const { encoded, entry } = isolatedEntry('buffer', Buffer.from([1, 2, 3]));
    const snapshot = [...encoded];
    const first = bytesToBody(entry) as Buffer;
    first.fill(99);
    expect([...(bytesToBody(entry) as Buffer)]).toEqual([1, 2, 3]);
    expect([...encoded]).toEqual(snapshot);
  });

  it('returns a fresh JSON value each time', () => {
    const { entry } = isolatedEntry('json', Buffer.from('{"list":[1,2,3]}'));
    const first = bytesToBody(entry) as { list: number[] };
    first.list[0] = 99;
    expect(bytesToBody(entry)).toEqual({ list: [1, 2, 3] });
  });

  // Same cause as above: Buffer#slice shares memory, so a caller's write reaches the stored entry.
  it('returns a fresh ArrayBuffer each time, detached from the stored bytes', () => {
    const { encoded, entry } = isolatedEntry('arraybuffer', Buffer.from([1, 2, 3]));
    const snapshot = [...encoded];
    new Uint8Array(bytesToBody(entry) as ArrayBuffer).fill(99);
    expect([...new Uint8Array(bytesToBody(entry) as ArrayBuffer)]).toEqual([1, 2, 3]);
    expect([...encoded]).toEqual(snapshot);
  });

  it('returns a fresh Uint8Array each time, detached from the stored bytes', () => {
    const { encoded, entry } = isolatedEntry('bytes', Buffer.from([1, 2, 3]));
    const snapshot = [...encoded];
    (bytesToBody(entry) as Uint8Array).fill(99);
    expect([...(bytesToBody(entry) as Uint8Array)]).toEqual([1, 2, 3]);
    expect([...encoded]).toEqual(snapshot);
  });
});

describe('decodeEntry rejects unusable values with CacheEntryError', () => {
  it('rejects garbage, empty and short values', () => {
    expectBadEntry(new Uint8Array(0), /not an axios-redis-cache entry/);
    expectBadEntry(Buffer.from('ARC'), /not an axios-redis-cache entry/);
    expectBadEntry(Buffer.from('{"s":200,"t":"OK"}'), /not an axios-redis-cache entry/);
    for (let i = 0; i < 100; i++) {
      const garbage = randomBytes(randomInt(0, 300));
      if (garbage.subarray(0, 3).toString('latin1') === 'ARC') continue;
      expectBadEntry(garbage, /not an axios-redis-cache entry/);
    }
  });

  it('rejects a wrong magic', () => {
    const good = rawEntry(GOOD_META, Buffer.from('ok'));
    expect(bytesToBody(decodeEntry(good))).toBe('ok');
    for (const index of [0, 1, 2]) {
      const bad = Buffer.from(good);
      bad[index] = 0x5a;
      expectBadEntry(bad, /not an axios-redis-cache entry/);
    }
  });

  it('rejects another format version', () => {
    for (const version of [0, FORMAT_VERSION + 1, 255]) {
      expectBadEntry(rawEntry(GOOD_META, Buffer.from('ok'), version), new RegExp(`format version ${version}`));
    }
  });

  it('rejects a truncated or over-long body (with a checksum that matches)', () => {
    const good = encode(entryOf('string', Buffer.from('0123456789')));
    const cut = (end: number) => reseal(Buffer.from(good.subarray(0, end)));
    expectBadEntry(cut(good.length - 1), /body is 9 bytes, expected 10/);
    expectBadEntry(cut(good.length - 10), /body is 0 bytes, expected 10/);
    expectBadEntry(reseal(Buffer.concat([good, Buffer.from('x')])), /body is 11 bytes, expected 10/);
  });

  it('rejects truncated metadata or key (with a checksum that matches)', () => {
    const good = encode(entryOf('string', Buffer.from('0123456789')));
    const start = metaStartOf(good);
    const metaLength = good.readUInt32BE(start - 4);
    expectBadEntry(reseal(Buffer.from(good.subarray(0, start + metaLength - 1))), /truncated metadata/);
    expectBadEntry(reseal(Buffer.from(good.subarray(0, CHECKED + 6))), /not an axios-redis-cache entry/);
    const lying = Buffer.from(good);
    lying.writeUInt32BE(0xffffffff, start - 4);
    expectBadEntry(reseal(lying), /truncated metadata/);
  });

  it('rejects metadata that is not JSON', () => {
    expectBadEntry(rawEntry('{nope'), /metadata is not JSON/);
  });

  it('rejects any changed byte: the checksums cover the stamp, the key, the metadata and the body', () => {
    const good = encode(entryOf('string', Buffer.from('0123456789')));
    for (let i = STAMP_OFFSET; i < good.length; i++) {
      const changed = Buffer.from(good);
      changed[i] = (changed[i] as number) ^ 0x20;
      // A changed length field can make the structure impossible before the checksums are compared.
      expectBadEntry(changed, /checksum does not match|truncated|stamp does not check/);
    }
    const swapped = Buffer.from(good);
    swapped.write('98', good.length - 2, 'latin1'); // same length, other digits
    expectBadEntry(swapped, /checksum does not match/);
    expect(decode(good).body.byteLength).toBe(10);
  });

  it('rejects a valid entry of another key: a reply meant for another command, or a copy under a foreign key', () => {
    const alices = encode(
      entryOf('string', Buffer.from('{"orders":["alice"]}')),
      'test:{rid}:alice:GET http://api.test/me',
    );
    let caught: unknown;
    try {
      decode(alices);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(CacheEntryError);
    expect((caught as CacheEntryError).problem).toBe('key');
    expect((caught as CacheEntryError).message).toMatch(/stored for another key/);
    // Without an expected key (tools that inspect any entry), it decodes.
    expect(bytesToBody(decodeEntry(alices))).toBe('{"orders":["alice"]}');
  });

  it('never replays a set-cookie or hop-by-hop header, however it got into the stored metadata', () => {
    const planted = rawEntry(
      { ...GOOD_META, h: { 'content-type': 'text/plain', 'set-cookie': ['sid=alice'], connection: 'close' } },
      Buffer.from('ok'),
    );
    expect(decode(planted).headers).toEqual({ 'content-type': 'text/plain' });
  });

  it('rejects metadata with missing fields or fields of the wrong type', () => {
    const broken: Record<string, unknown>[] = [
      { s: '200' },
      { s: undefined },
      { t: 200 },
      { h: null },
      { h: 'content-type: x' },
      { c: '1' },
      { f: null },
      { g: 'tag' },
      { k: 'stream' },
      { k: 1 },
      { b: null },
      { n: '2' },
    ];
    for (const change of broken) {
      expectBadEntry(rawEntry({ ...GOOD_META, ...change }, Buffer.from('ok')), /metadata fields/);
    }
    expectBadEntry(rawEntry([1, 2], Buffer.from('ok')), /metadata is not an object/);
    expectBadEntry(rawEntry('a string', Buffer.from('ok')), /metadata is not an object/);
  });

  // Bug (src/entry.ts decodeEntry, `const { s, t, ... } = meta`): metadata that parses to JSON `null` makes the
  // destructuring throw a TypeError instead of a CacheEntryError (onError then receives a TypeError).
  it('rejects metadata that is JSON null', () => {
    expectBadEntry(rawEntry(null, Buffer.from('ok')), /metadata/);
  });
});

describe('decodeEntry with the metadata of the last read (known)', () => {
  const encoded = (body: string, createdAt = HEAD.createdAt) =>
    encode({ ...entryOf('string', Buffer.from(body)), createdAt });

  it('reuses the metadata when its bytes are the same (the same stored answer read again)', () => {
    const first = decode(encoded('{"v":1}'), undefined, true);
    expect(first.meta).toBeDefined();
    const again = decode(encoded('{"v":1}'), first.meta, true);
    expect(again.meta).toBe(first.meta);
    expect(again.headers).toBe(first.headers);
    expect({ ...again, body: undefined, meta: undefined }).toEqual({ ...first, body: undefined, meta: undefined });
    expect(bytesToBody(again)).toBe('{"v":1}');
  });

  it('decodes afresh for another body: the metadata holds the body checksum', () => {
    const first = decode(encoded('{"v":1}'), undefined, true);
    const other = decode(encoded('{"v":2}'), first.meta, true);
    expect(other.meta).not.toBe(first.meta);
    expect(bytesToBody(other)).toBe('{"v":2}');
  });

  it('decodes afresh when the metadata differs (another stored answer), and keeps a copy of its bytes', () => {
    const source = encoded('{"v":1}');
    const first = decode(source, undefined, true);
    const newer = decode(encoded('{"v":1}', HEAD.createdAt + 1000), first.meta, true);
    expect(newer.meta).not.toBe(first.meta);
    expect(newer.createdAt).toBe(HEAD.createdAt + 1000);
    source.fill(0); // the kept bytes are a copy: the read buffer may be reused
    expect(decode(encoded('{"v":1}'), first.meta).meta).toBe(first.meta);
  });

  it('still checks the body length against the reused metadata', () => {
    const first = decode(encoded('{"v":1}'), undefined, true);
    const longer = encoded('{"v":1}');
    const tampered = reseal(Buffer.concat([longer, Buffer.from('x')]));
    expect(() => decode(tampered, first.meta)).toThrow(CacheEntryError);
  });

  it('keeps nothing without `remember`', () => {
    expect(decode(encoded('{"v":1}')).meta).toBeUndefined();
  });
});

describe('headers', () => {
  it('storableHeaders drops set-cookie and hop-by-hop headers and keeps the rest', () => {
    const kept = {
      'content-type': 'application/json',
      'cache-control': 'max-age=60',
      etag: '"abc"',
      vary: ['accept', 'origin'],
    };
    const dropped = {
      'set-cookie': ['a=1', 'b=2'],
      connection: 'keep-alive',
      'keep-alive': 'timeout=5',
      'proxy-authenticate': 'Basic',
      'proxy-authorization': 'Basic abc',
      'proxy-connection': 'keep-alive',
      te: 'trailers',
      trailer: 'expires',
      'transfer-encoding': 'chunked',
      upgrade: 'h2c',
    };
    expect(storableHeaders({ ...kept, ...dropped })).toEqual(kept);
  });

  it('plainHeaders lower-cases names of plain objects and AxiosHeaders and drops empty values', () => {
    const headers = new AxiosHeaders({ 'Content-Type': 'text/plain', 'X-Count': '3' });
    headers.set('Set-Cookie', ['a=1', 'b=2']);
    expect(plainHeaders(headers)).toEqual({
      'content-type': 'text/plain',
      'x-count': '3',
      'set-cookie': ['a=1', 'b=2'],
    });
    expect(plainHeaders({ 'X-Num': 5, 'X-Null': null, 'X-Undef': undefined, 'X-False': false })).toEqual({
      'x-num': '5',
    });
    expect(plainHeaders(undefined)).toEqual({});
  });
});
