import type { AxiosHeaders, AxiosResponse } from 'axios';
import type { CacheInfo } from './replay.js';

/**
 * The RFC 9211 `Cache-Status` member this cache adds to a response (option `cacheStatus`), e.g.
 * `axios-redis-cache; hit; ttl=42`. Appended after any member the upstream's own caches sent (the list
 * runs from the origin towards the client).
 */
export function cacheStatusMember(name: string, info: CacheInfo, status: number): string {
  const ttl = info.ttl === null ? '' : `; ttl=${Math.floor(info.ttl)}`;
  switch (info.status) {
    case 'hit':
      return `${name}; hit${ttl}`;
    case 'stale':
      // Why an answer was stale when the cache chose it over asking (RFC 9211 `detail`).
      return info.reason === 'soft-evicted' || info.reason === 'store-unavailable'
        ? `${name}; hit${ttl}; detail=${info.reason}`
        : `${name}; hit${ttl}`;
    case 'revalidated':
      return `${name}; fwd=stale; fwd-status=304${ttl}`;
    case 'coalesced':
      return info.source === 'upstream'
        ? `${name}; fwd=uri-miss; fwd-status=${status}; collapsed`
        : `${name}; fwd=uri-miss; collapsed${ttl}`;
    case 'bypass':
      return `${name}; fwd=bypass; fwd-status=${status}`;
    default:
      return info.source === null ? `${name}; detail=only-if-cached` : `${name}; fwd=uri-miss; fwd-status=${status}`;
  }
}

/** Add the member to a response that went through the cache (or to an error's response). */
export function addCacheStatus(response: AxiosResponse, name: string): void {
  const info = (response as { cache?: CacheInfo }).cache;
  const headers = response.headers as AxiosHeaders | undefined;
  if (!info || !headers || typeof headers.set !== 'function') return;
  const member = cacheStatusMember(name, info, response.status);
  const existing = headers.get('cache-status');
  headers.set('cache-status', existing ? `${String(existing)}, ${member}` : member);
}

/** The answer of a request, with `Cache-Status` on its response (or on its error's response). */
export function withCacheStatus(answer: Promise<AxiosResponse>, name: string): Promise<AxiosResponse> {
  return answer.then(
    (response) => {
      addCacheStatus(response, name);
      return response;
    },
    (error: unknown) => {
      const response = (error as { response?: AxiosResponse } | null)?.response;
      if (response && typeof response === 'object') addCacheStatus(response, name);
      throw error;
    },
  );
}
