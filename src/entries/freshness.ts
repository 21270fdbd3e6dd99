import type { InternalAxiosRequestConfig } from 'axios';
import { parseDirectives } from '../http/cache-control.js';
import { hasValidator } from '../http/conditional.js';
import { storagePolicy } from '../http/freshness.js';
import type { ResolvedOptions, ResolvedRequestOptions } from '../options/index.js';
import type { UpstreamHead } from '../request/upstream.js';
import { type EntryPolicy, TTL_POLICY } from './entry.js';

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
  return {
    freshUntil: createdAt + Math.round((policy.lifetime - policy.initialAge) * 1000),
    policy: {
      http: true,
      initialAge: policy.initialAge,
      mustRevalidate: policy.mustRevalidate,
      staleWhileRevalidateMs: policy.staleWhileRevalidate * 1000,
      staleIfErrorMs: policy.staleIfError * 1000,
    },
    headers,
  };
}

/**
 * Under `httpSemantics`, whether the request carries `Authorization` that the key does not isolate (it is
 * not among `varyHeaders`): a shared cache then stores the answer only when the response allows it.
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
