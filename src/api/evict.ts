import type { AxiosInstance, InternalAxiosRequestConfig } from 'axios';
import { ENTRY_HEADER } from '../entries/format.js';
import { entryPattern, entryUrl, fullPath, requestKeys, tagIndexKey } from '../entries/key.js';
import { deleteVariants, variantKeys } from '../entries/variants.js';
import { DROP_ALL } from '../local/invalidation.js';
import { type EvictionMessage, evictionChannel } from '../observe/tracing.js';
import { LIMITS, resolveRequestOptions } from '../options/index.js';
import { escapeGlob } from '../stores/glob.js';
import type { CacheStore } from '../stores/types.js';
import { bounded } from './bounded.js';
import { CacheOptionError } from './errors.js';
import type { CacheState } from './state.js';
import type { CachedAxiosInstance, CachedRequestConfig, EvictOptions } from './types.js';
import { cacheStateOf } from './with-cache.js';

type AnyInstance = CachedAxiosInstance | AxiosInstance;

/**
 * Remove cached entries, resolving to the number removed (with `{ soft: true }`, marked stale instead: see
 * {@link EvictOptions}). Store failures reject: an eviction that did not happen must not look like one
 * that did.
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
export async function evict(
  instance: AnyInstance,
  request: string | RegExp | CachedRequestConfig,
  evictOptions?: EvictOptions,
): Promise<number> {
  const state = cacheStateOf(instance);
  const soft = softEviction(state, evictOptions);
  const { prefix } = state.options;
  if (request instanceof RegExp) {
    const re = request;
    const filter = (key: string) => {
      const url = entryUrl(key);
      re.lastIndex = 0;
      return url !== null && re.test(url);
    };
    const pattern = entryPattern(prefix, '*');
    return dropped(
      state,
      'pattern',
      await bounded(state, 'evict', undefined, (store) =>
        soft ? markMatching(store, pattern, filter, soft) : store.deleteMatching(pattern, filter),
      ),
      soft,
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
    const joined = fullPath({ baseURL: instance.defaults.baseURL, url: request });
    if (!/^[a-z][a-z\d+\-.]*:\/\//i.test(joined)) {
      // Resolved against nothing, `/users/*` would match `http://localhost/users/*` only: refuse it.
      throw new CacheOptionError(
        'pattern',
        request,
        'an absolute URL pattern (https://host/path/*), or a path pattern on an instance with a baseURL (clearCache removes everything)',
      );
    }
    const full = new URL(joined.replaceAll('*', '%2A'));
    const origin = full.origin === 'null' ? `${full.protocol}//${full.host}` : full.origin;
    const urlGlob = `${origin}${full.pathname}`.split('%2A').map(escapeGlob).join('*');
    const pattern = entryPattern(prefix, urlGlob);
    return dropped(
      state,
      'pattern',
      await bounded(state, 'evict', undefined, (store) =>
        soft ? markMatching(store, pattern, undefined, soft) : store.deleteMatching(pattern),
      ),
      soft,
    );
  }
  const config = evictionConfig(instance, request);
  const options = resolveRequestOptions((config as { cache?: unknown }).cache);
  const keys = requestKeys(config, prefix, state.options.varyHeaders, options ? options.key : undefined);
  if (!keys) {
    throw new CacheOptionError('request.data', config.data, 'a body that can be keyed (not a stream or FormData)');
  }
  const removed = await bounded(state, 'evict', keys.label, async (store) =>
    soft
      ? store.markStale!(await variantKeys(store, [keys]), soft.staleAt, soft.graceMs, ENTRY_HEADER)
      : deleteVariants(store, [keys]),
  );
  // Only this request's in-process copies go, in every process: every key starting with its `{rid}` part.
  if (!soft) state.entries.forgetPresence();
  counted(state, 'request', removed, soft);
  await state.invalidations.announce(`^${keys.variants.slice(0, -'variants'.length)}\t${keys.label}`);
  return removed;
}

/**
 * Remove every entry stored with any of these tags. Resolves to the number of entries removed (with
 * `{ soft: true }`, marked stale: see {@link EvictOptions}).
 */
export async function evictTags(
  instance: AnyInstance,
  tags: readonly string[],
  options?: EvictOptions,
): Promise<number> {
  const state = cacheStateOf(instance);
  const soft = softEviction(state, options);
  if (!Array.isArray(tags)) throw new CacheOptionError('tags', tags, 'an array of strings');
  tags.forEach((tag, i) => {
    if (typeof tag !== 'string' || tag.length === 0)
      throw new CacheOptionError(`tags[${i}]`, tag, 'a non-empty string');
  });
  if (tags.length === 0) return 0;
  const indexes = tags.map((tag) => tagIndexKey(state.options.prefix, tag));
  return dropped(
    state,
    'tags',
    await bounded(state, 'evict', undefined, (store) =>
      soft ? markIndexed(store, indexes, soft) : store.deleteIndexed(indexes),
    ),
    soft,
  );
}

/**
 * Remove everything the cache keeps under this instance's `prefix` (entries, indexes, leases),
 * incrementally with SCAN (on every master of a Cluster). The fleet counters (`<prefix>{stats}…`) are
 * spared: they are the fleet's history, not cached answers. Keys outside the prefix are never touched.
 * Resolves to the number of keys removed.
 */
export async function clearCache(instance: AnyInstance, options?: EvictOptions): Promise<number> {
  const state = cacheStateOf(instance);
  const soft = softEviction(state, options);
  const { prefix } = state.options;
  const counters = `${prefix}{stats}`;
  return dropped(
    state,
    'clear',
    await bounded(state, 'clear', undefined, (store) =>
      soft
        ? markMatching(store, entryPattern(prefix, '*'), undefined, soft)
        : store.deleteMatching(`${escapeGlob(prefix)}*`, (key) => !key.startsWith(counters)),
    ),
    soft,
  );
}

/**
 * After an eviction: every process drops its in-process copies (they may hold what was just removed or
 * marked), and — after a hard one — this one forgets which keys it found lately, so the next miss of an
 * evicted key takes its fill lease in the same call as its lookup (see `expectMiss`).
 */
async function dropped(
  state: CacheState,
  kind: EvictionMessage['kind'],
  removed: number,
  soft: SoftEviction | null,
): Promise<number> {
  if (!soft) state.entries.forgetPresence();
  counted(state, kind, removed, soft);
  await state.invalidations.announce(DROP_ALL);
  return removed;
}

/** A soft eviction's times: stale from `staleAt` (now), answered stale for `graceMs` at most. */
interface SoftEviction {
  staleAt: number;
  graceMs: number;
}

/** The soft eviction `options` ask for, checked; `null` for a hard one. */
function softEviction(state: CacheState, options: EvictOptions | undefined): SoftEviction | null {
  if (options === undefined) return null;
  if (typeof options !== 'object' || options === null) {
    throw new CacheOptionError('options', options, 'an object ({ soft, grace })');
  }
  const { soft, grace } = options;
  if (soft !== undefined && typeof soft !== 'boolean') throw new CacheOptionError('soft', soft, 'a boolean');
  if (grace !== undefined && (typeof grace !== 'number' || !(grace > 0) || grace > LIMITS.graceSeconds)) {
    throw new CacheOptionError('grace', grace, `a number of seconds above 0, at most ${LIMITS.graceSeconds}`);
  }
  if (!soft) return null;
  const store = state.options.store;
  if (!store.markStale || !store.indexMembers || !store.scan) {
    throw new CacheOptionError(
      'soft',
      soft,
      'a store that can mark entries stale (RedisStore, MemoryStore, or a CacheStore with markStale, indexMembers and scan)',
    );
  }
  return { staleAt: Date.now(), graceMs: Math.round((grace ?? DEFAULT_GRACE_SECONDS) * 1000) };
}

/** A soft eviction's grace window when the caller names none, in seconds. */
export const DEFAULT_GRACE_SECONDS = 60;

function counted(state: CacheState, kind: EvictionMessage['kind'], entries: number, soft: SoftEviction | null): void {
  if (soft) state.counters.softEvictions += entries;
  if (evictionChannel.hasSubscribers) {
    const message: EvictionMessage = { kind, soft: soft !== null, entries };
    evictionChannel.publish(message);
  }
}

/** Mark stale every entry these indexes list. */
async function markIndexed(store: CacheStore, indexes: readonly string[], soft: SoftEviction): Promise<number> {
  const keys = await store.indexMembers!(indexes);
  return store.markStale!(keys, soft.staleAt, soft.graceMs, ENTRY_HEADER);
}

/** Mark stale every entry whose key matches `pattern` (and `filter`), batch by batch as the scan finds them. */
async function markMatching(
  store: CacheStore,
  pattern: string,
  filter: ((key: string) => boolean) | undefined,
  soft: SoftEviction,
): Promise<number> {
  let marked = 0;
  for await (const batch of store.scan!(pattern)) {
    const keys = filter ? batch.filter(filter) : batch;
    if (keys.length > 0) marked += await store.markStale!(keys, soft.staleAt, soft.graceMs, ENTRY_HEADER);
  }
  return marked;
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
