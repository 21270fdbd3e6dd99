import axios, {
  type AxiosAdapter,
  AxiosError,
  AxiosHeaders,
  type AxiosResponse,
  CanceledError,
  type InternalAxiosRequestConfig,
} from 'axios';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { decodeEntry } from '../../src/entries/entry.js';
import { UNCACHEABLE_MARKER_MS } from '../../src/fleet/lease.js';
import {
  type CachedAxiosInstance,
  type CacheError,
  type CacheOptions,
  CacheStoreError,
  CacheStoreTimeoutError,
  getCacheStats,
  getCacheStore,
  withCache,
} from '../../src/index.js';
import { UNCACHEABLE_MARKER } from '../../src/stores/types.js';
import { LeaseStore, type StoreCall } from './lease-store.js';

// ---------------------------------------------------------------------------------------------------------
// Clock: Date.now() runs in real time plus an offset the tests move forward (entries expire without sleeping),
// or stands still after `freeze()` until moved. The LeaseStore's MemoryStore and lease expiry follow it too.

const realNow = Date.now;
let offset = 0;
let frozen: number | null = null;
const advance = (ms: number) => {
  offset += ms;
  if (frozen !== null) frozen += ms;
};
const freeze = () => {
  frozen = realNow() + offset;
};

// ---------------------------------------------------------------------------------------------------------
// A fake upstream shared by every "process": each process gets its own base adapter, all calls are counted
// in one list. Calls from a process in `held` wait for `release()`.

type Reply = { status?: number; data?: unknown; headers?: Record<string, string> } | { network: true };

interface UpstreamCall {
  by: string;
  config: InternalAxiosRequestConfig;
  settled: boolean;
}

interface Deferred {
  promise: Promise<void>;
  resolve: () => void;
}

function deferred(): Deferred {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

/** A JSON text body naming the call number and the process, as an HTTP upstream would send it. */
const jsonReply = (call: number, by: string): Reply => ({
  data: JSON.stringify({ call, by }),
  headers: { 'content-type': 'application/json' },
});

class Upstream {
  readonly calls: UpstreamCall[] = [];
  readonly held = new Set<string>();
  /** What the next calls answer. */
  reply: (call: number, by: string) => Reply = jsonReply;
  private gate = deferred();
  private listeners: (() => void)[] = [];

  /**
   * @param honourAbort reject with a CanceledError as soon as `config.signal` aborts (axios' adapters do);
   *   otherwise the abort only takes effect at `release()`.
   * @param delayMs answer unheld calls after this many ms (so that `fetchMs` > 0).
   */
  constructor(
    private readonly honourAbort = true,
    private readonly delayMs = 0,
  ) {}

  adapter(by: string): AxiosAdapter {
    return (config) => {
      const call: UpstreamCall = { by, config, settled: false };
      this.calls.push(call);
      const n = this.calls.length;
      const reply = this.reply(n, by);
      for (const listener of this.listeners.splice(0)) listener();
      return new Promise<AxiosResponse>((resolve, reject) => {
        const signal = config.signal as AbortSignal | undefined;
        const cancel = () => {
          call.settled = true;
          reject(new CanceledError(undefined, config));
        };
        if (this.honourAbort) signal?.addEventListener('abort', cancel, { once: true });
        // Like axios' adapters, honour the caller's own timeout (the cache no longer imposes one on the
        // request whose config makes the call).
        const timeout = typeof config.timeout === 'number' && config.timeout > 0 ? config.timeout : 0;
        if (timeout) {
          setTimeout(() => {
            if (call.settled) return;
            call.settled = true;
            signal?.removeEventListener('abort', cancel);
            reject(new AxiosError(`timeout of ${timeout}ms exceeded`, AxiosError.ECONNABORTED, config));
          }, timeout);
        }
        const answer = () => {
          signal?.removeEventListener('abort', cancel);
          if (call.settled) return;
          if (signal?.aborted) return cancel();
          call.settled = true;
          if ('network' in reply) return reject(new AxiosError('Network Error', AxiosError.ERR_NETWORK, config, {}));
          const response: AxiosResponse = {
            data: reply.data,
            status: reply.status ?? 200,
            statusText: reply.status && reply.status !== 200 ? 'Error' : 'OK',
            headers: new AxiosHeaders(reply.headers ?? {}),
            config,
            request: {},
          };
          if (!config.validateStatus || config.validateStatus(response.status)) return resolve(response);
          reject(
            new AxiosError(
              `Request failed with status code ${response.status}`,
              response.status < 500 ? AxiosError.ERR_BAD_REQUEST : AxiosError.ERR_BAD_RESPONSE,
              config,
              response.request,
              response,
            ),
          );
        };
        if (this.held.has(by)) void this.gate.promise.then(answer);
        else if (this.delayMs > 0) setTimeout(answer, this.delayMs);
        else queueMicrotask(answer);
      });
    };
  }

  /** Resolves once at least `n` calls have been made. */
  async waitCalls(n: number): Promise<void> {
    while (this.calls.length < n) {
      await new Promise<void>((resolve) => this.listeners.push(resolve));
    }
  }

  /** Let every held call answer (with the reply chosen when it was made). Later calls are held again. */
  release(): void {
    this.gate.resolve();
    this.gate = deferred();
  }

  /** Who called, in order. */
  get by(): string[] {
    return this.calls.map((c) => c.by);
  }
}

// ---------------------------------------------------------------------------------------------------------

/** One "process": its own axios instance (own in-flight map), on a view of the shared store. */
function processOn(store: LeaseStore, name: string, upstream: Upstream, options: CacheOptions = {}) {
  return withCache(axios.create({ baseURL: 'http://api.test', adapter: upstream.adapter(name) }), {
    store: store.process(name),
    ...options,
  });
}

/** The LeaseStore view a process made by `processOn` uses (to inject faults into its calls only). */
const viewOf = (api: CachedAxiosInstance) => getCacheStore(api) as LeaseStore;

async function outcome<T>(promise: Promise<T>): Promise<{ value?: T; error?: unknown }> {
  try {
    return { value: await promise };
  } catch (error) {
    return { error };
  }
}

/** Wait (a few ms at a time, bounded) until `condition` holds. */
async function until(condition: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 1000; i++) {
    if (condition()) return;
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
  throw new Error(`gave up waiting for ${what}`);
}

/** Let pending promise chains run (one macrotask turn, no timer). */
const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

const statuses = (responses: AxiosResponse[]) => responses.map((r) => r.cache?.status);
const acquires = (store: LeaseStore, by: string) => store.calls({ by, op: 'acquire' });
const releases = (store: LeaseStore, by: string) => store.calls({ by, op: 'release' });
const results = (calls: StoreCall[]) => calls.map((c) => c.result);

/** Seed one fresh entry of `/k` through `api` (upstream call 1), then make it `ms` old. */
async function seedAndAge(api: CachedAxiosInstance, ms: number): Promise<AxiosResponse> {
  const first = await api.get('/k');
  expect(first.cache?.status).toBe('miss');
  advance(ms);
  return first;
}

let upstreams: Upstream[] = [];
function upstream(honourAbort = true, delayMs = 0): Upstream {
  const u = new Upstream(honourAbort, delayMs);
  upstreams.push(u);
  return u;
}

beforeEach(() => {
  offset = 0;
  frozen = null;
  vi.spyOn(Date, 'now').mockImplementation(() => frozen ?? realNow() + offset);
});

afterEach(() => {
  // Let anything still held finish, so no test leaves work running into the next one.
  for (const u of upstreams) {
    u.held.clear();
    u.release();
  }
  upstreams = [];
  vi.restoreAllMocks();
});

// ---------------------------------------------------------------------------------------------------------

describe('fleet coalescing through the fill lease', () => {
  it('two processes × 20 concurrent cold GETs send exactly one request upstream', async () => {
    const store = new LeaseStore();
    const up = upstream();
    up.held.add('A');
    const a = processOn(store, 'A', up, { lockTtl: 2000, lockWait: 4000 });
    const b = processOn(store, 'B', up, { lockTtl: 2000, lockWait: 4000 });

    const fromA = Promise.all(Array.from({ length: 20 }, () => a.get('/dkim')));
    await up.waitCalls(1);
    let bSettled = false;
    const fromB = Promise.all(Array.from({ length: 20 }, () => b.get('/dkim'))).finally(() => {
      bSettled = true;
    });
    await until(() => results(acquires(store, 'B')).includes('held'), 'B to find the lease held');
    await settle();
    expect(bSettled).toBe(false); // B waits for A's entry instead of fetching

    up.release();
    const [ra, rb] = await Promise.all([fromA, fromB]);

    expect(up.by).toEqual(['A']);
    expect(statuses(ra).sort()).toEqual(['miss', ...Array(19).fill('coalesced')].sort());
    expect(statuses(rb)).toEqual(Array(20).fill('coalesced'));
    for (const r of [...ra, ...rb]) expect(r.data).toEqual({ call: 1, by: 'A' });
    expect(new Set(rb.map((r) => r.data)).size).toBe(20); // each caller its own copy

    expect(getCacheStats(a)).toMatchObject({ misses: 1, coalesced: 19, hits: 0, inFlight: 0 });
    expect(getCacheStats(b)).toMatchObject({ misses: 0, coalesced: 20, hits: 0, inFlight: 0 });

    // A took the lease once and released it with its own token; nothing marks the key uncacheable.
    const [aAcquire, ...moreA] = acquires(store, 'A');
    expect(moreA).toEqual([]);
    expect(aAcquire?.result).toBe('acquired');
    await until(() => releases(store, 'A').length === 1, "A's release");
    expect(releases(store, 'A')[0]).toMatchObject({ token: aAcquire?.token, uncacheableMs: 0, result: 'released' });
    // B's 20 requests waited as one (one token: one wait per key and process — marked as a successor's
    // after its first 'held'), and B never fetched. Its last poll may have taken the freed lease together
    // with the entry: then it gave the lease straight back.
    const bAcquires = acquires(store, 'B');
    expect(new Set(bAcquires.map((c) => (c.token ?? '').replace(/~$/, ''))).size).toBe(1);
    expect(bAcquires.slice(1).every((c) => (c.token ?? '').endsWith('~'))).toBe(true);
    expect(results(bAcquires.slice(0, -1)).every((r) => r === 'held')).toBe(true);
    const bTookIt = bAcquires.at(-1)?.result === 'acquired';
    await until(() => releases(store, 'B').length === (bTookIt ? 1 : 0), "B's release");
    expect(releases(store, 'B')).toEqual(
      bTookIt
        ? [expect.objectContaining({ token: bAcquires.at(-1)?.token, uncacheableMs: 0, result: 'released' })]
        : [],
    );
    expect(store.leaseValue(aAcquire!.key)).toBeNull();
  });

  it('a waiter takes the entry as soon as it is stored, even while the lease is still held', async () => {
    const store = new LeaseStore();
    const up = upstream();
    up.held.add('A');
    const options: CacheOptions = { breaker: false, lockTtl: 5000, lockWait: 5000 };
    const a = processOn(store, 'A', up, options);
    const b = processOn(store, 'B', up, options);
    viewOf(a).releaseFault = { kind: 'reject' }; // A stores its entry but cannot release its lease

    const fromA = a.get('/dkim');
    await up.waitCalls(1);
    const fromB = Promise.all(Array.from({ length: 3 }, () => b.get('/dkim')));
    await until(() => results(acquires(store, 'B')).includes('held'), 'B to find the lease held');
    up.release();
    expect((await fromA).cache?.status).toBe('miss');
    const rb = await fromB;

    expect(statuses(rb)).toEqual(['coalesced', 'coalesced', 'coalesced']);
    expect(up.by).toEqual(['A']);
    const aAcquire = acquires(store, 'A')[0]!;
    expect(store.leaseValue(aAcquire.key)).toBe(aAcquire.token); // B did not wait for it to expire
    expect(results(acquires(store, 'B')).every((r) => r === 'held')).toBe(true);
  });

  it('a third process arriving after the entry is stored gets a plain hit (no lease call)', async () => {
    const store = new LeaseStore();
    const up = upstream();
    const a = processOn(store, 'A', up);
    const c = processOn(store, 'C', up);
    await a.get('/dkim');
    const hit = await c.get('/dkim');
    expect(hit.cache?.status).toBe('hit');
    expect(up.calls).toHaveLength(1);
    expect(acquires(store, 'C')).toEqual([]);
  });

  it.each([
    ['its upstream never answers', false],
    ['its caller aborted but the adapter ignores the abort', true],
  ])('takes the lease over after lockTtl when the holder stalls (%s)', async (_, aborting) => {
    freeze(); // the 50 ms lease expires when the test says so, however slow the machine
    const store = new LeaseStore();
    const up = upstream(false);
    up.held.add('A');
    const options: CacheOptions = { lockTtl: 50, lockWait: 5000 };
    const a = processOn(store, 'A', up, options);
    const b = processOn(store, 'B', up, options);

    const abort = new AbortController();
    const fromA = outcome(a.get('/dkim', aborting ? { signal: abort.signal } : {}));
    await up.waitCalls(1);
    if (aborting) {
      // The holder's caller owns its upstream call: its abort reaches the adapter, which ignores it, so the
      // caller waits as it would without the cache, and the call (and the lease) stay.
      abort.abort();
      await settle();
      expect(up.calls[0]?.settled).toBe(false);
    }
    const aToken = acquires(store, 'A')[0]?.token;
    const leaseKey = acquires(store, 'A')[0]!.key;
    expect(store.leaseValue(leaseKey)).toBe(aToken);

    const fromB = Promise.all(Array.from({ length: 5 }, () => b.get('/dkim')));
    await until(() => results(acquires(store, 'B')).includes('held'), 'B to find the lease held');
    expect(up.by).toEqual(['A']);
    advance(50); // the holder's lease expires
    const rb = await fromB;

    // One more upstream call, by B; B's callers succeed.
    expect(up.by).toEqual(['A', 'B']);
    expect(statuses(rb)).toEqual(['miss', 'coalesced', 'coalesced', 'coalesced', 'coalesced']);
    for (const r of rb) expect(r.data).toEqual({ call: 2, by: 'B' });
    const bResults = results(acquires(store, 'B'));
    expect(bResults[0]).toBe('held');
    expect(bResults.filter((r) => r === 'acquired')).toHaveLength(1);
    expect(bResults.at(-1)).toBe('acquired');
    const bToken = acquires(store, 'B').find((c) => c.result === 'acquired')?.token;
    await until(() => releases(store, 'B').length === 1, "B's release");
    expect(releases(store, 'B')[0]).toMatchObject({ token: bToken, uncacheableMs: 0, result: 'released' });

    // The stalled holder finally finishes: its release, with its stale token, changes nothing (no marker).
    up.release();
    if (aborting) expect(axios.isCancel((await fromA).error)).toBe(true);
    await until(() => releases(store, 'A').length === 1, "A's release");
    expect(releases(store, 'A')[0]).toMatchObject({ token: aToken, result: 'not owner' });
    expect(store.leaseValue(leaseKey)).toBeNull();
    expect(up.calls).toHaveLength(2);
  });

  describe('hit-for-miss: an answer that cannot be stored replaces the lease by the uncacheable marker', () => {
    const cases: [string, Reply, CacheOptions, (r: { value?: AxiosResponse; error?: unknown }) => void][] = [
      [
        'a 500',
        { status: 500, data: '{"error":"boom"}', headers: { 'content-type': 'application/json' } },
        {},
        ({ error }) => {
          expect(error).toBeInstanceOf(AxiosError);
          expect((error as AxiosError).response?.status).toBe(500);
          expect((error as AxiosError).response?.data).toEqual({ error: 'boom' });
        },
      ],
      [
        'Cache-Control: no-store',
        { data: 'secret', headers: { 'cache-control': 'no-store' } },
        {},
        ({ value }) => expect(value?.data).toBe('secret'),
      ],
      [
        'a body larger than maxEntryBytes',
        { data: 'x'.repeat(4096) },
        { maxEntryBytes: 1024 },
        ({ value }) => expect(value?.data).toHaveLength(4096),
      ],
      ['a network error', { network: true }, {}, ({ error }) => expect((error as AxiosError).code).toBe('ERR_NETWORK')],
    ];

    it.each(cases)('%s: the waiting process goes upstream at once', async (_, reply, extra, check) => {
      const store = new LeaseStore();
      const up = upstream();
      up.reply = () => reply;
      up.held.add('A');
      const options: CacheOptions = { lockTtl: 5000, lockWait: 5000, ...extra };
      const a = processOn(store, 'A', up, options);
      const b = processOn(store, 'B', up, options);

      const fromA = outcome(a.get('/dkim'));
      await up.waitCalls(1);
      const fromB = Promise.all(Array.from({ length: 20 }, () => outcome(b.get('/dkim'))));
      await until(() => results(acquires(store, 'B')).includes('held'), 'B to find the lease held');

      up.release();
      check(await fromA);
      const rb = await fromB;
      for (const r of rb) check(r);

      // A left the marker for UNCACHEABLE_MARKER_MS with its own token …
      const [aRelease] = releases(store, 'A');
      expect(aRelease).toMatchObject({ token: acquires(store, 'A')[0]?.token, result: 'released' });
      expect(aRelease?.uncacheableMs).toBe(UNCACHEABLE_MARKER_MS);
      expect(store.leaseValue(aRelease!.key)).toBe(UNCACHEABLE_MARKER);
      // … and B's very next lease call saw it and went upstream without the lease: it did not wait for
      // lockWait (5 s) nor lockTtl (5 s), which would take hundreds of polls.
      const afterRelease = store.log.slice(store.log.indexOf(aRelease!));
      const bAfter = afterRelease.filter((c) => c.by === 'B' && c.op === 'acquire');
      expect(results(bAfter)).toEqual(['uncacheable']);
      expect(results(acquires(store, 'B'))).not.toContain('acquired');
      expect(acquires(store, 'B').length).toBeLessThan(10);
      expect(releases(store, 'B')).toEqual([]);

      expect(up.by).toEqual(['A', 'B']);
      const cacheStatuses = rb.map(
        (r) => (r.value ?? ((r.error as AxiosError).response as AxiosResponse | undefined))?.cache?.status,
      );
      if (!('network' in reply)) {
        expect(cacheStatuses.sort()).toEqual(['miss', ...Array(19).fill('coalesced')].sort());
      }
      expect(getCacheStats(b)).toMatchObject({ misses: 1, coalesced: 19 });
    });

    it('a 404 (not storable by default) releases waiters the same way and reaches them as a 404 AxiosError', async () => {
      const store = new LeaseStore();
      const up = upstream();
      up.reply = () => ({ status: 404, data: 'no such key' });
      up.held.add('A');
      const a = processOn(store, 'A', up, { lockTtl: 5000, lockWait: 5000 });
      const b = processOn(store, 'B', up, { lockTtl: 5000, lockWait: 5000 });
      const fromA = outcome(a.get('/dkim'));
      await up.waitCalls(1);
      const fromB = outcome(b.get('/dkim'));
      await until(() => results(acquires(store, 'B')).includes('held'), 'B to find the lease held');
      up.release();
      for (const { error } of [await fromA, await fromB]) {
        expect(error).toBeInstanceOf(AxiosError);
        expect((error as AxiosError).response?.status).toBe(404);
      }
      expect(results(acquires(store, 'B')).at(-1)).toBe('uncacheable');
      expect(up.by).toEqual(['A', 'B']);
    });
  });

  it('a process whose lease call lands just after another stored the entry uses that entry', async () => {
    const store = new LeaseStore();
    const up = upstream();
    const a = processOn(store, 'A', up, { lockTtl: 5000, lockWait: 5000 });
    const b = processOn(store, 'B', up, { lockTtl: 5000, lockWait: 5000, storeTimeout: 5000 });

    viewOf(b).acquireFault = { kind: 'hang' }; // B read "no entry"; its lease call is slow to land
    const fromB = b.get('/dkim');
    await until(() => acquires(store, 'B').length === 1, 'B to ask for the lease');
    expect((await a.get('/dkim')).cache?.status).toBe('miss'); // A fetches, stores, releases meanwhile
    await until(() => releases(store, 'A').length === 1, "A's release");

    viewOf(b).acquireFault = null;
    store.resumeHung(); // B gets the (free) lease, re-reads, finds A's entry
    const rb = await fromB;
    expect(rb.cache?.status).toBe('coalesced');
    expect(rb.data).toEqual({ call: 1, by: 'A' });
    expect(up.by).toEqual(['A']);
    expect(results(acquires(store, 'B'))).toEqual(['acquired']);
    await until(() => releases(store, 'B').length === 1, "B's release");
    expect(releases(store, 'B')[0]).toMatchObject({ uncacheableMs: 0, result: 'released' });
  });

  it('a waiter whose lockWait runs out while the holder still fetches goes upstream on its own', async () => {
    const store = new LeaseStore();
    const up = upstream();
    up.held.add('A');
    const options: CacheOptions = { lockTtl: 5000, lockWait: 30 };
    const a = processOn(store, 'A', up, options);
    const b = processOn(store, 'B', up, options);

    let aSettled = false;
    const fromA = a.get('/dkim').finally(() => {
      aSettled = true;
    });
    await up.waitCalls(1);
    const rb = await Promise.all(Array.from({ length: 5 }, () => b.get('/dkim')));

    expect(aSettled).toBe(false); // B did not wait for A
    expect(up.by).toEqual(['A', 'B']);
    expect(statuses(rb)).toEqual(['miss', 'coalesced', 'coalesced', 'coalesced', 'coalesced']);
    for (const r of rb) expect(r.data).toEqual({ call: 2, by: 'B' });
    expect(results(acquires(store, 'B')).every((r) => r === 'held')).toBe(true);
    expect(releases(store, 'B')).toEqual([]); // it never held the lease
    expect(getCacheStats(b)).toMatchObject({ misses: 1, coalesced: 4 });

    up.release();
    expect((await fromA).cache?.status).toBe('miss');
    expect(up.calls).toHaveLength(2);
  });

  it("a waiter's own timeout and signal end its wait; it does not call upstream for nobody", async () => {
    const store = new LeaseStore();
    const up = upstream();
    up.held.add('A');
    const options: CacheOptions = { lockTtl: 5000, lockWait: 5000 };
    const a = processOn(store, 'A', up, options);
    const b = processOn(store, 'B', up, options);

    const fromA = a.get('/dkim');
    await up.waitCalls(1);
    const abort = new AbortController();
    const aborted = outcome(b.get('/dkim', { signal: abort.signal }));
    const timedOut = outcome(b.get('/dkim', { timeout: 5 }));
    await until(() => results(acquires(store, 'B')).includes('held'), 'B to find the lease held');
    abort.abort();
    expect(axios.isCancel((await aborted).error)).toBe(true);
    expect(((await timedOut).error as AxiosError).code).toBe('ECONNABORTED');

    // B stops polling (its flight has no waiter left) and never goes upstream.
    // (Its poll loop notices at its next turn, ≤ 20 ms later; then the count stays put.)
    await until(() => getCacheStats(b).inFlight === 0, "B's flight to end");
    await new Promise((resolve) => setTimeout(resolve, 25));
    const polls = acquires(store, 'B').length;
    await new Promise((resolve) => setTimeout(resolve, 25));
    expect(acquires(store, 'B')).toHaveLength(polls);
    expect(up.by).toEqual(['A']);

    up.release();
    expect((await fromA).cache?.status).toBe('miss');
  });

  // Regression (fixed; src/fill.ts, releases of an abandoned fill and of `!result.ok`, lines 67 and 84 at e462482):
  // when every caller of the lease holder gives up, the holder releases its lease with `stored = false` —
  // directly, or through the CanceledError of the upstream call it aborted itself — and so leaves the 1 s
  // "uncacheable" marker. That marker means "the answer cannot be stored, fetch on your own": every other
  // process waiting for the key goes upstream at once (a herd of N-1 calls), although nothing was learned
  // about the answer. Fix: release an abandoned or self-cancelled fill without the marker (plain
  // compare-and-delete: `releaseFill(…, true)` when `flight.waiters === 0`, and when the error comes from
  // our own `flight.controller` aborting), so that one waiter takes the lease over and the others keep
  // waiting for its entry.
  it('hands the lease on (no uncacheable marker) when the holder’s callers all give up', async () => {
    const store = new LeaseStore();
    const up = upstream();
    up.held.add('A');
    const options: CacheOptions = { lockTtl: 5000, lockWait: 5000 };
    const a = processOn(store, 'A', up, options);
    const b = processOn(store, 'B', up, options);
    const c = processOn(store, 'C', up, options);

    const abort = new AbortController();
    const fromA = outcome(a.get('/dkim', { signal: abort.signal }));
    await up.waitCalls(1);
    const fromB = b.get('/dkim');
    const fromC = c.get('/dkim');
    await until(
      () => results(acquires(store, 'B')).includes('held') && results(acquires(store, 'C')).includes('held'),
      'B and C to wait',
    );
    abort.abort();
    expect(axios.isCancel((await fromA).error)).toBe(true);
    const [rb, rc] = await Promise.all([fromB, fromC]);

    // A's aborted call plus one fetch for B and C together (today: B and C both fetch, 3 calls).
    expect(up.calls).toHaveLength(2);
    expect(statuses([rb, rc]).sort()).toEqual(['coalesced', 'miss']);
    await until(() => releases(store, 'A').length === 1, "A's release");
    expect(releases(store, 'A')[0]).toMatchObject({ uncacheableMs: 0 });
  });
});

describe('store failures during coordination', () => {
  it('an acquire that rejects: the request succeeds via upstream, then releases with the token it tried', async () => {
    const store = new LeaseStore();
    const up = upstream();
    const errors: CacheError[] = [];
    const a = processOn(store, 'A', up, { breaker: false, onError: (e) => errors.push(e) });
    viewOf(a).acquireFault = { kind: 'reject' };

    const response = await a.get('/dkim');
    expect(response.cache?.status).toBe('miss');
    expect(response.data).toEqual({ call: 1, by: 'A' });
    expect(up.calls).toHaveLength(1);

    const [acquire, ...more] = acquires(store, 'A');
    expect(more).toEqual([]);
    expect(acquire?.result).toBe('error');
    await until(() => releases(store, 'A').length === 1, "A's release");
    expect(releases(store, 'A')[0]).toMatchObject({ token: acquire?.token, uncacheableMs: 0 });
    expect(getCacheStats(a)).toMatchObject({ storeErrors: 1, storeTimeouts: 0, misses: 1 });
    expect(errors).toHaveLength(1);
    expect(errors[0]).toBeInstanceOf(CacheStoreError);
    expect((await a.get('/dkim')).cache?.status).toBe('hit');
  });

  it('an acquire that hangs beyond storeTimeout: the request succeeds, then releases with the same token', async () => {
    const store = new LeaseStore();
    const up = upstream();
    const errors: CacheError[] = [];
    const a = processOn(store, 'A', up, { breaker: false, storeTimeout: 10, onError: (e) => errors.push(e) });
    viewOf(a).acquireFault = { kind: 'hang' };

    const response = await a.get('/dkim');
    expect(response.cache?.status).toBe('miss');
    expect(up.calls).toHaveLength(1);

    const [acquire, ...more] = acquires(store, 'A');
    expect(more).toEqual([]);
    expect(acquire?.result).toBeUndefined(); // still hanging, and every call the process sent after it
    // The write and the release follow the answer (the caller does not wait for them).
    await vi.waitFor(() => expect(releases(store, 'A')).toHaveLength(1));
    const [release] = releases(store, 'A');
    // The timed-out call may yet take the lease in the store: the process still releases with its token.
    expect(release?.token).toBe(acquire?.token);
    expect(getCacheStats(a).storeTimeouts).toBeGreaterThanOrEqual(1);
    expect(getCacheStats(a).storeErrors).toBe(0);
    expect(errors.length).toBeGreaterThanOrEqual(1);
    for (const error of errors) expect(error).toBeInstanceOf(CacheStoreTimeoutError);

    // The connection recovers: the late acquire takes the lease, and the release queued behind it (same
    // token) gives it up, so it does not sit there for lockTtl.
    store.resumeHung();
    expect(acquire?.result).toBe('acquired');
    expect(release?.result).toBe('released');
    expect(store.leaseValue(acquire!.key)).not.toBe(acquire?.token);
  });

  it('a release that rejects does not fail the request', async () => {
    const store = new LeaseStore();
    const up = upstream();
    const a = processOn(store, 'A', up, { breaker: false });
    viewOf(a).releaseFault = { kind: 'reject' };
    const response = await a.get('/dkim');
    expect(response.cache?.status).toBe('miss');
    await until(() => getCacheStats(a).storeErrors === 1, 'the release failure to be counted');
    expect((await a.get('/dkim')).cache?.status).toBe('hit');
  });

  it("lease calls that start failing while a process waits: it fetches on its own and leaves the holder's lease alone", async () => {
    const store = new LeaseStore();
    const up = upstream();
    up.held.add('A');
    const options: CacheOptions = { breaker: false, lockTtl: 5000, lockWait: 5000 };
    const a = processOn(store, 'A', up, options);
    const b = processOn(store, 'B', up, options);

    const fromA = a.get('/dkim');
    await up.waitCalls(1);
    const aAcquire = acquires(store, 'A')[0]!;
    const fromB = Promise.all(Array.from({ length: 3 }, () => b.get('/dkim')));
    await until(() => results(acquires(store, 'B')).includes('held'), 'B to find the lease held');
    viewOf(b).acquireFault = { kind: 'reject' };

    const rb = await fromB;
    expect(statuses(rb)).toEqual(['miss', 'coalesced', 'coalesced']);
    expect(up.by).toEqual(['A', 'B']);
    const bToken = acquires(store, 'B').at(-1)?.token;
    await until(() => releases(store, 'B').length === 1, "B's release");
    expect(releases(store, 'B')[0]).toMatchObject({ token: bToken, result: 'not owner' });
    expect(store.leaseValue(aAcquire.key)).toBe(aAcquire.token);

    up.release();
    expect((await fromA).cache?.status).toBe('miss');
  });
});

describe('coalesce: false', () => {
  it.each([
    ['per request', {}, { cache: { coalesce: false } }],
    ['on the instance', { coalesce: false }, {}],
  ] as const)('%s: no lease calls at all, every request goes upstream', async (_, instanceOptions, config) => {
    const store = new LeaseStore();
    const up = upstream();
    up.held.add('A');
    const a = processOn(store, 'A', up, instanceOptions);
    const requests = Array.from({ length: 3 }, () => a.get('/dkim', config));
    await up.waitCalls(3);
    up.release();
    const responses = await Promise.all(requests);
    expect(statuses(responses)).toEqual(['miss', 'miss', 'miss']);
    expect(up.calls).toHaveLength(3);
    expect(store.calls({ op: 'acquire' })).toEqual([]);
    expect(store.calls({ op: 'release' })).toEqual([]);
  });
});

describe('stale-while-revalidate', () => {
  const options: CacheOptions = { ttl: 10, staleWhileRevalidate: 100, lockTtl: 5000, lockWait: 5000 };

  it('answers stale at once while one held refresh runs; then the next request is a hit with the new data', async () => {
    const store = new LeaseStore();
    const up = upstream();
    const a = processOn(store, 'A', up, options);
    await seedAndAge(a, 15_000);

    up.held.add('A');
    const stale = await a.get('/k'); // resolves while the refresh is held
    expect(stale.cache?.status).toBe('stale');
    expect(stale.data).toEqual({ call: 1, by: 'A' });
    expect(stale.cache?.age).toBeGreaterThanOrEqual(15);
    await up.waitCalls(2);
    expect(up.calls[1]?.settled).toBe(false);

    // More stale requests while it runs, coalesced or not, concurrent or one after another: no new refresh.
    const concurrent = await Promise.all([
      ...Array.from({ length: 5 }, () => a.get('/k')),
      ...Array.from({ length: 3 }, () => a.get('/k', { cache: { coalesce: false } })),
    ]);
    const sequential = await a.get('/k');
    expect(statuses([...concurrent, sequential])).toEqual(Array(9).fill('stale'));
    await settle();
    expect(up.calls).toHaveLength(2);
    expect(getCacheStats(a)).toMatchObject({ refreshes: 1, staleHits: 10 });
    expect(acquires(store, 'A')).toHaveLength(2); // the miss + the one refresh

    up.release();
    await until(() => releases(store, 'A').length === 2, 'the refresh to release its lease');
    const hit = await a.get('/k');
    expect(hit.cache?.status).toBe('hit');
    expect(hit.data).toEqual({ call: 2, by: 'A' });
    expect(up.calls).toHaveLength(2);
    expect(getCacheStats(a)).toMatchObject({ refreshes: 1, hits: 1, misses: 1 });
  });

  it('two processes: only one refresh goes upstream (the other finds the lease held)', async () => {
    const store = new LeaseStore();
    const up = upstream();
    const a = processOn(store, 'A', up, options);
    const b = processOn(store, 'B', up, options);
    await seedAndAge(a, 15_000);

    up.held.add('A');
    up.held.add('B');
    expect((await a.get('/k')).cache?.status).toBe('stale');
    await up.waitCalls(2);
    const fromB = await Promise.all(Array.from({ length: 5 }, () => b.get('/k')));
    expect(statuses(fromB)).toEqual(Array(5).fill('stale'));
    await until(() => acquires(store, 'B').length === 1, "B's refresh to try the lease");
    await settle();
    expect(results(acquires(store, 'B'))).toEqual(['held']);
    expect(up.by).toEqual(['A', 'A']);
    expect(getCacheStats(a).refreshes).toBe(1);
    expect(getCacheStats(b).refreshes).toBe(0);

    up.release();
    await until(() => releases(store, 'A').length === 2, "A's refresh to finish");
    const hit = await b.get('/k');
    expect(hit.cache?.status).toBe('hit');
    expect(hit.data).toEqual({ call: 2, by: 'A' });
    expect(up.calls).toHaveLength(2);
  });

  it.each([
    ['a 500', { status: 500, data: 'boom' }, {}],
    ['a network error', { network: true }, {}],
    ['a 503, even with 5xx listed in statuses', { status: 503, data: 'unavailable' }, { statuses: [[200, 599]] }],
  ] as [string, Reply, CacheOptions][])(
    'a failed refresh (%s) leaves the stale copy in place',
    async (_, failure, extra) => {
      const store = new LeaseStore();
      const up = upstream();
      const a = processOn(store, 'A', up, { ...options, ...extra });
      const seeded = await seedAndAge(a, 15_000);
      const key = seeded.cache!.key!;
      const before = store.memory.read(key);
      expect(before).not.toBeNull();

      up.reply = () => failure;
      const stale = await a.get('/k');
      expect(stale.cache?.status).toBe('stale');
      await until(() => releases(store, 'A').length === 2, 'the refresh to finish');
      expect(up.calls).toHaveLength(2);
      expect(getCacheStats(a).refreshes).toBe(1);
      expect(store.memory.read(key)).toBe(before); // not rewritten
      // The refresh released the lease without a marker (stale copies keep being served meanwhile).
      expect(releases(store, 'A')[1]).toMatchObject({ uncacheableMs: 0, result: 'released' });

      const again = await a.get('/k');
      expect(again.cache?.status).toBe('stale');
      expect(again.data).toEqual({ call: 1, by: 'A' });
    },
  );

  it('outside the window the entry is a miss (fetched while the caller waits)', async () => {
    const store = new LeaseStore();
    const up = upstream();
    const a = processOn(store, 'A', up, { ...options, staleIfError: 1000 }); // kept in the store for longer
    const seeded = await seedAndAge(a, 10_000 + 100_000 + 1);
    expect(store.memory.read(seeded.cache!.key!)).not.toBeNull();
    const next = await a.get('/k');
    expect(next.cache?.status).toBe('miss');
    expect(next.data).toEqual({ call: 2, by: 'A' });
    expect(getCacheStats(a).refreshes).toBe(0);
  });

  // Regression (fixed; src/revalidate.ts refresh(), lines 36-41 at e462482): after taking the lease, a refresh does not
  // check whether the entry was refreshed meanwhile. A process that read the stale entry just before another
  // process's refresh stored the new one and released the lease takes the (now free) lease and refreshes
  // again: two upstream calls for one stale period. `coordinateFill` (src/fleet.ts) closes the same race for
  // misses by reading the entry together with the lease call. Fix: pass the stale entry's `createdAt` to
  // `revalidate`, and when the lease is 'acquired' read the entry (in the same round trip, as coordinateFill
  // does); if a newer one is there, release the lease and return without calling upstream.
  it('a process whose lease call is slow does not refresh again an entry another process just refreshed', async () => {
    const store = new LeaseStore();
    const up = upstream();
    const a = processOn(store, 'A', up, options);
    const b = processOn(store, 'B', up, { ...options, storeTimeout: 5000 });
    await seedAndAge(a, 15_000);

    viewOf(b).acquireFault = { kind: 'hang' }; // B's refresh read the stale entry; its lease call is slow
    expect((await b.get('/k')).cache?.status).toBe('stale');
    await until(() => acquires(store, 'B').length === 1, "B's refresh to try the lease");

    expect((await a.get('/k')).cache?.status).toBe('stale');
    await until(() => releases(store, 'A').length === 2, "A's refresh to finish");
    expect(up.calls).toHaveLength(2);

    viewOf(b).acquireFault = null;
    store.resumeHung(); // B's lease call lands now: the lease is free again
    await until(() => releases(store, 'B').length === 1, "B's refresh to finish");
    expect(up.calls).toHaveLength(2);
  });
});

describe('stale-if-error', () => {
  const options: CacheOptions = { ttl: 10, staleIfError: 600, lockTtl: 5000, lockWait: 5000 };

  it.each([
    ['a network error', { network: true }],
    ['a 503', { status: 503, data: 'unavailable' }],
    ['a 500', { status: 500, data: 'boom' }],
  ] as [string, Reply][])('answers the stale copy when the upstream fails with %s', async (_, failure) => {
    const store = new LeaseStore();
    const up = upstream();
    const a = processOn(store, 'A', up, options);
    await seedAndAge(a, 15_000);

    up.reply = () => failure;
    const responses = await Promise.all(Array.from({ length: 3 }, () => a.get('/k')));
    expect(statuses(responses)).toEqual(['stale', 'stale', 'stale']);
    for (const r of responses) expect(r.data).toEqual({ call: 1, by: 'A' });
    expect(up.calls).toHaveLength(2); // it did try the upstream (once for the three)
    expect(getCacheStats(a)).toMatchObject({ staleHits: 3, refreshes: 0 });
    // Nothing replaced the stale copy: the next request tries again and is served stale again.
    expect((await a.get('/k')).cache?.status).toBe('stale');
    expect(up.calls).toHaveLength(3);
  });

  it("answers the stale copy when the caller's own timeout passes while the upstream hangs", async () => {
    const store = new LeaseStore();
    const up = upstream();
    const a = processOn(store, 'A', up, options);
    await seedAndAge(a, 15_000);

    up.held.add('A');
    const response = await a.get('/k', { timeout: 5 });
    expect(response.cache?.status).toBe('stale');
    expect(response.data).toEqual({ call: 1, by: 'A' });
    // The call ran with the caller's own config: its adapter's timeout ended it.
    expect(up.calls[1]?.settled).toBe(true);
    expect(up.calls[1]?.config.timeout).toBe(5);

    // Without a stale copy, the same timeout is the usual timeout error.
    const { error } = await outcome(a.get('/cold', { timeout: 5 }));
    expect((error as AxiosError).code).toBe('ECONNABORTED');
  });

  it('outside the window, or with no stale copy, the caller gets the original error', async () => {
    const store = new LeaseStore();
    const up = upstream();
    const a = processOn(store, 'A', up, options);
    await seedAndAge(a, 15_000);
    up.reply = () => ({ network: true });

    // The copy is still in the store (kept for ttl + 600 s) but this request allows only 0.2 s of staleness.
    const outside = await outcome(a.get('/k', { cache: { staleIfError: 0.2 } }));
    expect(outside.error).toBeInstanceOf(AxiosError);
    expect((outside.error as AxiosError).code).toBe('ERR_NETWORK');

    const cold = await outcome(a.get('/never-seen'));
    expect((cold.error as AxiosError).code).toBe('ERR_NETWORK');

    up.reply = () => ({ status: 503, data: 'unavailable' });
    const outside503 = await outcome(a.get('/k', { cache: { staleIfError: 0.2 } }));
    expect((outside503.error as AxiosError).response?.status).toBe(503);

    // Nor does a caller's own timeout get the stale copy outside the window.
    up.held.add('A');
    const timedOut = await outcome(a.get('/k', { timeout: 5, cache: { staleIfError: 0.2 } }));
    expect((timedOut.error as AxiosError).code).toBe('ECONNABORTED');
    expect(getCacheStats(a).staleHits).toBe(0);
  });

  it('a 404 is an answer, not a failure: passed through as a 404', async () => {
    const store = new LeaseStore();
    const up = upstream();
    const a = processOn(store, 'A', up, options);
    const seeded = await seedAndAge(a, 15_000);
    const before = store.memory.read(seeded.cache!.key!);

    up.reply = () => ({ status: 404, data: 'gone' });
    const { error } = await outcome(a.get('/k'));
    expect(error).toBeInstanceOf(AxiosError);
    const response = (error as AxiosError).response as AxiosResponse;
    expect(response.status).toBe(404);
    expect(response.data).toBe('gone');
    expect(response.cache?.status).toBe('miss');
    expect(getCacheStats(a).staleHits).toBe(0);
    expect(store.memory.read(seeded.cache!.key!)).toBe(before); // the 404 was not stored
  });

  it('also serves stale to a process that waited on a failing holder', async () => {
    const store = new LeaseStore();
    const up = upstream();
    const a = processOn(store, 'A', up, options);
    const b = processOn(store, 'B', up, options);
    await seedAndAge(a, 15_000);

    up.reply = () => ({ status: 503, data: 'unavailable' });
    up.held.add('A');
    const fromA = a.get('/k');
    await up.waitCalls(2);
    const fromB = b.get('/k');
    await until(() => results(acquires(store, 'B')).includes('held'), 'B to wait for A');
    up.release();
    const [ra, rb] = await Promise.all([fromA, fromB]);
    expect(statuses([ra, rb])).toEqual(['stale', 'stale']);
    expect(rb.data).toEqual({ call: 1, by: 'A' });
  });
});

describe('early refresh (XFetch)', () => {
  it('with a huge β, a hit triggers one background refresh and is still answered as a hit', async () => {
    vi.spyOn(Math, 'random').mockReturnValue(0.5);
    const store = new LeaseStore();
    const up = upstream(true, 2);
    const a = processOn(store, 'A', up, { ttl: 60, earlyRefresh: 1e9, lockTtl: 5000 });
    const seeded = await a.get('/k');
    expect(seeded.cache?.status).toBe('miss');
    expect(decodeEntry(store.memory.read(seeded.cache!.key!)!).fetchMs).toBeGreaterThan(0);

    up.held.add('A');
    const hits = await Promise.all(Array.from({ length: 3 }, () => a.get('/k')));
    const later = await a.get('/k');
    expect(statuses([...hits, later])).toEqual(['hit', 'hit', 'hit', 'hit']);
    for (const r of [...hits, later]) expect(r.data).toEqual({ call: 1, by: 'A' });
    await up.waitCalls(2);
    await settle();
    expect(up.calls).toHaveLength(2); // one refresh for all of them
    expect(getCacheStats(a)).toMatchObject({ refreshes: 1, hits: 4 });

    up.release();
    await until(() => releases(store, 'A').length === 2, 'the refresh to finish');
    up.held.clear();
    const refreshed = await a.get('/k');
    expect(refreshed.cache?.status).toBe('hit');
    expect(refreshed.data).toEqual({ call: 2, by: 'A' });
  });

  it.each([
    ['β = 0', 0],
    ['β = 1 (60 s from expiry, a 2 ms fetch)', 1],
  ])('never refreshes early with %s', async (_, beta) => {
    vi.spyOn(Math, 'random').mockReturnValue(0.5);
    const store = new LeaseStore();
    const up = upstream(true, 2);
    const a = processOn(store, 'A', up, { ttl: 60, earlyRefresh: beta });
    await a.get('/k');
    const hits = await Promise.all(Array.from({ length: 10 }, () => a.get('/k', { cache: { coalesce: false } })));
    await settle();
    expect(statuses(hits)).toEqual(Array(10).fill('hit'));
    expect(up.calls).toHaveLength(1);
    expect(getCacheStats(a).refreshes).toBe(0);
  });
});

describe('entries are kept in the store for ttl + the longer stale window', () => {
  it.each([
    ['no stale windows', { ttl: 2 }, undefined, 2000],
    ['staleIfError longer', { ttl: 2, staleWhileRevalidate: 5, staleIfError: 30 }, undefined, 32_000],
    ['staleWhileRevalidate longer', { ttl: 2, staleWhileRevalidate: 50, staleIfError: 30 }, undefined, 52_000],
    ['per-request options', { ttl: 2, staleWhileRevalidate: 5 }, { ttl: 1, staleIfError: 100 }, 101_000],
  ] as [string, CacheOptions, { ttl?: number; staleIfError?: number } | undefined, number][])(
    '%s',
    async (_, instanceOptions, cache, keepMs) => {
      const store = new LeaseStore();
      const up = upstream();
      const a = processOn(store, 'A', up, instanceOptions);
      const set = vi.spyOn(viewOf(a), 'set');
      const response = await a.get('/k', cache ? { cache } : {});
      expect(set).toHaveBeenCalledTimes(1);
      expect(set.mock.calls[0]?.[2]).toBe(keepMs);

      // And the store really keeps it that long.
      const key = response.cache!.key!;
      advance(keepMs - 500);
      expect(store.memory.read(key)).not.toBeNull();
      advance(1000);
      expect(store.memory.read(key)).toBeNull();
    },
  );

  it('a background refresh stores its entry for ttl + window too', async () => {
    const store = new LeaseStore();
    const up = upstream();
    const a = processOn(store, 'A', up, { ttl: 10, staleWhileRevalidate: 10, staleIfError: 20 });
    await seedAndAge(a, 15_000);
    expect((await a.get('/k')).cache?.status).toBe('stale');
    await until(() => store.calls({ op: 'set' }).length === 2, 'the refresh to store its entry');
    expect(store.calls({ op: 'set' }).map((c) => c.ttlMs)).toEqual([30_000, 30_000]);
  });
});
