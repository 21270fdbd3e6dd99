import axios, {
  type AxiosAdapter,
  AxiosError,
  AxiosHeaders,
  CanceledError,
  type InternalAxiosRequestConfig,
} from 'axios';
import { describe, expect, it } from 'vitest';
import { type CachedResponse, type CacheOptions, getCacheStats, withCache } from '../../src/index.js';

interface Deferred<T> {
  promise: Promise<T>;
  resolve: (value: T) => void;
}

function deferred<T = void>(): Deferred<T> {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

/** Let every pending request reach the adapter (one macrotask turn; no timer). */
const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

type Answer = { data: unknown } | { error: (config: InternalAxiosRequestConfig) => Error };

/**
 * A fake base adapter that holds every call open until `release()`. It honours `config.signal` like axios'
 * adapters (rejecting with a CanceledError) unless `slowAbort` is set, in which case an abort only takes
 * effect at `release()`, like an adapter that needs time to tear its connection down.
 */
function heldUpstream(
  answer: (config: InternalAxiosRequestConfig) => Answer = () => ({ data: { list: [1, 2] } }),
  slowAbort = false,
) {
  const calls: InternalAxiosRequestConfig[] = [];
  let gate = deferred();
  let started = deferred();
  const adapter: AxiosAdapter = (config) =>
    new Promise((resolve, reject) => {
      calls.push(config);
      started.resolve();
      const signal = config.signal as AbortSignal | undefined;
      const cancel = () => reject(new CanceledError(undefined, config));
      if (!slowAbort) signal?.addEventListener('abort', cancel, { once: true });
      // Like axios' adapters, the call ends when the config's own timeout passes.
      if (config.timeout) {
        const ms = config.timeout;
        setTimeout(() => reject(new AxiosError(`timeout of ${ms}ms exceeded`, AxiosError.ECONNABORTED, config)), ms);
      }
      void gate.promise.then(() => {
        signal?.removeEventListener('abort', cancel);
        if (signal?.aborted) return cancel();
        const result = answer(config);
        if ('error' in result) return reject(result.error(config));
        resolve({ data: result.data, status: 200, statusText: 'OK', headers: new AxiosHeaders(), config, request: {} });
      });
    });
  return {
    adapter,
    calls,
    /** Resolves once the adapter has been called (since the last `release`). */
    started: () => started.promise,
    /** Let every held call answer; later calls are held again. */
    release() {
      gate.resolve();
      gate = deferred();
      started = deferred();
    },
  };
}

function setup(options: CacheOptions = {}, upstream = heldUpstream()) {
  const api = withCache(axios.create({ baseURL: 'http://api.test', adapter: upstream.adapter }), options);
  return { api, upstream };
}

async function outcome<T>(promise: Promise<T>): Promise<{ value?: T; error?: unknown }> {
  try {
    return { value: await promise };
  } catch (error) {
    return { error };
  }
}

describe('in-process coalescing', () => {
  it('shares one upstream call among 50 identical concurrent GETs; each caller gets its own response', async () => {
    const { api, upstream } = setup();
    const requests = Array.from({ length: 50 }, () => api.get('/key'));
    await upstream.started();
    await settle();
    expect(getCacheStats(api).inFlight).toBe(1);
    upstream.release();
    const responses = await Promise.all(requests);

    expect(upstream.calls).toHaveLength(1);
    const statuses = responses.map((r) => r.cache?.status);
    expect(statuses.filter((s) => s === 'miss')).toHaveLength(1);
    expect(statuses.filter((s) => s === 'coalesced')).toHaveLength(49);
    expect(new Set(responses).size).toBe(50);
    expect(new Set(responses.map((r) => r.data)).size).toBe(50);
    expect(new Set(responses.map((r) => r.headers)).size).toBe(50);
    for (const response of responses) expect(response.data).toEqual({ list: [1, 2] });
    expect(new Set(responses.map((r) => r.cache?.key)).size).toBe(1);

    responses[0]?.data.list.push('mutated');
    responses[1]?.data.list.pop();
    expect(responses[2]?.data).toEqual({ list: [1, 2] });
    expect(getCacheStats(api)).toMatchObject({ misses: 1, coalesced: 49, inFlight: 0 });

    const hit = await api.get('/key');
    expect(hit.cache?.status).toBe('hit');
    expect(hit.data).toEqual({ list: [1, 2] });
  });

  it('does not coalesce different URLs', async () => {
    const { api, upstream } = setup();
    const requests = [api.get('/a'), api.get('/b'), api.get('/a', { params: { x: 1 } })];
    await upstream.started();
    await settle();
    upstream.release();
    await Promise.all(requests);
    expect(upstream.calls.map((c) => c.url)).toEqual(['/a', '/b', '/a']);
  });

  it('does not coalesce requests with different credentials', async () => {
    const { api, upstream } = setup();
    const requests = [
      api.get('/me', { headers: { Authorization: 'Bearer alice' } }),
      api.get('/me', { headers: { Authorization: 'Bearer bob' } }),
    ];
    await upstream.started();
    await settle();
    upstream.release();
    await Promise.all(requests);
    expect(upstream.calls).toHaveLength(2);
  });

  it('calls upstream for every request with coalesce: false on the instance', async () => {
    const { api, upstream } = setup({ coalesce: false });
    const requests = Array.from({ length: 5 }, () => api.get('/key'));
    await upstream.started();
    await settle();
    upstream.release();
    const responses = await Promise.all(requests);
    expect(upstream.calls).toHaveLength(5);
    expect(responses.every((r) => r.cache?.status === 'miss')).toBe(true);
    expect(getCacheStats(api).inFlight).toBe(0);
  });

  it('calls upstream for each request with cache.coalesce: false', async () => {
    const { api, upstream } = setup();
    const requests = [
      api.get('/key'),
      api.get('/key'),
      api.get('/key', { cache: { coalesce: false } }),
      api.get('/key', { cache: { coalesce: false } }),
    ];
    await upstream.started();
    await settle();
    upstream.release();
    const responses = await Promise.all(requests);
    expect(upstream.calls).toHaveLength(3);
    expect(responses.map((r) => r.cache?.status)).toEqual(['miss', 'coalesced', 'miss', 'miss']);
  });

  it('does not let refresh requests join a normal flight', async () => {
    const { api, upstream } = setup();
    const normal = api.get('/key');
    await upstream.started();
    const refresh = api.get('/key', { cache: { refresh: true } });
    await settle();
    expect(upstream.calls).toHaveLength(2);
    upstream.release();
    const [a, b] = await Promise.all([normal, refresh]);
    expect(a.cache?.status).toBe('miss');
    expect(b.cache?.status).toBe('miss');
  });
});

describe('failures and cancellation', () => {
  it('rejects every joiner with an AxiosError of the same message and code, each with its own config', async () => {
    const upstream = heldUpstream(() => ({
      error: (config) => new AxiosError('Network Error', AxiosError.ERR_NETWORK, config, {}),
    }));
    const { api } = setup({}, upstream);
    const requests = Array.from({ length: 5 }, (_, i) =>
      outcome(api.get('/down', { headers: { 'x-caller': String(i) } })),
    );
    await upstream.started();
    await settle();
    upstream.release();
    const results = await Promise.all(requests);

    expect(upstream.calls).toHaveLength(1);
    results.forEach(({ error }, i) => {
      expect(axios.isAxiosError(error)).toBe(true);
      const e = error as AxiosError;
      expect(e.message).toBe('Network Error');
      expect(e.code).toBe('ERR_NETWORK');
      expect(e.response).toBeUndefined();
      expect(e.config?.headers['x-caller']).toBe(String(i));
    });
    expect(new Set(results.map((r) => r.error)).size).toBe(5);
    expect(getCacheStats(api).inFlight).toBe(0);

    // Nothing was stored: the next request goes upstream again.
    const retry = api.get('/down');
    await upstream.started();
    upstream.release();
    await outcome(retry);
    expect(upstream.calls).toHaveLength(2);
  });

  it('aborts the call when its owner aborts, as axios would; the joiners go on with a call of their own', async () => {
    const { api, upstream } = setup();
    const leaderAbort = new AbortController();
    const leader = outcome(api.get('/key', { signal: leaderAbort.signal }));
    await upstream.started();
    const joiners = Array.from({ length: 3 }, () => api.get('/key'));
    await settle();
    leaderAbort.abort();
    const { error } = await leader;
    // The owner's own signal reached its own call: it is aborted, and the owner gets the adapter's error.
    expect(axios.isCancel(error)).toBe(true);
    expect(upstream.calls[0]?.signal?.aborted).toBe(true);
    expect(upstream.calls[0]?.signal).toBe(leaderAbort.signal);

    // The joiners did not abort: they attend a new flight, whose first caller owns the next call.
    await upstream.started();
    expect(upstream.calls).toHaveLength(2);
    upstream.release();
    const responses = await Promise.all(joiners);
    expect(responses.map((r) => r.cache?.status)).toEqual(['miss', 'coalesced', 'coalesced']);
    expect(responses[0]?.data).toEqual({ list: [1, 2] });
    expect(getCacheStats(api).inFlight).toBe(0);
  });

  it('rejects only the joiner whose own signal aborts or whose timeout passes', async () => {
    const { api, upstream } = setup();
    const leader = api.get('/key');
    await upstream.started();
    const abort = new AbortController();
    const aborted = outcome(api.get('/key', { signal: abort.signal }));
    const timedOut = outcome(api.get('/key', { timeout: 5 }));
    const clarified = outcome(api.get('/key', { timeout: 5, transitional: { clarifyTimeoutError: true } }));
    const patient = api.get('/key', { timeout: 60_000 });
    await settle();
    abort.abort();

    const abortError = (await aborted).error;
    expect(abortError).toBeInstanceOf(CanceledError);
    expect(axios.isCancel(abortError)).toBe(true);
    const timeoutError = (await timedOut).error as AxiosError;
    expect(axios.isAxiosError(timeoutError)).toBe(true);
    expect(timeoutError.code).toBe('ECONNABORTED');
    expect(timeoutError.message).toBe('timeout of 5ms exceeded');
    expect(((await clarified).error as AxiosError).code).toBe('ETIMEDOUT');
    // The leader has no signal nor timeout: it waits to the end, so the shared call gets no signal at all.
    expect(upstream.calls[0]?.signal).toBeUndefined();

    upstream.release();
    const [first, last] = await Promise.all([leader, patient]);
    expect(first.cache?.status).toBe('miss');
    expect(last.cache?.status).toBe('coalesced');
    expect(upstream.calls).toHaveLength(1);
    expect(getCacheStats(api).inFlight).toBe(0);
  });

  it('ends the call with its owner; a joiner that gave up is not called again, one that did not calls anew', async () => {
    const { api, upstream } = setup();
    const controllers = [new AbortController(), new AbortController()];
    const requests = [
      ...controllers.map((c) => outcome(api.get('/key', { signal: c.signal }))),
      outcome(api.get('/key', { timeout: 5 })),
    ];
    await upstream.started();
    await settle();
    for (const controller of controllers) controller.abort();
    expect(upstream.calls[0]?.signal?.aborted).toBe(true); // the owner's own signal
    const results = await Promise.all(requests);
    expect(axios.isCancel(results[0]?.error)).toBe(true);
    expect(axios.isCancel(results[1]?.error)).toBe(true);
    // The timed joiner had not given up when the owner aborted: it made its own call, which timed out.
    expect((results[2]?.error as AxiosError | undefined)?.code).toBe('ECONNABORTED');
    await settle();
    expect(getCacheStats(api).inFlight).toBe(0);
    expect(upstream.calls.map((c) => c.timeout)).toEqual([0, 5]);
  });

  it('rejects at once a request whose signal is already aborted, without calling upstream', async () => {
    const { api, upstream } = setup();
    const { error } = await outcome(api.get('/key', { signal: AbortSignal.abort() }));
    expect(axios.isCancel(error)).toBe(true);
    await settle();
    expect(upstream.calls).toHaveLength(0);
    expect(getCacheStats(api).inFlight).toBe(0);
  });

  it('ends with an empty in-flight map after a mix of successes, failures, aborts and timeouts', async () => {
    const upstream = heldUpstream((config) =>
      config.url === '/fail' ? { error: () => new AxiosError('socket hang up', 'ECONNRESET', config) } : { data: 'ok' },
    );
    const { api } = setup({}, upstream);
    const abort = new AbortController();
    const batch = [
      outcome(api.get('/ok')),
      outcome(api.get('/ok', { signal: abort.signal })),
      outcome(api.get('/ok', { timeout: 5 })),
      outcome(api.get('/fail')),
      outcome(api.get('/fail', { timeout: 5 })),
    ];
    await upstream.started();
    await settle();
    abort.abort();
    await Promise.all([batch[2], batch[4]]);
    upstream.release();
    const results = await Promise.all(batch);
    expect(results.map((r) => (r.error ? ((r.error as AxiosError).code ?? 'error') : 'ok'))).toEqual([
      'ok',
      'ERR_CANCELED',
      'ECONNABORTED',
      'ECONNRESET',
      'ECONNABORTED',
    ]);
    expect(getCacheStats(api).inFlight).toBe(0);
  });

  // Bug (src/coalesce.ts FlightMap.join + waitForFlight's leave()): when the last waiter leaves, the shared
  // call is aborted but the flight stays in the map until the upstream call settles. A request arriving in
  // that window joins the aborted flight and is rejected with ERR_CANCELED although nobody cancelled it.
  // Fix: remove the flight from the map when its controller is aborted (or have join() start a new flight
  // when `running.controller?.signal.aborted`).
  it('does not hand a newcomer the cancellation of a flight whose owner aborted', async () => {
    // An adapter that needs time to tear its connection down: the abort only lands at `release()`.
    const upstream = heldUpstream(undefined, true);
    const { api } = setup({}, upstream);
    const abort = new AbortController();
    const aborted = outcome(api.get('/key', { signal: abort.signal }));
    await upstream.started();
    abort.abort();
    const newcomer = outcome(api.get('/key'));
    await settle();
    upstream.release();
    // The owner gets its adapter's cancellation; the newcomer, who joined, makes a call of its own.
    expect(axios.isCancel((await aborted).error)).toBe(true);
    await upstream.started();
    upstream.release();
    const { value, error } = await newcomer;
    expect(error).toBeUndefined();
    expect((value as CachedResponse).data).toEqual({ list: [1, 2] });
    expect(upstream.calls).toHaveLength(2);
  });
});

describe('a joiner whose own timeout passes, and the stale copy of another variant', () => {
  it('gets its timeout error, not a new upstream call', async () => {
    const calls: InternalAxiosRequestConfig[] = [];
    const held: (() => void)[] = [];
    let hold = false;
    const adapter: AxiosAdapter = (config) =>
      new Promise((resolve) => {
        calls.push(config);
        const answer = () =>
          resolve({
            data: { tenant: config.headers.get('x-tenant') },
            status: 200,
            statusText: 'OK',
            headers: new AxiosHeaders({ vary: 'X-Tenant' }),
            config,
            request: {},
          });
        if (hold) held.push(answer);
        else answer();
      });
    const api = withCache(axios.create({ baseURL: 'http://api.test', adapter }), { ttl: 0.02, staleIfError: 60 });
    await api.get('/t', { headers: { 'X-Tenant': 'A' } });
    await new Promise((resolve) => setTimeout(resolve, 40)); // stale now, within staleIfError
    hold = true;
    const leader = api.get('/t', { headers: { 'X-Tenant': 'A' } }); // its fill finds tenant A's stale copy
    await settle();
    const { error } = await outcome(api.get('/t', { headers: { 'X-Tenant': 'B' }, timeout: 20 }));
    expect((error as AxiosError).code).toBe('ECONNABORTED');
    expect((error as AxiosError).message).toBe('timeout of 20ms exceeded');
    expect(calls).toHaveLength(2); // the first request's and the leader's: none for the joiner
    for (const release of held) release();
    expect((await leader).data).toEqual({ tenant: 'A' });
  });
});
