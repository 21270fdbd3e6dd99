// Compiled by test/dist/types.test.ts against the published declarations (dist/index.d.ts), on the newest
// and the oldest axios of the peer range, without ioredis. Every line here is something users write.
import axios, {
  type AxiosInstance,
  type AxiosRequestConfig,
  type AxiosResponse,
  type InternalAxiosRequestConfig,
} from 'axios';
import {
  type CachedAxiosInstance,
  type CacheInfo,
  type CacheOptions,
  evict,
  MemoryStore,
  type RequestCacheOptions,
  withCache,
} from '../../dist/index.js';

const options: CacheOptions = { store: new MemoryStore(), ttl: 60 };
const api = withCache(axios.create({ baseURL: 'https://keys.internal' }), options);

// A cached instance is an AxiosInstance: it goes wherever one is expected (SDKs, helpers, mock adapters).
const plain: AxiosInstance = api;
function takesAnInstance(instance: AxiosInstance): AxiosInstance {
  return instance;
}
takesAnInstance(api);
const typed: CachedAxiosInstance = axios.create();

// `cache` type-checks on every config users touch.
const config: AxiosRequestConfig = { url: '/a', cache: { ttl: 300, tags: ['domain:example.com'] } };
const perRequest: RequestCacheOptions = { refresh: true };
api.interceptors.request.use((internal: InternalAxiosRequestConfig) => {
  if (internal.cache !== false && internal.cache?.ttl === undefined) internal.cache = { ...internal.cache, ttl: 5 };
  return internal;
});
api.interceptors.response.use((response: AxiosResponse) => {
  const info: CacheInfo | undefined = response.cache;
  return info?.status === 'hit' ? response : response;
});
async function calls(): Promise<void> {
  const response = await api.get<{ key: string }>('/domains/example.com/dkim', { cache: { ttl: 300 } });
  const key: string = response.data.key;
  const status: CacheInfo['status'] | undefined = response.cache?.status;
  await api.request(config);
  await api.get('/time', { cache: false });
  await api.get('/x', { cache: perRequest });
  await api.postForm('/form', { a: 1 }, { cache: false });
  await api.putForm('/form', { a: 1 }, { cache: { ttl: 1 } });
  await evict(api, { url: '/a', cache: { key: 'k' } });
  // @ts-expect-error: an unknown per-request option is a type error
  await api.get('/x', { cache: { tll: 5 } });
  void [key, status, plain, typed];
}
void calls;
