import { describe, expect, it } from 'vitest';
import { CacheOptionError, type CacheStore, MemoryStore, type MemoryStoreOptions } from '../../src/index.js';
import { escapeGlob } from '../../src/stores/glob.js';

const bytes = (text: string) => Buffer.from(text);
const text = (value: Uint8Array | null) => (value === null ? null : Buffer.from(value).toString());

/** A store on a hand-driven clock. */
function storeAt(start = 1_000, options: Omit<MemoryStoreOptions, 'now'> = {}) {
  const clock = { now: start };
  const store = new MemoryStore({ ...options, now: () => clock.now });
  return { store, clock };
}

describe('get, set, delete', () => {
  it('stores, overwrites and deletes values', async () => {
    const { store } = storeAt();
    expect(await store.get('a')).toBeNull();
    await store.set('a', bytes('one'), 1000, []);
    expect(text(await store.get('a'))).toBe('one');
    await store.set('a', bytes('two'), 1000, []);
    expect(text(await store.get('a'))).toBe('two');
    expect(store.size).toBe(1);

    await store.set('b', bytes('b'), 1000, []);
    expect(await store.delete(['a', 'b', 'missing'])).toBe(2);
    expect(await store.get('a')).toBeNull();
    expect(await store.get('b')).toBeNull();
    expect(await store.delete(['a'])).toBe(0);
    expect(await store.delete([])).toBe(0);
    expect(store.size).toBe(0);
    expect(store.byteSize).toBe(0);
  });

  it('accounts bytes as value length plus twice the key length, across overwrites and deletes', async () => {
    const { store } = storeAt();
    await store.set('key', new Uint8Array(10), 1000, []);
    expect(store.byteSize).toBe(16);
    await store.set('key', new Uint8Array(4), 1000, []);
    expect(store.byteSize).toBe(10);
    await store.set('k2', new Uint8Array(1), 1000, []);
    expect(store.byteSize).toBe(15);
    await store.delete(['key']);
    expect(store.byteSize).toBe(5);
    store.clear();
    expect(store.byteSize).toBe(0);
    expect(store.size).toBe(0);
  });

  it('validates its options', () => {
    expect(() => new MemoryStore({ maxEntries: 0 })).toThrow(CacheOptionError);
    expect(() => new MemoryStore({ maxEntries: 1.5 })).toThrow(/"maxEntries"/);
    expect(() => new MemoryStore({ maxBytes: -1 })).toThrow(/"maxBytes"/);
    expect(() => new MemoryStore({ now: 5 as never })).toThrow(/"now"/);
    expect(new MemoryStore()).toMatchObject({ maxEntries: 10_000, maxBytes: 64 * 1024 * 1024 });
  });
});

describe('expiry', () => {
  it('serves a value until its expiry and not at or after it', async () => {
    const { store, clock } = storeAt(1_000);
    await store.set('a', bytes('v'), 100, []);
    clock.now = 1_099;
    expect(text(await store.get('a'))).toBe('v');
    clock.now = 1_100;
    expect(await store.get('a')).toBeNull();
    expect(store.size).toBe(0);
    expect(store.byteSize).toBe(0);
  });

  it('does not count expired keys as deleted', async () => {
    const { store, clock } = storeAt(0);
    await store.set('short', bytes('s'), 10, []);
    await store.set('long', bytes('l'), 1000, []);
    clock.now = 50;
    expect(await store.delete(['short', 'long'])).toBe(1);
  });

  it('does not store a value with a ttl of zero or less, and drops the old one', async () => {
    const { store } = storeAt();
    await store.set('a', bytes('old'), 1000, []);
    await store.set('a', bytes('new'), 0, []);
    expect(await store.get('a')).toBeNull();
    await store.set('b', bytes('b'), -5, []);
    expect(await store.get('b')).toBeNull();
  });
});

describe('LRU eviction', () => {
  it('evicts the least recently used entry beyond maxEntries; a recently read entry survives', async () => {
    const { store } = storeAt(0, { maxEntries: 3 });
    await store.set('a', bytes('a'), 1000, []);
    await store.set('b', bytes('b'), 1000, []);
    await store.set('c', bytes('c'), 1000, []);
    expect(text(await store.get('a'))).toBe('a'); // a is now the most recently used
    await store.set('d', bytes('d'), 1000, []);
    expect(store.size).toBe(3);
    expect(await store.get('b')).toBeNull();
    expect(text(await store.get('a'))).toBe('a');
    expect(text(await store.get('c'))).toBe('c');
    expect(text(await store.get('d'))).toBe('d');
  });

  it('counts an overwrite as a use', async () => {
    const { store } = storeAt(0, { maxEntries: 2 });
    await store.set('a', bytes('a'), 1000, []);
    await store.set('b', bytes('b'), 1000, []);
    await store.set('a', bytes('a2'), 1000, []);
    await store.set('c', bytes('c'), 1000, []);
    expect(await store.get('b')).toBeNull();
    expect(text(await store.get('a'))).toBe('a2');
  });

  it('evicts least recently used entries beyond maxBytes', async () => {
    // Each entry: 10 value bytes + 2 × 1 key character = 12 bytes; 3 fit in 40.
    const { store } = storeAt(0, { maxBytes: 40 });
    for (const key of ['a', 'b', 'c']) await store.set(key, new Uint8Array(10), 1000, []);
    expect(store.byteSize).toBe(36);
    await store.get('a');
    await store.get('b');
    await store.set('d', new Uint8Array(10), 1000, []);
    expect(await store.get('c')).toBeNull();
    expect(await store.get('a')).not.toBeNull();
    expect(await store.get('b')).not.toBeNull();
    expect(await store.get('d')).not.toBeNull();
    expect(store.byteSize).toBe(36);

    // A bigger entry pushes out as many of the least recently used as needed.
    await store.set('e', new Uint8Array(22), 1000, []);
    expect(store.byteSize).toBeLessThanOrEqual(40);
    expect(await store.get('e')).not.toBeNull();
    expect(await store.get('a')).toBeNull();
    expect(await store.get('b')).toBeNull();
  });

  it('never stores a single value larger than maxBytes, and keeps the others', async () => {
    const { store } = storeAt(0, { maxBytes: 40 });
    await store.set('a', new Uint8Array(10), 1000, []);
    await store.set('huge', new Uint8Array(100), 1000, []);
    expect(await store.get('huge')).toBeNull();
    expect(await store.get('a')).not.toBeNull();
    expect(store.byteSize).toBe(12);
  });
});

describe('indexes', () => {
  it('deleteIndexed deletes every member of the given indexes, once, and the indexes', async () => {
    const { store } = storeAt();
    await store.set('k1', bytes('1'), 1000, ['i1', 'i2']);
    await store.set('k2', bytes('2'), 1000, ['i1']);
    await store.set('k3', bytes('3'), 1000, ['i2']);
    await store.set('k4', bytes('4'), 1000, ['i3']);
    expect(await store.deleteIndexed(['i1'])).toBe(2);
    expect(await store.get('k1')).toBeNull();
    expect(await store.get('k2')).toBeNull();
    expect(text(await store.get('k3'))).toBe('3');
    expect(await store.deleteIndexed(['i1'])).toBe(0);
    expect(await store.deleteIndexed(['i2', 'i3', 'unknown'])).toBe(2);
    expect(store.size).toBe(0);
  });

  it('counts a member listed in several indexes once', async () => {
    const { store } = storeAt();
    await store.set('k', bytes('v'), 1000, ['i1', 'i2']);
    expect(await store.deleteIndexed(['i1', 'i2'])).toBe(1);
  });

  it('does not count expired members', async () => {
    const { store, clock } = storeAt(0);
    await store.set('short', bytes('s'), 10, ['i']);
    await store.set('long', bytes('l'), 1000, ['i']);
    clock.now = 100;
    expect(await store.deleteIndexed(['i'])).toBe(1);
  });

  it('forgets a member that is no longer stored with the index', async () => {
    const { store, clock } = storeAt(0);
    await store.set('a', bytes('a1'), 10, ['i']);
    clock.now = 20; // 'a' has expired; re-stored below without index 'i'.
    await store.set('a', bytes('a2'), 1000, ['j']);
    await store.set('b', bytes('b'), 1000, ['i']);
    expect(await store.deleteIndexed(['i'])).toBe(1);
    expect(await store.get('b')).toBeNull();
    expect(text(await store.get('a'))).toBe('a2');
  });

  it('drops an index once its last member is gone, so indexes do not grow without bound', async () => {
    const { store, clock } = storeAt(0, { maxEntries: 2 });
    await store.set('a', bytes('a'), 10, ['ia', 'shared']);
    await store.set('b', bytes('b'), 1000, ['ib', 'shared']);
    expect(store.indexCount).toBe(3);
    clock.now = 20;
    expect(await store.get('a')).toBeNull(); // expired: removed on read
    expect(store.indexCount).toBe(2);
    await store.set('c', bytes('c'), 1000, ['ic']);
    await store.set('d', bytes('d'), 1000, ['id']); // evicts 'b' (LRU)
    expect(await store.get('b')).toBeNull();
    expect(store.indexCount).toBe(2);
    await store.delete(['c', 'd']);
    expect(store.indexCount).toBe(0);
  });
});

describe('deleteMatching', () => {
  it('deletes exactly the keys matching a glob pattern and returns how many were live', async () => {
    const { store, clock } = storeAt(0);
    const keys = ['app:{a}:1', 'app:{b}:2', 'app2:x', 'other:app:1', 'app:expired'];
    for (const key of keys) await store.set(key, bytes(key), key.endsWith('expired') ? 5 : 1000, []);
    clock.now = 10;
    expect(await store.deleteMatching('app:*')).toBe(2);
    expect(await store.get('app:{a}:1')).toBeNull();
    expect(await store.get('app:{b}:2')).toBeNull();
    expect(text(await store.get('app2:x'))).toBe('app2:x');
    expect(text(await store.get('other:app:1'))).toBe('other:app:1');
    expect(await store.deleteMatching('app?:*')).toBe(1);
    expect(await store.deleteMatching('nothing*')).toBe(0);
  });

  it('treats escaped special characters as literals', async () => {
    const { store } = storeAt();
    const keys = ['p*:1', 'px:1', 'p?:1', 'p[ab]:1', 'pa:1', 'p\\:1', 'p:1'];
    for (const key of keys) await store.set(key, bytes(key), 1000, []);
    expect(await store.deleteMatching(`${escapeGlob('p*:')}*`)).toBe(1);
    expect(await store.get('p*:1')).toBeNull();
    expect(await store.deleteMatching(`${escapeGlob('p[ab]:')}*`)).toBe(1);
    expect(await store.get('pa:1')).not.toBeNull();
    expect(await store.deleteMatching(`${escapeGlob('p?:')}*`)).toBe(1);
    expect(await store.deleteMatching(`${escapeGlob('p\\:')}*`)).toBe(1);
    expect(store.size).toBe(3);
    expect(await store.deleteMatching('p[ab]:*')).toBe(1);
    expect(await store.get('pa:1')).toBeNull();
  });

  it('also removes matching indexes', async () => {
    const { store } = storeAt();
    await store.set('other:k', bytes('v'), 1000, ['app:index']);
    await store.deleteMatching('app:*');
    expect(await store.deleteIndexed(['app:index'])).toBe(0);
    expect(text(await store.get('other:k'))).toBe('v');
  });
});

describe('leases', () => {
  it('has none: in one process the in-flight map coalesces, and a lease could only delay a newcomer', () => {
    const store = new MemoryStore() as CacheStore;
    expect(store.acquireLease).toBeUndefined();
    expect(store.releaseLease).toBeUndefined();
  });
});
