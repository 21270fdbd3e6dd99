import type { InternalAxiosRequestConfig } from 'axios';
import { parseDirectives } from '../http/cache-control.js';
import { hasValidator } from '../http/conditional.js';
import { storagePolicy } from '../http/freshness.js';
import { LIMITS, type ResolvedOptions, type ResolvedRequestOptions } from '../options/index.js';
import type { UpstreamHead } from '../request/upstream.js';
import { type Entry, type EntryPolicy, TTL_POLICY } from './entry.js';

/** How long an answer stored now is fresh and kept: by `ttl`, or by RFC 9111 under `httpSemantics`. */

/** Whether a request follows HTTP caching (`httpSemantics`) rather than `ttl`. */
export function followsHttp(options: ResolvedOptions, request: ResolvedRequestOptions): boolean {
  return request.httpSemantics ?? options.httpSemantics;
}

/**
 * The stale windows that apply to a stored answer: its own (`stale-while-revalidate`, `stale-if-error`;
 * none when it must be revalidated) under `httpSemantics`, the request's or instance's options otherwise.
 */
export function staleWindows(
  options: ResolvedOptions,
  request: ResolvedRequestOptions,
  policy: EntryPolicy,
): { whileRevalidateMs: number; ifErrorMs: number } {
  if (policy.http) {
    return policy.mustRevalidate
      ? NO_WINDOWS
      : { whileRevalidateMs: policy.staleWhileRevalidateMs, ifErrorMs: policy.staleIfErrorMs };
  }
  return {
    whileRevalidateMs: request.staleWhileRevalidateMs ?? options.staleWhileRevalidateMs,
    ifErrorMs: request.staleIfErrorMs ?? options.staleIfErrorMs,
  };
}

const NO_WINDOWS = Object.freeze({ whileRevalidateMs: 0, ifErrorMs: 0 });

/**
 * Until when a stored answer may be served stale: while one refresh runs (stale-while-revalidate), and
 * instead of an upstream failure (stale-if-error). A soft-evicted entry is served stale while its refresh
 * runs until its grace window ends, and never after it (unless it must be revalidated: then never).
 */
export function staleUntil(
  options: ResolvedOptions,
  request: ResolvedRequestOptions,
  entry: Pick<Entry, 'freshUntil' | 'policy' | 'softEvicted'>,
): { whileRevalidate: number; ifError: number } {
  const windows = staleWindows(options, request, entry.policy);
  const whileRevalidate = entry.freshUntil + windows.whileRevalidateMs;
  const ifError = entry.freshUntil + windows.ifErrorMs;
  const soft = entry.softEvicted;
  if (!soft) return { whileRevalidate, ifError };
  return {
    whileRevalidate: entry.policy.mustRevalidate ? 0 : soft.graceUntil,
    ifError: Math.min(ifError, soft.graceUntil),
  };
}

/**
 * How long the store keeps an entry past now: until it is no longer fresh, plus the longest stale window
 * that may use it, or the revalidation window (`keep`) when it has a validator. 0: not worth storing.
 */
export function storeTtlMs(
  options: ResolvedOptions,
  request: ResolvedRequestOptions,
  freshUntil: number,
  policy: EntryPolicy,
  headers: UpstreamHead['headers'],
  now: number,
): number {
  const windows = staleWindows(options, request, policy);
  const past = Math.max(
    windows.whileRevalidateMs,
    windows.ifErrorMs,
    options.keepMs > 0 && hasValidator(headers) ? options.keepMs : 0,
  );
  return Math.max(0, freshUntil - now) + past;
}

/** When an answer stored now stops being fresh, and what RFC 9111 says of its reuse (`null`: not storable). */
interface Freshness {
  freshUntil: number;
  policy: EntryPolicy;
  headers: UpstreamHead['headers'];
}

export function freshness(
  options: ResolvedOptions,
  request: ResolvedRequestOptions,
  head: Pick<UpstreamHead, 'status' | 'headers'>,
  createdAt: number,
  fetchMs: number,
  unkeyedAuthorization: boolean,
): Freshness | null {
  if (!followsHttp(options, request)) {
    if (!options.isStorableStatus(head.status)) return null;
    const control = head.headers['cache-control'];
    if (control) {
      const directives = parseDirectives(control);
      if (directives.has('no-store') || (options.shared && directives.has('private'))) return null;
    }
    return { freshUntil: createdAt + (request.ttlMs ?? options.ttlMs), policy: TTL_POLICY, headers: head.headers };
  }
  if (options.statusesGiven && !options.isStorableStatus(head.status)) return null;
  const policy = storagePolicy({
    status: head.status,
    headers: head.headers,
    shared: options.shared,
    responseTime: createdAt,
    fetchMs,
    unkeyedAuthorization,
    fallbackTtl: options.fallbackTtlMs / 1000,
  });
  if (!policy.storable) return null;
  let headers = head.headers;
  if (policy.omit.length > 0) {
    const kept: Record<string, string | string[]> = { ...headers };
    for (const name of policy.omit) delete kept[name];
    headers = kept;
  }
  // Every stored lifetime is capped like the options' own (a year): an `Expires` in year 9999 or
  // `stale-while-revalidate=99999999999` does not keep an entry in the store for decades.
  const cap = LIMITS.seconds;
  return {
    freshUntil: createdAt + Math.round((Math.min(policy.lifetime, cap) - policy.initialAge) * 1000),
    policy: {
      http: true,
      initialAge: policy.initialAge,
      mustRevalidate: policy.mustRevalidate,
      staleWhileRevalidateMs: Math.min(policy.staleWhileRevalidate, cap) * 1000,
      staleIfErrorMs: Math.min(policy.staleIfError, cap) * 1000,
    },
    headers,
  };
}

/**
 * Under `httpSemantics`, whether the request carries `Authorization` that the key does not isolate (named
 * in `shareCredentials`): a shared cache then stores the answer only when the response allows it.
 */
export function unkeyedAuthorization(
  options: ResolvedOptions,
  request: ResolvedRequestOptions,
  config: InternalAxiosRequestConfig,
): boolean {
  if (!followsHttp(options, request) || options.varyHeaders.includes('authorization')) return false;
  const headers = config.headers as unknown as { has?: (name: string) => boolean } | undefined;
  return typeof headers?.has === 'function' && headers.has('authorization');
}
