import type { AxiosResponse, InternalAxiosRequestConfig } from 'axios';
import type { CacheState } from '../api/state.js';
import { bytesToBody, type Entry } from '../entries/entry.js';
import type { RequestKeys } from '../entries/key.js';
import { NO_VARY } from '../entries/vary.js';
import { notModified, notModifiedHeaders } from '../http/conditional.js';
import type { RequestDirectives } from '../http/request-directives.js';
import { ageHeader, freshFor, staleAccepted } from '../http/reuse.js';
import type { HttpAsk } from './directives.js';
import { invalidateAfterUnsafe } from './invalidate-unsafe.js';
import {
  type CacheInfo,
  fitsCaller,
  replayRequest,
  replayTemplate,
  reportDownload,
  settleReplay,
  tagResponse,
  ttlOf,
} from './replay.js';

/** Answers that do not come from a flight: bypasses, unsafe methods, callers a stored answer does not fit, replays of one entry, and answers from the store alone. */

/** Methods that change nothing upstream (RFC 9110 §9.2.1); any other is unsafe. */
export const SAFE_METHODS: ReadonlySet<string> = new Set(['get', 'head', 'options', 'trace']);

/**
 * An unsafe request (`POST`, `PUT`, `PATCH`, `DELETE`, …) goes upstream as it is; when it succeeds (a
 * non-error status), the stored answers to `GET`/`HEAD` of its URL, and of its `Location` and
 * `Content-Location` on the same origin, are evicted for the whole fleet before it is answered (RFC 9111
 * §4.4): a `GET` right after a `PUT` never gets the old answer.
 */
export async function unsafe(state: CacheState, config: InternalAxiosRequestConfig): Promise<AxiosResponse> {
  state.counters.bypasses++;
  const info: CacheInfo = { status: 'bypass', key: null, age: 0, source: 'upstream', ttl: null };
  let response: AxiosResponse;
  try {
    response = await state.base(config);
  } catch (error) {
    const failed = (error as { response?: AxiosResponse } | null)?.response;
    if (failed && typeof failed === 'object') {
      tagResponse(failed, info);
      if (failed.status < 400) await invalidateAfterUnsafe(state, config, failed);
    }
    throw error;
  }
  if (response.status < 400) await invalidateAfterUnsafe(state, config, response);
  return tagResponse(response, info);
}

export async function bypass(state: CacheState, config: InternalAxiosRequestConfig): Promise<AxiosResponse> {
  state.counters.bypasses++;
  return direct(state, config, { status: 'bypass', key: null, age: 0, source: 'upstream', ttl: null });
}

/** A request the stored answer does not fit (its own limits): it goes upstream alone, as without the cache. */
export async function passThrough(
  state: CacheState,
  config: InternalAxiosRequestConfig,
  keys: RequestKeys,
): Promise<AxiosResponse> {
  state.counters.misses++;
  return direct(state, config, { status: 'miss', key: keys.entry, age: 0, source: 'upstream', ttl: null });
}

/** The base adapter's own answer or error, unchanged but for `response.cache`. */
export async function direct(
  state: CacheState,
  config: InternalAxiosRequestConfig,
  info: CacheInfo,
): Promise<AxiosResponse> {
  try {
    return tagResponse(await state.base(config), info);
  } catch (error) {
    const response = (error as { response?: unknown } | null)?.response;
    if (response && typeof response === 'object') tagResponse(response, info);
    throw error;
  }
}

/** This caller's own response (or error) from a stored entry. */
export function replayEntry(
  state: CacheState,
  config: InternalAxiosRequestConfig,
  entry: Entry,
  info: CacheInfo,
): AxiosResponse {
  const data = bytesToBody(entry);
  reportDownload(config, data, entry);
  const request = replayRequest(entry, config, state.adapterKind, entry.meta);
  const age = entry.policy.http ? ageHeader(entry, Date.now()) : undefined;
  return settleReplay(state.axios, config, entry, data, info, request, replayTemplate(state.axios, entry.meta), age);
}

/**
 * Under `httpSemantics`, a request answered only from what is stored: the caller's own conditional request
 * (a fresh stored answer its validators match is answered `304 Not Modified`, one they do not match in
 * full; without one, its request goes upstream as it is) and `only-if-cached` (without a usable stored
 * answer: `504 Gateway Timeout`, RFC 9111 §5.2.1.7).
 */
export async function fromStoreOnly(
  state: CacheState,
  config: InternalAxiosRequestConfig,
  keys: RequestKeys,
  directives: RequestDirectives | undefined,
  conditional: HttpAsk | null,
): Promise<AxiosResponse> {
  const now = Date.now();
  const local = state.l1?.get(keys.entry, now) ?? null;
  let entry = local ?? (await state.entries.read(keys));
  if (entry && !fitsCaller(entry, entry.body.byteLength, config)) entry = null;
  const stale = entry !== null && !freshFor(entry, now, directives) && staleAccepted(entry, now, directives);
  if (!entry || !(stale || freshFor(entry, now, directives))) {
    if (!directives?.onlyIfCached) return bypass(state, config);
    state.counters.misses++;
    const empty: Entry['bodyKind'] = 'empty';
    const head = { status: 504, statusText: 'Gateway Timeout', headers: {}, redirects: 0, finalUrl: '', vary: NO_VARY };
    const data = bytesToBody({ bodyKind: empty, body: new Uint8Array(0), blobType: '' });
    const info: CacheInfo = { status: 'miss', key: keys.entry, age: 0, source: null, ttl: null };
    return settleReplay(state.axios, config, head, data ?? '', info, undefined);
  }
  if (stale) state.counters.staleHits++;
  else state.counters.hits++;
  const info: CacheInfo = {
    status: stale ? 'stale' : 'hit',
    key: keys.entry,
    age: Math.max(0, now - entry.createdAt) / 1000,
    source: local ? 'l1' : 'store',
    ttl: ttlOf(entry.freshUntil, now),
  };
  if (stale) info.reason = 'max-stale';
  if (conditional && notModified(conditional.ifNoneMatch, conditional.ifModifiedSince, entry.headers)) {
    const head = { ...entry, status: 304, statusText: 'Not Modified', headers: notModifiedHeaders(entry.headers) };
    const data = bytesToBody({
      bodyKind: entry.bodyKind === 'json' ? 'string' : entry.bodyKind,
      body: new Uint8Array(0),
      blobType: entry.blobType,
    });
    const request = replayRequest(head, config, state.adapterKind);
    return settleReplay(state.axios, config, head, data, info, request, undefined, ageHeader(entry, now));
  }
  return replayEntry(state, config, entry, info);
}
