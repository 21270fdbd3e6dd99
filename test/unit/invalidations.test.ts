import { describe, expect, it } from 'vitest';
import type { Entry } from '../../src/entries/entry.js';
import { DROP_ALL, Invalidations, invalidationChannel } from '../../src/local/invalidation.js';
import { LocalLayer } from '../../src/local/l1.js';
import { newCounters } from '../../src/observe/stats.js';
import { StoreGuard } from '../../src/stores/guard/guard.js';
import { MemoryStore } from '../../src/stores/memory.js';
import type { CacheStore } from '../../src/stores/types.js';

/** What `l1` needs of an entry: its freshness and its body's size. */
const entry = (): Entry => ({ freshUntil: Date.now() + 60_000, body: new Uint8Array(8) }) as Entry;

function layerWith(keys: string[]): LocalLayer {
  const l1 = new LocalLayer({ maxEntries: 100, maxBytes: 1 << 20, ttlMs: 60_000, graceMs: 0 });
  l1.usable = true;
  for (const key of keys) l1.set(key, entry(), Date.now());
  return l1;
}

const held = (l1: LocalLayer, keys: string[]) => keys.filter((key) => l1.get(key, Date.now()) !== null);

/** A MemoryStore with pub/sub, as a Redis store has it: it records what is published and who listens. */
function pubSubStore() {
  const store = new MemoryStore() as MemoryStore & Required<Pick<CacheStore, 'publish' | 'subscribe'>>;
  const published: { channel: string; message: string }[] = [];
  const listeners: { channel: string; onMessage: (m: string) => void; listening: (up: boolean) => void }[] = [];
  let closed = 0;
  store.publish = async (channel, message) => {
    published.push({ channel, message });
  };
  store.subscribe = (channel, onMessage, listening) => {
    listeners.push({ channel, onMessage, listening });
    return { close: async () => void closed++ };
  };
  return { store, published, listeners, closed: () => closed };
}

const guardOn = (store: CacheStore) =>
  new StoreGuard(store, { storeTimeoutMs: 100, breaker: null, onError: undefined }, newCounters());

const KEYS = ['p:{a}\tGET /a\tv1', 'p:{a}\tGET /a\tv2', 'p:{b}\tGET /b\tv1'];

describe('invalidations (the fleet’s announcements of changed keys)', () => {
  it('announce drops the keys here at once and publishes them, tagged with this instance', async () => {
    const { store, published } = pubSubStore();
    const l1 = layerWith(KEYS);
    const invalidations = new Invalidations(guardOn(store), 'p:', 'me', l1);
    await invalidations.announce(KEYS[2] as string);
    expect(held(l1, KEYS)).toEqual(KEYS.slice(0, 2));
    expect(published).toEqual([{ channel: invalidationChannel('p:'), message: `me\n${KEYS[2]}` }]);
  });

  it('a received message drops its keys, a ^prefix line every key under it; its own messages are skipped', () => {
    const l1 = layerWith(KEYS);
    const invalidations = new Invalidations(guardOn(new MemoryStore()), 'p:', 'me', l1);
    invalidations.receive(`me\n${KEYS[2]}`); // already applied when announced
    expect(held(l1, KEYS)).toEqual(KEYS);
    invalidations.receive('someone else'); // no newline: not a message
    expect(held(l1, KEYS)).toEqual(KEYS);
    invalidations.receive('other\n^p:{a}\tGET /a');
    expect(held(l1, KEYS)).toEqual([KEYS[2]]);
    invalidations.receive(`other\n${DROP_ALL}`);
    expect(held(l1, KEYS)).toEqual([]);
  });

  it('l1 serves only while the subscription is up, and forgets everything when it comes (back) up', async () => {
    const { store, listeners, closed } = pubSubStore();
    const l1 = new LocalLayer({ maxEntries: 100, maxBytes: 1 << 20, ttlMs: 60_000, graceMs: 0 });
    const invalidations = new Invalidations(guardOn(store), 'p:', 'me', l1);
    invalidations.listen();
    expect(listeners.map((l) => l.channel)).toEqual([invalidationChannel('p:')]);
    expect(l1.usable).toBe(false);
    const listener = listeners[0]!;
    listener.listening(true);
    l1.set(KEYS[0] as string, entry(), Date.now());
    expect(held(l1, KEYS)).toEqual([KEYS[0]]);
    listener.onMessage(`other\n${KEYS[0]}`);
    expect(held(l1, KEYS)).toEqual([]);
    l1.set(KEYS[1] as string, entry(), Date.now());
    listener.listening(false); // messages may be missed from now on
    expect(l1.usable).toBe(false);
    listener.listening(true);
    expect(held(l1, KEYS)).toEqual([]);
    await invalidations.close();
    expect(closed()).toBe(1);
    expect(l1.usable).toBe(false);
  });

  it('without pub/sub (one process) the layer is usable at once; without l1 nothing is followed', () => {
    const l1 = new LocalLayer({ maxEntries: 100, maxBytes: 1 << 20, ttlMs: 60_000, graceMs: 0 });
    new Invalidations(guardOn(new MemoryStore()), 'p:', 'me', l1).listen();
    expect(l1.usable).toBe(true);
    const { store, listeners } = pubSubStore();
    new Invalidations(guardOn(store), 'p:', 'me', null).listen();
    expect(listeners).toHaveLength(0);
  });
});
