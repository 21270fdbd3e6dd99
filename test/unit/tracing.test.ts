import diagnosticsChannel from 'node:diagnostics_channel';
import axios, { type AxiosAdapter, AxiosError, AxiosHeaders } from 'axios';
import { afterEach, describe, expect, it } from 'vitest';
import {
  type BreakerMessage,
  type CacheStore,
  MemoryStore,
  type RequestTraceContext,
  type StoreErrorMessage,
  withCache,
} from '../../src/index.js';
import { answering } from '../helpers/adapters.js';

/** Real subscribers on the real channel. */
const channel = diagnosticsChannel.tracingChannel<unknown, RequestTraceContext>('axios-redis-cache:request');
const seen: { event: string; context: RequestTraceContext; status: unknown }[] = [];
const handlers = {
  start: (context: RequestTraceContext) => seen.push({ event: 'start', context, status: context.status }),
  end: (context: RequestTraceContext) => seen.push({ event: 'end', context, status: context.status }),
  asyncStart: (context: RequestTraceContext) => seen.push({ event: 'asyncStart', context, status: context.status }),
  asyncEnd: (context: RequestTraceContext) => seen.push({ event: 'asyncEnd', context, status: context.status }),
  error: (context: RequestTraceContext) => seen.push({ event: 'error', context, status: context.status }),
};

afterEach(() => {
  channel.unsubscribe(handlers);
  seen.length = 0;
});

function api() {
  const adapter: AxiosAdapter = async (config) => {
    if (config.url === '/missing') {
      const response = {
        data: 'no',
        status: 404,
        statusText: 'Not Found',
        headers: new AxiosHeaders(),
        config,
        request: {},
      };
      throw new AxiosError('Request failed with status code 404', 'ERR_BAD_REQUEST', config, {}, response);
    }
    return { data: '{"ok":true}', status: 200, statusText: 'OK', headers: new AxiosHeaders(), config, request: {} };
  };
  return withCache(axios.create({ baseURL: 'http://api.test', adapter }));
}

describe('the axios-redis-cache:request tracing channel', () => {
  it('says where each answer came from, its freshness left, and the time spent in the store', async () => {
    channel.subscribe(handlers);
    const store = new MemoryStore();
    // A store that takes 5 ms to answer a read: the trace shows the wait.
    const slow: CacheStore = {
      set: store.set.bind(store),
      delete: store.delete.bind(store),
      deleteIndexed: store.deleteIndexed.bind(store),
      deleteMatching: store.deleteMatching.bind(store),
      get: async (key: string) => {
        await new Promise((r) => setTimeout(r, 5));
        return store.get(key);
      },
    };
    const adapter = answering('x');
    const cached = withCache(axios.create({ baseURL: 'http://api.test', adapter }), { store: slow, ttl: 30, l1: {} });
    await cached.get('/t'); // miss
    await cached.get('/t'); // hit from l1 (stored there by the miss's write)
    await cached.get('/t', { cache: { refresh: true } }); // miss again
    await new Promise((r) => setTimeout(r, 1100)); // past l1's own ttl (1 s)
    await cached.get('/t'); // hit from the store
    const ends = seen.filter((s) => s.event === 'asyncEnd').map((s) => s.context);
    expect(ends.map((c) => [c.status, c.source])).toEqual([
      ['miss', 'upstream'],
      ['hit', 'l1'],
      ['miss', 'upstream'],
      ['hit', 'store'],
    ]);
    expect(ends[0]?.ttl).toBeNull();
    expect(ends[3]?.ttl).toBeGreaterThan(27);
    expect(ends[3]?.ttl).toBeLessThanOrEqual(30);
    expect(ends[3]?.storeMs).toBeGreaterThanOrEqual(4);
    expect(ends[1]?.storeMs).toBe(0);
    // No lease to wait for on a MemoryStore: never anything like lockWait.
    for (const c of ends) expect(c.leaseWaitMs).toBeGreaterThanOrEqual(0);
    for (const c of ends) expect(c.leaseWaitMs).toBeLessThan(1000);
  });

  it('traces every request, with its outcome by asyncEnd', async () => {
    channel.subscribe(handlers);
    const cached = api();
    await cached.get('/a'); // miss
    await cached.get('/a'); // hit
    await cached.get('/a', { cache: false }); // bypass
    const ends = seen.filter((s) => s.event === 'asyncEnd');
    expect(ends.map((s) => s.status)).toEqual(['miss', 'hit', 'bypass']);
    expect(ends[1]?.context.key).toMatch(/GET http:\/\/api\.test\/a$/);
    expect(ends[2]?.context.key).toBeNull();
    expect(ends.every((s) => s.context.config.url === '/a')).toBe(true);
    expect(ends[0]?.context.result?.status).toBe(200);
    // start comes first, before anything is known.
    expect(seen[0]).toMatchObject({ event: 'start', status: undefined });
  });

  it('traces a rejection on the error event, with the status of the answer it carries', async () => {
    channel.subscribe(handlers);
    await api()
      .get('/missing')
      .catch(() => {});
    const error = seen.find((s) => s.event === 'error');
    expect(error?.status).toBe('miss');
    expect((error?.context.error as AxiosError | undefined)?.response?.status).toBe(404);
  });

  it('does nothing when nobody subscribes', async () => {
    expect(channel.hasSubscribers).toBe(false);
    await api().get('/a');
    expect(seen).toEqual([]);
  });
});

describe('the store-error and breaker channels', () => {
  it('publish every swallowed error, and each breaker change of state, to real subscribers', async () => {
    const errors: StoreErrorMessage[] = [];
    const changes: BreakerMessage[] = [];
    const onError = (message: unknown) => errors.push(message as StoreErrorMessage);
    const onChange = (message: unknown) => changes.push(message as BreakerMessage);
    diagnosticsChannel.subscribe('axios-redis-cache:store-error', onError);
    diagnosticsChannel.subscribe('axios-redis-cache:breaker', onChange);
    try {
      const memory = new MemoryStore();
      let healthy = false;
      const store: CacheStore = {
        get: (key) => (healthy ? memory.get(key) : Promise.reject(new Error('down'))),
        set: (...args) => (healthy ? memory.set(...args) : Promise.reject(new Error('down'))),
        delete: (keys) => memory.delete(keys),
        deleteIndexed: (keys) => memory.deleteIndexed(keys),
        deleteMatching: (pattern) => memory.deleteMatching(pattern),
      };
      const adapter: AxiosAdapter = async (config) => ({
        data: 'x',
        status: 200,
        statusText: 'OK',
        headers: new AxiosHeaders(),
        config,
        request: {},
      });
      const cached = withCache(axios.create({ baseURL: 'http://api.test', adapter }), {
        store,
        breaker: { failures: 1, cooldown: 1 },
      });
      await cached.get('/a'); // the read fails (read breaker opens), the write fails (write breaker opens)
      expect(errors.map((e) => [e.operation, (e.error as Error).name])).toEqual([
        ['get', 'CacheStoreError'],
        ['set', 'CacheStoreError'],
      ]);
      expect(changes).toEqual([
        { breaker: 'read', state: 'open' },
        { breaker: 'write', state: 'open' },
      ]);
      healthy = true;
      await new Promise((resolve) => setTimeout(resolve, 5));
      await cached.get('/a'); // the probes succeed: both close
      expect(changes.slice(2)).toEqual([
        { breaker: 'read', state: 'closed' },
        { breaker: 'write', state: 'closed' },
      ]);
    } finally {
      diagnosticsChannel.unsubscribe('axios-redis-cache:store-error', onError);
      diagnosticsChannel.unsubscribe('axios-redis-cache:breaker', onChange);
    }
  });
});
