import axios from 'axios';
import { afterAll, describe, expect, it } from 'vitest';
import { closeCache, withCache } from '../../src/index.js';
import { useRedisAndUpstream } from '../helpers/suite.js';

/**
 * Defaults that are never wrong: a successful unsafe request invalidates what is stored for its URL,
 * fleet-wide; a request's own `Cache-Control: no-cache` / `no-store` is honoured. A real redis-server and
 * a real upstream whose answers change with every write.
 */
const servers = useRedisAndUpstream();
let prefixes = 0;
const closers: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const close of closers) await close();
});

/** An upstream that keeps one value per path: GET reads it, PUT/POST/DELETE change it. */
function versionedUpstream() {
  const versions = new Map<string, number>();
  servers.upstream.handle((req, res) => {
    const path = req.url.split('?')[0] as string;
    res.setHeader('content-type', 'application/json');
    if (req.method === 'GET' || req.method === 'HEAD') {
      res.end(JSON.stringify({ path, version: versions.get(path) ?? 0 }));
      return;
    }
    if (path.endsWith('/fail')) {
      res.statusCode = 500;
      res.end('{}');
      return;
    }
    const target = req.method === 'POST' ? `${path}/new` : path;
    versions.set(target, (versions.get(target) ?? 0) + 1);
    if (req.method === 'POST') res.setHeader('location', target);
    res.end(JSON.stringify({ ok: true }));
  });
}

async function instance(extra: Record<string, unknown> = {}) {
  const api = withCache(axios.create({ baseURL: servers.upstream.url }), {
    store: await servers.store(),
    prefix: `defaults${prefixes}:`,
    ...extra,
  });
  closers.push(() => closeCache(api));
  return api;
}

describe('a successful unsafe request invalidates its URL', () => {
  it('PUT, PATCH, DELETE: the next GET of the URL (any process, any variant) gets the new answer', async () => {
    versionedUpstream();
    prefixes++;
    const a = await instance();
    const b = await instance(); // another process
    const c = await instance({ l1: {} }); // another process, with an in-process layer
    await new Promise((resolve) => setTimeout(resolve, 50)); // c's subscription comes up
    for (const [i, method] of (['put', 'patch', 'delete'] as const).entries()) {
      const path = `/items/${i}`;
      await a.get(path);
      await b.get(path, { headers: { Authorization: 'Bearer someone' } });
      await c.get(path);
      expect((await c.get(path)).cache?.status).toBe('hit'); // from c's in-process layer
      const write = await a.request({ method, url: path, data: { v: 1 } });
      expect(write.cache?.status).toBe('bypass');
      // Evicted from the store before the write was answered: any process's next read gets the new answer.
      const afterInB = await b.get(path);
      expect(afterInB.cache?.status).toBe('miss');
      expect(afterInB.data.version).toBe(1);
      expect((await a.get(path)).data.version).toBe(1);
      // c's in-process copy is dropped when the announcement arrives (pub/sub, well within l1.ttl).
      let version = 0;
      for (let attempt = 0; attempt < 50 && version !== 1; attempt++) {
        version = (await c.get(path)).data.version;
        if (version !== 1) await new Promise((resolve) => setTimeout(resolve, 5));
      }
      expect(version).toBe(1);
      const other = await b.get(path, { headers: { Authorization: 'Bearer someone' } });
      expect(other.data.version).toBe(1);
    }
  });

  it("POST: its response's Location (same origin) is invalidated too", async () => {
    versionedUpstream();
    prefixes++;
    const api = await instance();
    await api.get('/orders/new');
    expect((await api.get('/orders/new')).cache?.status).toBe('hit');
    await api.post('/orders', { item: 'x' });
    const created = await api.get('/orders/new');
    expect(created.cache?.status).toBe('miss');
    expect(created.data.version).toBe(1);
  });

  it('a failed unsafe request invalidates nothing; invalidateOnUnsafe: false turns it off', async () => {
    versionedUpstream();
    prefixes++;
    const api = await instance();
    await api.get('/items/fail');
    await api.put('/items/fail', {}).catch(() => {});
    expect((await api.get('/items/fail')).cache?.status).toBe('hit');
    prefixes++;
    const off = await instance({ invalidateOnUnsafe: false });
    await off.get('/items/kept');
    await off.put('/items/kept', {});
    const stale = await off.get('/items/kept');
    expect(stale.cache?.status).toBe('hit');
    expect(stale.data.version).toBe(0);
  });
});

describe("the request's own Cache-Control", () => {
  it('no-cache (or Pragma: no-cache) is not answered from the cache, but its answer is stored', async () => {
    versionedUpstream();
    prefixes++;
    const api = await instance();
    await api.get('/fresh');
    await api.put('/fresh-elsewhere', {}); // another URL: nothing invalidated here
    const before = servers.upstream.calls('/fresh');
    for (const headers of [
      { 'Cache-Control': 'no-cache' },
      { Pragma: 'no-cache' },
      { 'cache-control': 'max-age=0, no-cache' },
    ]) {
      const revalidated = await api.get('/fresh', { headers });
      expect(revalidated.cache?.status).toBe('miss');
    }
    expect(servers.upstream.calls('/fresh') - before).toBe(3);
    expect((await api.get('/fresh')).cache?.status).toBe('hit');
  });

  it('no-store bypasses: nothing read, nothing stored', async () => {
    versionedUpstream();
    prefixes++;
    const api = await instance();
    const first = await api.get('/private', { headers: { 'Cache-Control': 'no-store' } });
    expect(first.cache?.status).toBe('bypass');
    expect((await api.get('/private')).cache?.status).toBe('miss');
    expect((await api.get('/private', { headers: { 'Cache-Control': 'no-store' } })).cache?.status).toBe('bypass');
  });
});

describe("the response's Vary, honoured by default", () => {
  /** An upstream whose answer depends on request headers it names in `Vary`. */
  function varyingUpstream(vary: string) {
    servers.upstream.handle((req, res) => {
      res.setHeader('content-type', 'application/json');
      res.setHeader('vary', vary);
      res.end(
        JSON.stringify({
          tenant: req.headers['x-tenant-id'] ?? null,
          language: req.headers['accept-language'] ?? null,
        }),
      );
    });
  }

  it("Vary: X-Tenant-Id: tenant B is never served tenant A's data", async () => {
    varyingUpstream('X-Tenant-Id');
    prefixes++;
    const api = await instance();
    const a = await api.get('/settings', { headers: { 'X-Tenant-Id': 'A' } });
    const b = await api.get('/settings', { headers: { 'X-Tenant-Id': 'B' } });
    expect(a.data.tenant).toBe('A');
    expect(b.cache?.status).toBe('miss');
    expect(b.data.tenant).toBe('B');
    // One variant per key: the last one fetched is stored; the other is a miss again, never the wrong one.
    expect((await api.get('/settings', { headers: { 'X-Tenant-Id': 'B' } })).cache?.status).toBe('hit');
    const againA = await api.get('/settings', { headers: { 'x-tenant-id': 'A' } });
    expect(againA.data.tenant).toBe('A');
    expect(againA.cache?.status).toBe('miss');
  });

  it('Vary: Accept-Language, through another process with an in-process layer too', async () => {
    varyingUpstream('Accept-Language');
    prefixes++;
    const writer = await instance();
    const reader = await instance({ l1: {} });
    await new Promise((resolve) => setTimeout(resolve, 50));
    await writer.get('/page', { headers: { 'Accept-Language': 'en' } });
    expect((await reader.get('/page', { headers: { 'Accept-Language': 'en' } })).cache?.status).toBe('hit');
    expect((await reader.get('/page', { headers: { 'Accept-Language': 'en' } })).data.language).toBe('en'); // l1
    const fr = await reader.get('/page', { headers: { 'Accept-Language': 'fr' } });
    expect(fr.cache?.status).toBe('miss');
    expect(fr.data.language).toBe('fr');
  });

  it('joiners with other values of a Vary header do not share the answer', async () => {
    varyingUpstream('X-Tenant-Id');
    prefixes++;
    const api = await instance();
    const answers = await Promise.all(
      ['A', 'B', 'A', 'B'].map((tenant) => api.get('/shared', { headers: { 'X-Tenant-Id': tenant } })),
    );
    expect(answers.map((r) => r.data.tenant)).toEqual(['A', 'B', 'A', 'B']);
  });

  it('Vary: * is never stored', async () => {
    varyingUpstream('*');
    prefixes++;
    const api = await instance();
    await api.get('/everything');
    expect((await api.get('/everything')).cache?.status).toBe('miss');
    expect(servers.upstream.calls('/everything')).toBe(2);
  });
});
