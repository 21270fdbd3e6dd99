import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import axios, { type AxiosInstance, type AxiosRequestConfig } from 'axios';
import { Agent as UndiciAgent } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CacheOptions, closeCache, MemoryStore, withCache } from '../../src/index.js';
import { makeCertificates, type TestCertificates } from '../helpers/certs.js';
import { useRedisAndUpstream } from '../helpers/suite.js';

/**
 * Identity that travels outside the credential headers: the authority a request names (`Host`), the
 * client certificate its agent presents, its proxy and DNS lookup, credential headers when `varyHeaders` is
 * replaced. Every answer is checked against what the upstream sent to that caller — and against what plain
 * axios gives for the same request — on both adapters, the memory store and Redis.
 */
const servers = useRedisAndUpstream();
let prefixes = 0;

type StoreKind = 'memory' | 'redis';
const STORES: readonly StoreKind[] = ['memory', 'redis'];

async function cached(kind: StoreKind, instance: AxiosInstance, options: CacheOptions = {}, prefix?: string) {
  const store = kind === 'memory' ? new MemoryStore() : await servers.store();
  return withCache(instance, { store, prefix: prefix ?? `iso${++prefixes}:`, fleetStats: false, ...options });
}

/** An upstream that says which `Host` it was asked for, and counts calls per host. */
let reflect: { url: string; calls: Map<string, number>; close(): Promise<void> };

beforeAll(async () => {
  const calls = new Map<string, number>();
  const server = http.createServer((req, res) => {
    const host = String(req.headers.host);
    const n = (calls.get(host) ?? 0) + 1;
    calls.set(host, n);
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ host, call: n, local: req.socket.localAddress }));
  });
  await new Promise<void>((resolve) => server.listen(0, '0.0.0.0', resolve));
  const { port } = server.address() as AddressInfo;
  reflect = {
    url: `http://127.0.0.1:${port}`,
    calls,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
});
afterAll(() => reflect?.close());

describe.each(STORES)('a Host header override (%s store)', (kind) => {
  it.each(['http', 'fetch'] as const)(
    'is part of the key: each tenant gets its own answer (%s adapter)',
    async (adapter) => {
      const plain = axios.create({ baseURL: reflect.url, adapter });
      const api = await cached(kind, axios.create({ baseURL: reflect.url, adapter }));
      const path = `/reflect/${adapter}/${kind}`;
      const asA: AxiosRequestConfig = { headers: { Host: 'tenant-a.example' } };
      const asB: AxiosRequestConfig = { headers: { host: 'Tenant-B.example' } };
      const expectedA = (await plain.get(path, asA)).data.host;
      const expectedB = (await plain.get(path, asB)).data.host;

      const a1 = await api.get(path, asA);
      const b1 = await api.get(path, asB);
      const a2 = await api.get(path, asA);
      const b2 = await api.get(path, asB);
      expect(a1.data.host).toBe(expectedA);
      expect(b1.data.host).toBe(expectedB);
      expect(a2.data.host).toBe(expectedA);
      expect(b2.data.host).toBe(expectedB);
      expect(a2.cache?.status).toBe('hit');
      expect(b2.cache?.status).toBe('hit');
      // Concurrent requests of the two tenants never share a call either.
      const path2 = `${path}/concurrent`;
      const both = await Promise.all([api.get(path2, asA), api.get(path2, asB), api.get(path2, asA)]);
      expect(both.map((r) => r.data.host)).toEqual([expectedA, expectedB, expectedA]);
      await closeCache(api);
    },
  );
});

describe.each(STORES)('credential headers when varyHeaders is replaced (%s store)', (kind) => {
  const bearer = (token: string): AxiosRequestConfig => ({ headers: { Authorization: `Bearer ${token}` } });

  it.each([
    ['ttl mode', {}],
    ['httpSemantics', { httpSemantics: true }],
  ] as const)('are still part of the key (%s): bob never gets alice’s answer', async (_, mode) => {
    servers.upstream.handle((req, res) => {
      res.setHeader('content-type', 'application/json');
      res.setHeader('cache-control', 'max-age=60');
      res.end(JSON.stringify({ who: req.headers.authorization }));
    });
    const api = await cached(kind, axios.create({ baseURL: servers.upstream.url }), {
      varyHeaders: ['x-tenant-token'],
      ...mode,
    });
    const path = `/statement/${kind}/${Object.keys(mode).length}`;
    const alice = await api.get(path, bearer('alice'));
    const bob = await api.get(path, bearer('bob'));
    const aliceAgain = await api.get(path, bearer('alice'));
    expect(alice.data.who).toBe('Bearer alice');
    expect(bob.data.who).toBe('Bearer bob');
    expect(aliceAgain.data.who).toBe('Bearer alice');
    expect(aliceAgain.cache?.status).toBe('hit');
    expect(servers.upstream.calls(path)).toBe(2);
  });

  it('are shared only when shareCredentials names them', async () => {
    servers.upstream.handle((req, res) => {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ who: req.headers.authorization }));
    });
    const api = await cached(kind, axios.create({ baseURL: servers.upstream.url }), {
      shareCredentials: ['authorization'],
    });
    const path = `/shared-statement/${kind}`;
    await api.get(path, bearer('alice'));
    const bob = await api.get(path, bearer('bob'));
    expect(bob.cache?.status).toBe('hit'); // the explicit opt-in
    expect(servers.upstream.calls(path)).toBe(1);
    // Other credential headers stay keyed.
    const keyed = await api.get(path, { headers: { Authorization: 'Bearer bob', 'X-Api-Key': 'k2' } });
    expect(keyed.cache?.status).toBe('miss');
  });
});

describe('client certificates (mTLS)', () => {
  let certs: TestCertificates;
  let upstream: { url: string; calls: () => number; close(): Promise<void> };

  beforeAll(async () => {
    certs = makeCertificates(['alice', 'bob']);
    let calls = 0;
    const server = https.createServer(
      { ...certs.server, ca: certs.ca, requestCert: true, rejectUnauthorized: false },
      (req, res) => {
        calls++;
        const peer = (req.socket as TLSSocket).getPeerCertificate();
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify({ statementOf: peer?.subject?.CN ?? 'anonymous', call: calls }));
      },
    );
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    upstream = {
      url: `https://127.0.0.1:${port}`,
      calls: () => calls,
      close: () =>
        new Promise((resolve) => {
          server.closeAllConnections();
          server.close(() => resolve());
        }),
    };
  });
  afterAll(() => upstream?.close());

  const agentOf = (name: 'alice' | 'bob') => new https.Agent({ ...certs.clients[name], ca: certs.ca, keepAlive: true });

  describe.each(STORES)('%s store', (kind) => {
    it('one instance, the agent per request: bob never gets alice’s statement', async () => {
      const api = await cached(kind, axios.create({ baseURL: upstream.url }));
      const [alice, bob] = [agentOf('alice'), agentOf('bob')];
      const path = `/statement/one/${kind}`;
      const a1 = await api.get(path, { httpsAgent: alice });
      const b1 = await api.get(path, { httpsAgent: bob });
      const a2 = await api.get(path, { httpsAgent: alice });
      const b2 = await api.get(path, { httpsAgent: bob });
      expect([a1, b1, a2, b2].map((r) => r.data.statementOf)).toEqual(['alice', 'bob', 'alice', 'bob']);
      expect([a2.cache?.status, b2.cache?.status]).toEqual(['hit', 'hit']);
      alice.destroy();
      bob.destroy();
    });

    it('two instances (alice’s agent, bob’s agent) on one store and prefix: each its own', async () => {
      const prefix = `iso-mtls-${kind}:`;
      const store = kind === 'memory' ? new MemoryStore() : await servers.store();
      const alice = withCache(axios.create({ baseURL: upstream.url, httpsAgent: agentOf('alice') }), {
        store,
        prefix,
        fleetStats: false,
      });
      const bob = withCache(axios.create({ baseURL: upstream.url, httpsAgent: agentOf('bob') }), {
        store,
        prefix,
        fleetStats: false,
      });
      const path = `/statement/two/${kind}`;
      expect((await alice.get(path)).data.statementOf).toBe('alice');
      const bobs = await bob.get(path);
      expect(bobs.data.statementOf).toBe('bob');
      expect(bobs.cache?.status).toBe('miss');
      expect((await alice.get(path)).cache?.status).toBe('hit');
      // The same certificate in another agent object is the same identity: it shares alice's entry.
      const aliceElsewhere = withCache(axios.create({ baseURL: upstream.url, httpsAgent: agentOf('alice') }), {
        store,
        prefix,
        fleetStats: false,
      });
      const shared = await aliceElsewhere.get(path);
      expect(shared.data.statementOf).toBe('alice');
      expect(shared.cache?.status).toBe('hit');
    });

    it('the fetch adapter with an undici dispatcher per client: each its own', async () => {
      const api = await cached(kind, axios.create({ baseURL: upstream.url, adapter: 'fetch' }));
      const dispatcher = (name: 'alice' | 'bob') =>
        new UndiciAgent({ connect: { ...certs.clients[name], ca: certs.ca } });
      const [alice, bob] = [dispatcher('alice'), dispatcher('bob')];
      const path = `/statement/fetch/${kind}`;
      const a1 = await api.get(path, { fetchOptions: { dispatcher: alice } });
      const b1 = await api.get(path, { fetchOptions: { dispatcher: bob } });
      const a2 = await api.get(path, { fetchOptions: { dispatcher: alice } });
      expect([a1, b1, a2].map((r) => r.data.statementOf)).toEqual(['alice', 'bob', 'alice']);
      expect(a2.cache?.status).toBe('hit');
      await Promise.all([alice.close(), bob.close()]);
    });
  });
});

describe.each(STORES)('where the request goes (%s store)', (kind) => {
  it('a proxy setting is part of the key: each proxy’s answer to its own callers', async () => {
    // Two forward proxies that answer themselves (an HTTP proxy gets the absolute URL).
    const proxies = await Promise.all(
      ['east', 'west'].map(async (name) => {
        const server = http.createServer((req, res) => {
          res.setHeader('content-type', 'application/json');
          res.end(JSON.stringify({ via: name, url: req.url }));
        });
        await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
        return { name, server, port: (server.address() as AddressInfo).port };
      }),
    );
    const api = await cached(kind, axios.create());
    const target = `http://service.invalid/price-list/${kind}`;
    const via = (i: number): AxiosRequestConfig => ({
      proxy: { protocol: 'http', host: '127.0.0.1', port: proxies[i]?.port as number },
    });
    const answers = [];
    for (const i of [0, 1, 0, 1]) answers.push((await api.get(target, via(i))).data.via);
    expect(answers).toEqual(['east', 'west', 'east', 'west']);
    for (const p of proxies) {
      p.server.closeAllConnections();
      p.server.close();
    }
  });

  it('a DNS lookup that resolves to another address is part of the key', async () => {
    const port = new URL(reflect.url).port;
    // No pooled connection: a kept-alive socket to svc.test would answer whatever the lookup says.
    const api = await cached(kind, axios.create({ httpAgent: new http.Agent({ keepAlive: false }) }));
    // Two lookups: one to 127.0.0.1, one to 127.0.0.2 (the upstream listens on every address).
    const resolveTo = (address: string): NonNullable<AxiosRequestConfig['lookup']> =>
      ((_host: string, options: { all?: boolean }, done: (...args: unknown[]) => void) =>
        options?.all ? done(null, [{ address, family: 4 }]) : done(null, address, 4)) as never;
    const toFirst = resolveTo('127.0.0.1');
    const toSecond = (() => {
      const other = '127.0.0.2';
      return ((_h: string, o: { all?: boolean }, cb: (...args: unknown[]) => void) =>
        o?.all ? cb(null, [{ address: other, family: 4 }]) : cb(null, other, 4)) as never;
    })() as NonNullable<AxiosRequestConfig['lookup']>;
    const url = `http://svc.test:${port}/where/${kind}`;
    const first = await api.get(url, { lookup: toFirst });
    const second = await api.get(url, { lookup: toSecond });
    const firstAgain = await api.get(url, { lookup: toFirst });
    expect([first.data.local, second.data.local, firstAgain.data.local]).toEqual([
      '127.0.0.1',
      '127.0.0.2',
      '127.0.0.1',
    ]);
    expect(firstAgain.cache?.status).toBe('hit');
  });
});
