import axios, { AxiosError } from 'axios';
import { afterAll, describe, expect, it } from 'vitest';
import { type CacheOptions, closeCache, getCacheStats, withCache } from '../../src/index.js';
import { synced } from '../helpers/clients.js';
import { useRedisAndUpstream } from '../helpers/suite.js';
import type { ReceivedRequest } from '../helpers/upstream.js';

/**
 * `httpSemantics` and revalidation against a real redis-server and a real upstream: what the upstream
 * received (conditional headers, how many calls) and what Redis holds are the truth asserted on.
 */
const servers = useRedisAndUpstream();
let prefixes = 0;
const closers: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const close of closers) await close();
});

async function instance(options: CacheOptions = {}) {
  const redis = await servers.client();
  const store = await servers.store();
  const prefix = `http-${++prefixes}:`;
  const api = withCache(axios.create({ baseURL: servers.upstream.url }), { store, prefix, ...options });
  closers.push(() => closeCache(api));
  return { api, redis, store, prefix };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * An upstream with one representation per path, `version` bumped by `change(path)`: every answer carries
 * `ETag: "v<version>"` and the given headers; a request whose `If-None-Match` names the current tag gets a
 * `304` (with `x-checked`: the call number), anything else a `200` with the body.
 */
function taggedUpstream(headers: Record<string, string> = {}) {
  const versions = new Map<string, number>();
  const conditional: ReceivedRequest[] = [];
  servers.upstream.handle((req, res, n) => {
    const path = req.url.split('?')[0] as string;
    const tag = `"v${versions.get(path) ?? 1}"`;
    for (const [name, value] of Object.entries(headers)) res.setHeader(name, value);
    res.setHeader('etag', tag);
    if (req.headers['if-none-match'] !== undefined) conditional.push(req);
    if (req.headers['if-none-match'] === tag) {
      res.statusCode = 304;
      res.setHeader('x-checked', String(n));
      res.end();
      return;
    }
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ path, version: versions.get(path) ?? 1, call: n }));
  });
  return {
    conditional,
    change: (path: string) => versions.set(path, (versions.get(path) ?? 1) + 1),
  };
}

describe('httpSemantics: freshness from the response', () => {
  it('reuses an answer for its max-age, with an Age header, and not after', async () => {
    taggedUpstream({ 'cache-control': 'max-age=1' });
    const { api } = await instance({ httpSemantics: true, keep: 0 });
    const first = await api.get('/fresh');
    const again = await api.get('/fresh');
    expect(again.cache?.status).toBe('hit');
    expect(again.data).toEqual(first.data);
    expect(again.headers.age).toMatch(/^[01]$/);
    expect(first.headers.age).toBeUndefined(); // the upstream's own answer, untouched
    await sleep(1100);
    const later = await api.get('/fresh');
    expect(later.cache?.status).toBe('miss');
    expect(servers.upstream.calls('/fresh')).toBe(2);
  });

  it('counts the Age the upstream sent: an answer already older than its max-age is not reused', async () => {
    taggedUpstream({ 'cache-control': 'max-age=60', age: '100' });
    const { api } = await instance({ httpSemantics: true, keep: 0 });
    await api.get('/aged');
    expect((await api.get('/aged')).cache?.status).toBe('miss');
    expect(servers.upstream.calls('/aged')).toBe(2);
  });

  it('prefers s-maxage in a shared cache, max-age in a private one', async () => {
    taggedUpstream({ 'cache-control': 'max-age=60, s-maxage=0' });
    const shared = await instance({ httpSemantics: true, keep: 0 });
    await shared.api.get('/s-maxage');
    expect((await shared.api.get('/s-maxage')).cache?.status).toBe('miss');
    const personal = await instance({ httpSemantics: true, keep: 0, shared: false });
    await personal.api.get('/s-maxage');
    expect((await personal.api.get('/s-maxage')).cache?.status).toBe('hit');
  });

  it('stores nothing without freshness information unless fallbackTtl says so', async () => {
    servers.upstream.handle((_req, res, n) => {
      res.end(JSON.stringify({ call: n }));
    });
    const strict = await instance({ httpSemantics: true });
    await strict.api.get('/silent');
    expect((await strict.api.get('/silent')).cache?.status).toBe('miss');
    const lenient = await instance({ httpSemantics: true, fallbackTtl: 60 });
    await lenient.api.get('/silent-2');
    expect((await lenient.api.get('/silent-2')).cache?.status).toBe('hit');
  });

  it('never reads an entry of the other mode: the same URL has one entry per mode', async () => {
    taggedUpstream({ 'cache-control': 'no-cache' });
    const { api } = await instance({ keep: 0 });
    await api.get('/modes');
    expect((await api.get('/modes')).cache?.status).toBe('hit'); // ttl mode ignores no-cache
    const own = await api.get('/modes', { cache: { httpSemantics: true } });
    expect(own.cache?.status).toBe('miss');
    expect(own.cache?.key).not.toBe((await api.get('/modes')).cache?.key);
  });
});

describe('request directives under httpSemantics', () => {
  it('answers only-if-cached with a 504 when nothing is stored, and from the store when it is', async () => {
    taggedUpstream({ 'cache-control': 'max-age=60' });
    const { api } = await instance({ httpSemantics: true });
    const headers = { 'cache-control': 'only-if-cached' };
    const error = await api.get('/oic', { headers }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AxiosError);
    expect((error as AxiosError).response?.status).toBe(504);
    expect(servers.upstream.calls('/oic')).toBe(0);
    await api.get('/oic');
    expect((await api.get('/oic', { headers })).cache?.status).toBe('hit');
    expect(servers.upstream.calls('/oic')).toBe(1);
  });

  it('honours the request max-age: max-age=0 revalidates a fresh entry', async () => {
    const upstream = taggedUpstream({ 'cache-control': 'max-age=60' });
    const { api } = await instance({ httpSemantics: true });
    await api.get('/ma0');
    const checked = await api.get('/ma0', { headers: { 'cache-control': 'max-age=0' } });
    expect(checked.cache?.status).toBe('revalidated');
    expect(upstream.conditional.map((r) => r.url)).toEqual(['/ma0']);
  });

  it("answers a caller's own matching If-None-Match with a 304 from a fresh entry, without asking upstream", async () => {
    taggedUpstream({ 'cache-control': 'max-age=60' });
    const { api } = await instance({ httpSemantics: true });
    await api.get('/inm');
    const matching = await api.get('/inm', { headers: { 'if-none-match': '"v1"' }, validateStatus: null });
    expect(matching.status).toBe(304);
    expect(matching.headers.etag).toBe('"v1"');
    const other = await api.get('/inm', { headers: { 'if-none-match': '"v0"' } });
    expect(other.status).toBe(200);
    expect(other.data.version).toBe(1);
    expect(servers.upstream.calls('/inm')).toBe(1);
  });
});

describe('revalidation: an expired entry with a validator costs a 304, not a body', () => {
  for (const mode of ['ttl', 'http'] as const) {
    it(`${mode} mode: sends If-None-Match, replays the stored body with the 304's headers, renews the entry in place`, async () => {
      const upstream = taggedUpstream({ 'cache-control': 'max-age=1' });
      const options: CacheOptions = mode === 'http' ? { httpSemantics: true } : { ttl: 1 };
      const { api, redis, store } = await instance(options);
      const first = await api.get(`/dkim-${mode}`);
      const key = first.cache?.key as string;
      await synced(store);
      const stored = (await redis.getBuffer(key)) as Buffer;
      await sleep(1100);

      const renewed = await api.get(`/dkim-${mode}`);
      expect(renewed.cache?.status).toBe('revalidated');
      expect(renewed.status).toBe(200);
      expect(renewed.data).toEqual(first.data);
      // The 304's own header, merged in: it was the upstream's last call.
      expect(renewed.headers['x-checked']).toBe(String(servers.upstream.received.length));
      expect(renewed.config.headers['if-none-match']).toBeUndefined(); // the caller's own config
      expect(upstream.conditional).toHaveLength(1);
      expect(upstream.conditional[0]?.headers['if-none-match']).toBe('"v1"');

      // Only the head changed in Redis: the body bytes are the same, and the entry is fresh again.
      await synced(store);
      const after = (await redis.getBuffer(key)) as Buffer;
      const bodyLength = Buffer.byteLength(JSON.stringify(first.data));
      expect(after.subarray(after.length - bodyLength)).toEqual(stored.subarray(stored.length - bodyLength));
      expect(after.equals(stored)).toBe(false);
      expect((await api.get(`/dkim-${mode}`)).cache?.status).toBe('hit');
      expect(getCacheStats(api).revalidations).toBe(1);
      expect(servers.upstream.calls(`/dkim-${mode}`)).toBe(2);
    });
  }

  it('stores the new answer when the representation changed (200 to the conditional request)', async () => {
    const upstream = taggedUpstream({ 'cache-control': 'max-age=1' });
    const { api } = await instance({ ttl: 1 });
    await api.get('/rotated');
    upstream.change('/rotated');
    await sleep(1100);
    const changed = await api.get('/rotated');
    expect(changed.cache?.status).toBe('miss');
    expect(changed.data.version).toBe(2);
    expect(changed.config.headers['if-none-match']).toBeUndefined();
    expect(upstream.conditional).toHaveLength(1);
    expect((await api.get('/rotated')).data.version).toBe(2);
  });

  it('keep: 0 turns revalidation off (an expired entry is fetched in full)', async () => {
    const upstream = taggedUpstream({ 'cache-control': 'max-age=1' });
    const { api } = await instance({ ttl: 0.2, keep: 0 });
    await api.get('/no-keep');
    await sleep(300);
    expect((await api.get('/no-keep')).cache?.status).toBe('miss');
    expect(upstream.conditional).toHaveLength(0);
  });
});
