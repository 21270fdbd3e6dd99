import axios from 'axios';
import { describe, expect, it } from 'vitest';
import { CacheAlreadyInstalledError, CacheOptionError, MemoryStore, withCache } from '../../src/index.js';
import { STORES, useFidelityServers } from './servers.js';

const servers = useFidelityServers();

describe('instances that share a store', () => {
  it.each(STORES)(
    'an http and a fetch instance on one %s store each get their own adapter’s body types',
    async (kind) => {
      const store = kind === 'memory' ? new MemoryStore() : servers.redis;
      const options = { store, prefix: `shared-${kind}:` };
      const viaHttp = withCache(axios.create({ baseURL: servers.server.url, adapter: 'http' }), options);
      const viaFetch = withCache(axios.create({ baseURL: servers.server.url, adapter: 'fetch' }), options);
      const first = await viaHttp.get('/binary', { responseType: 'arraybuffer' });
      expect(Buffer.isBuffer(first.data)).toBe(true);
      const second = await viaFetch.get('/binary', { responseType: 'arraybuffer' });
      expect(second.data).toBeInstanceOf(ArrayBuffer);
      expect(Buffer.isBuffer(second.data)).toBe(false);
      const blob = await viaFetch.get('/text', { responseType: 'blob' });
      expect(blob.data).toBeInstanceOf(Blob);
      // Each instance hits its own entry afterwards.
      expect((await viaHttp.get('/binary', { responseType: 'arraybuffer' })).cache?.status).toBe('hit');
      expect((await viaFetch.get('/binary', { responseType: 'arraybuffer' })).cache?.status).toBe('hit');
    },
  );
});

describe('the default instance and inherited caches', () => {
  it('refuses withCache(axios), saying what to do instead, and leaves axios as it was', () => {
    const adapter = axios.defaults.adapter;
    let thrown: unknown;
    try {
      withCache(axios);
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(CacheOptionError);
    expect((thrown as Error).message).toMatch(/withCache\(axios\.create\(/);
    expect(axios.defaults.adapter).toBe(adapter);
  });

  it('an instance made later with axios.create() is not cached', async () => {
    withCache(axios.create({ baseURL: servers.server.url }));
    const other = axios.create({ baseURL: servers.server.url });
    const before = servers.server.received.length;
    const answers = [await other.get('/json'), await other.get('/json')];
    expect(answers.map((r) => r.cache)).toEqual([undefined, undefined]);
    expect(servers.server.received.length - before).toBe(2);
  });

  it('detects a cache inherited through create() or an adapter taken from a cached instance', () => {
    const api = withCache(axios.create({ baseURL: servers.server.url }));
    expect(() => withCache(api.create())).toThrow(CacheAlreadyInstalledError);
    expect(() => withCache(axios.create({ adapter: api.defaults.adapter as never }))).toThrow(
      CacheAlreadyInstalledError,
    );
    expect(() => withCache(axios.create({ adapter: ['fetch', api.defaults.adapter as never] }))).toThrow(
      CacheAlreadyInstalledError,
    );
    expect(() => withCache(api)).toThrow(CacheAlreadyInstalledError);
  });
});

describe('response.request on a hit', () => {
  it('tells the final URL after redirects, as the http adapter’s request does', async () => {
    const api = withCache(axios.create({ baseURL: servers.server.url }));
    const miss = await api.get('/redirect?n=2');
    const hit = await api.get('/redirect?n=2');
    expect(hit.cache?.status).toBe('hit');
    expect(hit.request.res.responseUrl).toBe(miss.request.res.responseUrl);
    expect(hit.request.res.responseUrl).toBe(`${servers.server.url}/json`);
    expect(hit.request.fromCache).toBe(true);
  });
});
