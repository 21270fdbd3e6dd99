import axios, { type AxiosAdapter, AxiosHeaders } from 'axios';
import MockAdapter from 'axios-mock-adapter';
import { describe, expect, it } from 'vitest';
import { decodeEntry } from '../../src/entries/entry.js';
import {
  CacheAlreadyInstalledError,
  CacheNotInstalledError,
  CacheOptionError,
  type CacheStore,
  clearCache,
  DEFAULTS,
  evict,
  evictTags,
  getCacheStats,
  getCacheStore,
  MemoryStore,
  withCache,
} from '../../src/index.js';

/** Call `fn`, expecting a CacheOptionError about `option` whose message shows the value as `shown`. */
function expectOptionError(fn: () => unknown, option: string, shown: string): void {
  let caught: unknown;
  try {
    fn();
  } catch (error) {
    caught = error;
  }
  expect(caught, `${option} = ${shown}`).toBeInstanceOf(CacheOptionError);
  const error = caught as CacheOptionError;
  expect(error.code).toBe('ERR_CACHE_OPTION');
  expect(error.option).toBe(option);
  expect(error.message).toContain(`"${option}"`);
  expect(error.message).toContain(`got ${shown}`);
}

/** A fake upstream answering each path with a fixed status and recording "method path" per call. */
function countingUpstream(statuses: Record<string, number>): { adapter: AxiosAdapter; calls: string[] } {
  const calls: string[] = [];
  const adapter: AxiosAdapter = async (config) => {
    calls.push(`${config.method} ${config.url}`);
    const status = statuses[config.url ?? ''] ?? 404;
    return {
      data: `body of ${config.url}`,
      status,
      statusText: 'OK',
      headers: new AxiosHeaders(),
      config,
      request: {},
    };
  };
  return { adapter, calls };
}

const install = (options: unknown) => () => withCache(axios.create(), options as never);

/** A store literal that implements the contract without doing anything. */
const nullStore: CacheStore = {
  get: async () => null,
  set: async () => {},
  delete: async () => 0,
  deleteIndexed: async () => 0,
  deleteMatching: async () => 0,
};

describe('withCache option validation', () => {
  const bad: [string, Record<string, unknown>, string, string][] = [
    ['negative ttl', { ttl: -1 }, 'ttl', '-1'],
    ['zero ttl', { ttl: 0 }, 'ttl', '0'],
    ['NaN ttl', { ttl: Number.NaN }, 'ttl', 'NaN'],
    ['infinite ttl', { ttl: Number.POSITIVE_INFINITY }, 'ttl', 'Infinity'],
    ['string ttl', { ttl: '60' }, 'ttl', '"60"'],
    ['null ttl', { ttl: null }, 'ttl', 'null'],
    ['unknown option', { tll: 60 }, 'tll', '60'],
    ['empty store object', { store: {} }, 'store', 'an object'],
    ['store URL string', { store: 'redis://localhost:6379' }, 'store', '"redis://localhost:6379"'],
    ['null store', { store: null }, 'store', 'null'],
    ['partial store', { store: { get: async () => null, set: async () => {} } }, 'store', 'an object'],
    ['prefix with {', { prefix: 'svc{a}:' }, 'prefix', '"svc{a}:"'],
    ['prefix with }', { prefix: 'svc}' }, 'prefix', '"svc}"'],
    ['empty prefix', { prefix: '' }, 'prefix', '""'],
    ['number prefix', { prefix: 5 }, 'prefix', '5'],
    ['status as string', { statuses: ['200'] }, 'statuses[0]', '"200"'],
    ['status out of range', { statuses: [200, 600] }, 'statuses[1]', '600'],
    ['fractional status', { statuses: [200.5] }, 'statuses[0]', '200.5'],
    ['reversed range', { statuses: [[299, 200]] }, 'statuses[0]', 'an array of length 2'],
    ['one-element range', { statuses: [[200]] }, 'statuses[0]', 'an array of length 1'],
    ['statuses not an array', { statuses: 200 }, 'statuses', '200'],
    ['methods not an array', { methods: 'get' }, 'methods', '"get"'],
    ['method not a string', { methods: ['get', 1] }, 'methods[1]', '1'],
    ['varyHeaders not an array', { varyHeaders: 'authorization' }, 'varyHeaders', '"authorization"'],
    ['maxEntryBytes 0', { maxEntryBytes: 0 }, 'maxEntryBytes', '0'],
    ['fractional maxEntryBytes', { maxEntryBytes: 1.5 }, 'maxEntryBytes', '1.5'],
    ['storeTimeout 0', { storeTimeout: 0 }, 'storeTimeout', '0'],
    ['negative storeTimeout', { storeTimeout: -5 }, 'storeTimeout', '-5'],
    ['string storeTimeout', { storeTimeout: '50' }, 'storeTimeout', '"50"'],
    ['non-boolean coalesce', { coalesce: 'yes' }, 'coalesce', '"yes"'],
    ['non-boolean shared', { shared: 1 }, 'shared', '1'],
    ['breaker true', { breaker: true }, 'breaker', 'true'],
    ['fractional breaker.failures', { breaker: { failures: 1.5 } }, 'breaker.failures', '1.5'],
    ['zero breaker.failures', { breaker: { failures: 0 } }, 'breaker.failures', '0'],
    ['zero breaker.cooldown', { breaker: { cooldown: 0 } }, 'breaker.cooldown', '0'],
    ['unknown breaker option', { breaker: { threshold: 3 } }, 'breaker.threshold', '3'],
    ['negative staleWhileRevalidate', { staleWhileRevalidate: -1 }, 'staleWhileRevalidate', '-1'],
    ['string staleIfError', { staleIfError: '30' }, 'staleIfError', '"30"'],
    ['zero lockTtl', { lockTtl: 0 }, 'lockTtl', '0'],
    ['negative lockWait', { lockWait: -1 }, 'lockWait', '-1'],
    ['NaN earlyRefresh', { earlyRefresh: Number.NaN }, 'earlyRefresh', 'NaN'],
    ['onError string', { onError: 'console.log' }, 'onError', '"console.log"'],
    ['onError object', { onError: {} }, 'onError', 'an object'],
  ];

  it.each(bad)('rejects %s', (_name, options, option, shown) => {
    expectOptionError(install(options), option, shown);
  });

  it('rejects options that are not an object, and a value that is not an axios instance', () => {
    expectOptionError(install('ttl=60'), 'options', '"ttl=60"');
    expectOptionError(install([]), 'options', 'an array of length 0');
    expectOptionError(() => withCache({} as never), 'instance', 'an object');
  });

  it('keeps long or large values out of the message', () => {
    expectOptionError(install({ prefix: `{${'x'.repeat(200)}` }), 'prefix', `"{${'x'.repeat(76)}..."`);
    expectOptionError(install({ methods: new Set(['get']) }), 'methods', 'a Set instance');
  });

  it('accepts every good value', () => {
    const good: Record<string, unknown>[] = [
      {},
      { ttl: 0.001 },
      { ttl: 1.5 },
      { ttl: 86_400 },
      { store: new MemoryStore() },
      { store: nullStore },
      { prefix: 'svc:dkim:' },
      { methods: ['GET', 'Post'] },
      { methods: [] },
      { statuses: [200, [300, 399], 404] },
      { statuses: (status: number) => status === 200 },
      { statuses: [] },
      { varyHeaders: [] },
      { varyHeaders: ['X-Tenant'] },
      { maxEntryBytes: 1 },
      { storeTimeout: 0.5 },
      { coalesce: false },
      { shared: false },
      { breaker: false },
      { breaker: {} },
      { breaker: { failures: 1, cooldown: 1 } },
      { onError: () => {} },
      { staleWhileRevalidate: 0, staleIfError: 30, lockTtl: 1, lockWait: 0, earlyRefresh: 1 },
      { ttl: undefined, prefix: undefined, onError: undefined },
    ];
    for (const options of good) expect(install(options), JSON.stringify(options)).not.toThrow();
  });

  it('does not mark the instance as cached when the options are rejected', () => {
    const instance = axios.create();
    expect(() => withCache(instance, { ttl: -1 })).toThrow(CacheOptionError);
    expect(() => withCache(instance, { ttl: 1 })).not.toThrow();
  });
});

describe('defaults', () => {
  it('exports the documented defaults', () => {
    expect(DEFAULTS).toMatchObject({
      ttl: 60,
      prefix: 'axios-cache:',
      methods: ['get', 'head'],
      statuses: [
        [200, 205],
        [207, 299],
      ],
      varyHeaders: [
        'authorization',
        'proxy-authorization',
        'cookie',
        'x-api-key',
        'api-key',
        'x-auth-token',
        'x-access-token',
        'x-amz-security-token',
        'x-goog-api-key',
        'ocp-apim-subscription-key',
        'x-functions-key',
      ],
      allowSetCookie: false,
      maxEntryBytes: 1_048_576,
      storeTimeout: 50,
      evictTimeout: 5000,
      invalidateOnUnsafe: true,
      coalesce: true,
      staleWhileRevalidate: 0,
      staleIfError: 0,
      lockTtl: 1000,
      lockWait: 6000,
      earlyRefresh: 0,
      shared: true,
      breaker: { failures: 5, cooldown: 250 },
    });
  });

  it('applies them: a MemoryStore, the prefix, a 60 s ttl, GET/HEAD only, 2xx except 206', async () => {
    const upstream = countingUpstream({ '/ok': 200, '/partial': 206, '/edge': 299 });
    const api = withCache(axios.create({ baseURL: 'http://api.test', adapter: upstream.adapter }));
    const store = getCacheStore(api);
    expect(store).toBeInstanceOf(MemoryStore);

    const first = await api.get('/ok');
    expect(first.cache?.key?.startsWith('axios-cache:{')).toBe(true);
    const raw = (store as MemoryStore).read(first.cache?.key ?? '');
    expect(raw).not.toBeNull();
    const entry = decodeEntry(raw ?? new Uint8Array());
    expect(entry.freshUntil - entry.createdAt).toBe(60_000);

    for (const send of [
      () => api.get('/ok'),
      () => api.get('/partial'),
      () => api.get('/partial'),
      () => api.get('/edge'),
      () => api.get('/edge'),
      () => api.post('/ok'),
      () => api.post('/ok'),
      () => api.head('/ok'),
      () => api.head('/ok'),
    ]) {
      await send();
    }
    expect(upstream.calls).toEqual([
      'get /ok',
      'get /partial',
      'get /partial',
      'get /edge',
      'post /ok',
      'post /ok',
      'head /ok',
    ]);
    expect(getCacheStats(api)).toMatchObject({ hits: 3, misses: 5, bypasses: 2 });
  });
});

describe('per-request option validation', () => {
  const bad: [string, unknown, string, string][] = [
    ['negative ttl', { ttl: -1 }, 'cache.ttl', '-1'],
    ['string ttl', { ttl: '5' }, 'cache.ttl', '"5"'],
    ['unknown option', { foo: 1 }, 'cache.foo', '1'],
    ['empty key', { key: '' }, 'cache.key', '""'],
    ['tags not an array', { tags: 'a' }, 'cache.tags', '"a"'],
    ['empty tag', { tags: ['a', ''] }, 'cache.tags[1]', '""'],
    ['string refresh', { refresh: 'true' }, 'cache.refresh', '"true"'],
    ['number coalesce', { coalesce: 1 }, 'cache.coalesce', '1'],
    ['negative staleIfError', { staleIfError: -1 }, 'cache.staleIfError', '-1'],
    ['string staleWhileRevalidate', { staleWhileRevalidate: '5' }, 'cache.staleWhileRevalidate', '"5"'],
    ['cache as a string', 'yes', 'cache', '"yes"'],
    ['cache as a number', 0, 'cache', '0'],
  ];

  it.each(bad)('rejects %s before anything is sent upstream', async (_name, cache, option, shown) => {
    const instance = axios.create({ baseURL: 'http://api.test' });
    // axios-mock-adapter's typings name axios' CommonJS declarations; the instance is the same at runtime.
    const mock = new MockAdapter(instance as unknown as ConstructorParameters<typeof MockAdapter>[0]);
    mock.onAny().reply(200, 'ok');
    const api = withCache(instance);
    for (const send of [
      () => api.get('/x', { cache: cache as never }),
      () => api.post('/x', 'body', { cache: cache as never }),
    ]) {
      const error = await send().then(
        () => null,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(CacheOptionError);
      expect((error as CacheOptionError).code).toBe('ERR_CACHE_OPTION');
      expect((error as CacheOptionError).option).toBe(option);
      expect((error as CacheOptionError).message).toContain(`got ${shown}`);
    }
    expect(mock.history).toHaveLength(0);
  });

  it('accepts true, null and empty objects as "use the instance options"', async () => {
    const upstream = countingUpstream({ '/x': 200 });
    const api = withCache(axios.create({ baseURL: 'http://api.test', adapter: upstream.adapter }));
    const statuses = [];
    for (const cache of [undefined, true, null, {}]) {
      statuses.push((await api.get('/x', { cache: cache as never })).cache?.status);
    }
    expect(statuses).toEqual(['miss', 'hit', 'hit', 'hit']);
    expect(upstream.calls).toEqual(['get /x']);
  });
});

describe('installation errors', () => {
  it('refuses a second withCache on the same instance', () => {
    const instance = axios.create();
    withCache(instance);
    let caught: unknown;
    try {
      withCache(instance, { ttl: 5 });
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(CacheAlreadyInstalledError);
    expect((caught as CacheAlreadyInstalledError).code).toBe('ERR_CACHE_ALREADY_INSTALLED');
  });

  it('rejects evict, evictTags, clearCache, getCacheStats and getCacheStore on a plain instance', async () => {
    const plain = axios.create();
    for (const call of [() => evict(plain, '/x'), () => evictTags(plain, ['t']), () => clearCache(plain)]) {
      const error = await call().then(
        () => null,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(CacheNotInstalledError);
      expect((error as CacheNotInstalledError).code).toBe('ERR_CACHE_NOT_INSTALLED');
    }
    expect(() => getCacheStats(plain)).toThrow(CacheNotInstalledError);
    expect(() => getCacheStore(plain)).toThrow(CacheNotInstalledError);
  });

  it('validates the arguments of evict and evictTags', async () => {
    const api = withCache(axios.create());
    await expect(evict(api, 42 as never)).rejects.toMatchObject({ code: 'ERR_CACHE_OPTION', option: 'request' });
    await expect(evictTags(api, 'tag' as never)).rejects.toMatchObject({ code: 'ERR_CACHE_OPTION', option: 'tags' });
    await expect(evictTags(api, ['a', ''])).rejects.toMatchObject({ code: 'ERR_CACHE_OPTION', option: 'tags[1]' });
    await expect(evict(api, { url: '/x', cache: { ttl: -1 } })).rejects.toBeInstanceOf(CacheOptionError);
    expect(await evictTags(api, [])).toBe(0);
  });
});
