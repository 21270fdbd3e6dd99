import type { AxiosResponse, InternalAxiosRequestConfig } from 'axios';
import type { CacheState } from '../api/state.js';
import { plainHeaders } from '../entries/entry.js';
import { type RequestKeys, requestKeys, wireUrl } from '../entries/key.js';
import { deleteVariants } from '../entries/variants.js';

/** The safe methods whose stored answers an unsafe request makes stale. */
const READ_METHODS = ['get', 'head'] as const;

/**
 * After a successful unsafe request: evict the stored answers to `GET` and `HEAD` of its URL, and of its
 * response's `Location` and `Content-Location` when they are on the same origin (RFC 9111 §4.4), in the
 * store (every variant: one index each) and in every process's in-process layer. Through the store guard:
 * bounded, never throws (a failure is reported, and the entries live out their TTL).
 */
export async function invalidateAfterUnsafe(
  state: CacheState,
  config: InternalAxiosRequestConfig,
  response: AxiosResponse,
): Promise<void> {
  const { options } = state;
  const target = wireUrl(config);
  if (target === null) return;
  const base = new URL(target, 'http://localhost/');
  const urls = [base.href];
  const headers = plainHeaders(response.headers);
  for (const name of ['location', 'content-location']) {
    const value = headers[name];
    if (typeof value !== 'string' || value === '') continue;
    try {
      const other = new URL(value, base);
      if (other.origin === base.origin) urls.push(other.href);
    } catch {
      // Not a URL: nothing to invalidate.
    }
  }
  const requests: RequestKeys[] = [];
  const prefixes: string[] = [];
  for (const url of urls) {
    for (const method of READ_METHODS) {
      if (!options.methods.has(method)) continue;
      const keys = requestKeys({ url, method }, options.prefix, options.varyHeaders, undefined, state.adapterKind);
      if (!keys) continue;
      requests.push(keys);
      prefixes.push(`^${keys.variants.slice(0, keys.variants.length - 'variants'.length)}`);
    }
  }
  if (requests.length === 0) return;
  // In the store first, then every process's layer: no process refills its layer from what was evicted.
  await Promise.all(
    requests.map((keys) => state.guard.call('delete', keys.variants, (s) => deleteVariants(s, [keys]))),
  );
  await state.invalidations.announce(prefixes.join('\n'));
}
