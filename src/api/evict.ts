import type { AxiosInstance, InternalAxiosRequestConfig } from 'axios';
import { entryPattern, entryUrl, fullPath, requestKeys, tagIndexKey } from '../entries/key.js';
import { DROP_ALL } from '../local/invalidation.js';
import { resolveRequestOptions } from '../options/index.js';
import { escapeGlob } from '../stores/glob.js';
import { bounded } from './bounded.js';
import { CacheOptionError } from './errors.js';
import type { CacheState } from './state.js';
import type { CachedAxiosInstance, CachedRequestConfig } from './types.js';
import { cacheStateOf } from './with-cache.js';

type AnyInstance = CachedAxiosInstance | AxiosInstance;

/**
 * Remove cached entries, resolving to the number removed. Store failures reject: an eviction that did not
 * happen must not look like one that did.
 *
 * - a URL string (`'/domains/example.com/dkim'`, resolved against `baseURL`) or a request config (keyed
 *   exactly as a request: method, url, params, data, `cache.key`): every variant of that one request (all
 *   `varyHeaders` values, all response types). Cost: one index read and one delete.
 * - a URL pattern, a string with `*` (`'/domains/*'`): every entry, of any method and variant, whose origin
 *   and path match; `*` matches any run of characters. Query strings are not part of it.
 * - a `RegExp`, tested against each entry's absolute URL without its query (`https://host/path`).
 * Patterns and RegExps SCAN the instance's keys (on every master of a Cluster): cost grows with the
 * number of keys under the prefix, not with the number removed.
 */
export async function evict(instance: AnyInstance, request: string | RegExp | CachedRequestConfig): Promise<number> {
  const state = cacheStateOf(instance);
  const { prefix } = state.options;
  if (request instanceof RegExp) {
    const re = request;
    return dropped(
      state,
      await bounded(state, 'evict', undefined, (store) =>
        store.deleteMatching(entryPattern(prefix, '*'), (key) => {
          const url = entryUrl(key);
          re.lastIndex = 0;
          return url !== null && re.test(url);
        }),
      ),
    );
  }
  if (typeof request === 'string' && request.includes('*')) {
    if (request.includes('?')) {
      throw new CacheOptionError(
        'pattern',
        request,
        'a URL pattern without a query string (patterns match origin and path)',
      );
    }
    const full = new URL(
      fullPath({ baseURL: instance.defaults.baseURL, url: request }).replaceAll('*', '%2A'),
      'http://localhost/',
    );
    const origin = full.origin === 'null' ? `${full.protocol}//${full.host}` : full.origin;
    const urlGlob = `${origin}${full.pathname}`.split('%2A').map(escapeGlob).join('*');
    return dropped(
      state,
      await bounded(state, 'evict', undefined, (store) => store.deleteMatching(entryPattern(prefix, urlGlob))),
    );
  }
  const config = evictionConfig(instance, request);
  const options = resolveRequestOptions((config as { cache?: unknown }).cache);
  const keys = requestKeys(config, prefix, state.options.varyHeaders, options ? options.key : undefined);
  if (!keys) {
    throw new CacheOptionError('request.data', config.data, 'a body that can be keyed (not a stream or FormData)');
  }
  const removed = await bounded(state, 'evict', keys.label, (store) => store.deleteIndexed([keys.variants]));
  // Only this request's in-process copies go, in every process: every key starting with its `{rid}` part.
  state.entries.forgetPresence();
  await state.invalidations.announce(`^${keys.variants.slice(0, -'variants'.length)}\t${keys.label}`);
  return removed;
}

/** Remove every entry stored with any of these tags. Resolves to the number of entries removed. */
export async function evictTags(instance: AnyInstance, tags: readonly string[]): Promise<number> {
  const state = cacheStateOf(instance);
  if (!Array.isArray(tags)) throw new CacheOptionError('tags', tags, 'an array of strings');
  tags.forEach((tag, i) => {
    if (typeof tag !== 'string' || tag.length === 0)
      throw new CacheOptionError(`tags[${i}]`, tag, 'a non-empty string');
  });
  if (tags.length === 0) return 0;
  return dropped(
    state,
    await bounded(state, 'evict', undefined, (store) =>
      store.deleteIndexed(tags.map((tag) => tagIndexKey(state.options.prefix, tag))),
    ),
  );
}

/**
 * Remove everything under this instance's `prefix` (entries, indexes, leases), incrementally with SCAN
 * (on every master of a Cluster). Keys outside the prefix are never touched. Resolves to the number of
 * keys removed.
 */
export async function clearCache(instance: AnyInstance): Promise<number> {
  const state = cacheStateOf(instance);
  return dropped(
    state,
    await bounded(state, 'clear', undefined, (store) => store.deleteMatching(`${escapeGlob(state.options.prefix)}*`)),
  );
}

/**
 * After an eviction: every process drops its in-process copies (they may hold what was just removed), and
 * this one forgets which keys it found lately, so the next miss of an evicted key takes its fill lease in
 * the same call as its lookup (see `expectMiss`).
 */
async function dropped(state: CacheState, removed: number): Promise<number> {
  state.entries.forgetPresence();
  await state.invalidations.announce(DROP_ALL);
  return removed;
}

function evictionConfig(instance: AnyInstance, request: string | CachedRequestConfig): InternalAxiosRequestConfig {
  const defaults = instance.defaults;
  if (typeof request === 'string') {
    return {
      baseURL: defaults.baseURL,
      url: request,
      method: 'get',
      params: defaults.params,
    } as InternalAxiosRequestConfig;
  }
  if (typeof request !== 'object' || request === null) {
    throw new CacheOptionError('request', request, 'a URL string or a request config');
  }
  const data = request.data;
  return {
    baseURL: defaults.baseURL,
    params: defaults.params,
    allowAbsoluteUrls: defaults.allowAbsoluteUrls,
    ...request,
    method: request.method ?? 'get',
    // Requests see their body after axios' default transform, which turns objects into JSON text.
    data:
      data !== null && typeof data === 'object' && Object.getPrototypeOf(data) === Object.prototype
        ? JSON.stringify(data)
        : data,
  } as InternalAxiosRequestConfig;
}
