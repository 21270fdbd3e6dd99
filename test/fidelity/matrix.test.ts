import axios, { type AxiosInstance, type AxiosRequestConfig } from 'axios';
import { describe, expect, it } from 'vitest';
import { type CacheOptions, MemoryStore, withCache } from '../../src/index.js';
import { type AdapterName, CASES, type FidelityCase } from './cases.js';
import { type Observation, observe } from './observe.js';
import { STORES, useFidelityServers } from './servers.js';

/**
 * The fidelity matrix: every case × the http and fetch adapters × the memory and Redis stores. Each answer
 * a cached instance gives (miss, hit, joiner) must equal what plain axios gives to the same request.
 */
const servers = useFidelityServers();
let prefixes = 0;

function instance(adapter: AdapterName): AxiosInstance {
  return axios.create({ baseURL: servers.server.url, adapter });
}

function storeOptions(store: 'memory' | 'redis'): CacheOptions {
  return {
    store: store === 'memory' ? new MemoryStore() : servers.redis,
    prefix: `fidelity${++prefixes}:`,
    // Statuses a user may choose to store too: the replay of a stored 404 must be axios' own rejection.
    statuses: [[200, 299], 404],
  };
}

/** Run one request, counting its `onDownloadProgress` calls when the case asks for it. */
function send(api: AxiosInstance, config: AxiosRequestConfig, progress: boolean): Promise<Observation> {
  if (!progress) return observe(() => api.request(config));
  let calls = 0;
  return observe(
    () => api.request({ ...config, onDownloadProgress: () => void calls++ }),
    () => calls > 0,
  );
}

async function runCase(testCase: FidelityCase, adapter: AdapterName, store: 'memory' | 'redis'): Promise<void> {
  const plain = instance(adapter);
  const cached = withCache(instance(adapter), storeOptions(store));
  const progress = testCase.progress === true;
  let throughCache = 0; // requests the upstream received for the cached instance's rounds
  let onePlain = -1; // requests one plain request makes it receive (a redirect chain: several)
  for (const [r, round] of testCase.rounds.entries()) {
    const before = servers.server.received.length;
    const answers = await Promise.all(round.map((make) => send(cached, make(servers.server), progress)));
    throughCache += servers.server.received.length - before;
    for (const [i, make] of round.entries()) {
      const plainBefore = servers.server.received.length;
      const expected = await send(plain, make(servers.server), progress);
      if (onePlain === -1) onePlain = servers.server.received.length - plainBefore;
      expect(answers[i], `round ${r + 1}, request ${i + 1}`).toEqual(expected);
    }
  }
  // Equal answers are not enough: a stored answer was really served from the cache (a hit, or a shared call).
  if (testCase.cached) expect(throughCache, 'requests the upstream received through the cache').toBe(onePlain);
}

for (const store of STORES) {
  for (const adapter of ['http', 'fetch'] as const) {
    describe(`fidelity on axios ${axios.VERSION}: ${adapter} adapter, ${store} store`, () => {
      for (const testCase of CASES) {
        if (testCase.adapters && !testCase.adapters.includes(adapter)) continue;
        it(testCase.name, () => runCase(testCase, adapter, store));
      }
    });
  }
}
