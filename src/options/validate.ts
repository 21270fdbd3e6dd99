import { CacheOptionError } from '../api/errors.js';
import { MemoryStore } from '../stores/memory.js';
import { isRedisClient, RedisStore } from '../stores/redis/store.js';
import type { CacheStore } from '../stores/types.js';
import { DEFAULTS, LIMITS, type ResolvedOptions } from './defaults.js';
import type { BreakerOptions, CompressOptions, L1Options } from './public.js';

/** Checks of single option values: each throws a `CacheOptionError` naming the option and the value. */

export function cacheStatusOption(value: unknown): string | null {
  if (value === undefined || value === false) return null;
  if (value === true) return 'axios-redis-cache';
  // An RFC 8941 token: what a Cache-Status member's name may be without quoting.
  if (typeof value !== 'string' || !/^[A-Za-z*][A-Za-z0-9:/!#$%&'*+\-.^_`|~]*$/.test(value)) {
    throw new CacheOptionError('cacheStatus', value, 'true, false, or a cache name (a token, e.g. "api-cache")');
  }
  return value;
}

export function fleetStatsOption(value: unknown): number | null {
  if (value === false) return null;
  if (value === undefined) return DEFAULTS.fleetStats * 1000;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0.1 || value > 3600) {
    throw new CacheOptionError('fleetStats', value, 'false or a number of seconds from 0.1 to 3600');
  }
  return Math.round(value * 1000);
}

export function storeOption(store: unknown): CacheStore {
  if (store === undefined) return new MemoryStore();
  if (isRedisClient(store) || looksLikeNodeRedis4(store)) return new RedisStore(store as never);
  const candidate = store as Partial<CacheStore> | null;
  if (
    typeof candidate === 'object' &&
    candidate !== null &&
    typeof candidate.get === 'function' &&
    typeof candidate.set === 'function' &&
    typeof candidate.delete === 'function' &&
    typeof candidate.deleteIndexed === 'function' &&
    typeof candidate.deleteMatching === 'function'
  ) {
    return candidate as CacheStore;
  }
  throw new CacheOptionError(
    'store',
    store,
    'an ioredis Redis or Cluster client, a node-redis (redis 5 or 6) client, cluster or sentinel, or a CacheStore (get, set, delete, deleteIndexed, deleteMatching)',
  );
}

/** A node-redis 4 client: passed on to `RedisStore`, which refuses it naming the versions it supports. */
function looksLikeNodeRedis4(value: unknown): boolean {
  const v = value as { sendCommand?: unknown; isOpen?: unknown; withTypeMapping?: unknown } | null;
  return typeof v === 'object' && v !== null && typeof v.sendCommand === 'function' && typeof v.isOpen === 'boolean';
}

export function l1Option(value: unknown): ResolvedOptions['l1'] {
  if (value === undefined || value === false) return null;
  if (value === true) value = {}; // what a user writes first: the defaults
  if (!isPlainObject(value))
    throw new CacheOptionError('l1', value, 'true, false or { maxEntries, maxBytes, ttl, grace }');
  rejectUnknownKeys(value, new Set(['maxEntries', 'maxBytes', 'ttl', 'grace']), 'l1.');
  const l = value as L1Options;
  return {
    maxEntries: l.maxEntries === undefined ? 1000 : positiveInteger('l1.maxEntries', l.maxEntries, LIMITS.l1Entries),
    maxBytes: l.maxBytes === undefined ? 16 * 1024 * 1024 : positiveInteger('l1.maxBytes', l.maxBytes, LIMITS.l1Bytes),
    ttlMs: Math.round((l.ttl === undefined ? 1 : seconds('l1.ttl', l.ttl)) * 1000),
    graceMs: Math.round(
      (l.grace === undefined ? 0 : nonNegativeNumber('l1.grace', l.grace, LIMITS.graceSeconds)) * 1000,
    ),
  };
}

export function breakerOption(value: unknown): ResolvedOptions['breaker'] {
  if (value === false) return null;
  if (value === undefined) return { failures: DEFAULTS.breaker.failures, cooldownMs: DEFAULTS.breaker.cooldown };
  if (!isPlainObject(value)) throw new CacheOptionError('breaker', value, 'false or { failures, cooldown }');
  rejectUnknownKeys(value, new Set(['failures', 'cooldown']), 'breaker.');
  const b = value as BreakerOptions;
  return {
    failures:
      b.failures === undefined
        ? DEFAULTS.breaker.failures
        : positiveInteger('breaker.failures', b.failures, LIMITS.failures),
    cooldownMs:
      b.cooldown === undefined
        ? DEFAULTS.breaker.cooldown
        : positiveNumber('breaker.cooldown', b.cooldown, LIMITS.cooldownMs),
  };
}

export function statusFilter(name: string, value: unknown): (status: number) => boolean {
  if (typeof value === 'function') return value as (status: number) => boolean;
  if (!Array.isArray(value)) throw new CacheOptionError(name, value, 'an array of status codes or [from, to] ranges');
  const exact = new Set<number>();
  const ranges: [number, number][] = [];
  value.forEach((item: unknown, i) => {
    if (isStatus(item)) exact.add(item);
    else if (Array.isArray(item) && item.length === 2 && isStatus(item[0]) && isStatus(item[1]) && item[0] <= item[1])
      ranges.push([item[0], item[1]]);
    else throw new CacheOptionError(`${name}[${i}]`, item, 'a status code (100-599) or a [from, to] range');
  });
  return (status) => exact.has(status) || ranges.some(([from, to]) => status >= from && status <= to);
}

export function isStatus(value: unknown): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= 100 && value <= 599;
}

export function prefixOption(value: unknown): string {
  if (typeof value !== 'string' || value.length === 0 || /[{}]/.test(value)) {
    throw new CacheOptionError('prefix', value, 'a non-empty string without "{" or "}"');
  }
  return value;
}

export function seconds(name: string, value: unknown, max = LIMITS.seconds): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0.001 || value > max) {
    throw new CacheOptionError(name, value, `a number of seconds from 0.001 to ${max}`);
  }
  return value;
}

export function positiveNumber(name: string, value: unknown, max: number): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0 || value > max) {
    throw new CacheOptionError(name, value, `a positive number of at most ${max}`);
  }
  return value;
}

export function nonNegativeNumber(name: string, value: unknown, max: number): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0 || value > max) {
    throw new CacheOptionError(name, value, `a number from 0 to ${max}`);
  }
  return value;
}

/** A window in seconds (0 allowed, at most a year) converted to milliseconds, or `undefined` when not given. */
export function windowMs(name: string, value: unknown): number | undefined {
  if (value === undefined) return undefined;
  return Math.round(nonNegativeNumber(name, value, LIMITS.seconds) * 1000);
}

export function positiveInteger(name: string, value: unknown, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > max) {
    throw new CacheOptionError(name, value, `a positive integer of at most ${max}`);
  }
  return value;
}

export function boolean(name: string, value: unknown): boolean {
  if (typeof value !== 'boolean') throw new CacheOptionError(name, value, 'true or false');
  return value;
}

export function fn<T>(name: string, value: T): T {
  if (typeof value !== 'function') throw new CacheOptionError(name, value, 'a function');
  return value;
}

/** C0 and C1 control characters and DEL: what a terminal may take as a command. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what it finds.
export const CONTROL_CHARACTERS = /[\u0000-\u001f\u007f-\u009f]/;

/**
 * `cache.key`: a key without control characters (a newline would split the invalidation messages that
 * list keys one per line, and a key must mean one thing to every mechanism built on it), of bounded length.
 */
export function cacheKey(value: unknown): string {
  if (
    typeof value !== 'string' ||
    value.length === 0 ||
    value.length > LIMITS.keyLength ||
    CONTROL_CHARACTERS.test(value)
  ) {
    throw new CacheOptionError(
      'cache.key',
      value,
      `a non-empty string of at most ${LIMITS.keyLength} characters, without control characters`,
    );
  }
  return value;
}

/**
 * `cache.tags`: at most `LIMITS.tags` non-empty strings without control characters (a tag is printed by the
 * CLI and travels in announcements) of at most `LIMITS.keyLength` characters.
 */
export function tagList(value: unknown): string[] {
  const tags = stringList('cache.tags', value, true);
  if (tags.length > LIMITS.tags) {
    throw new CacheOptionError('cache.tags', `${tags.length} tags`, `at most ${LIMITS.tags} tags`);
  }
  tags.forEach((tag, i) => {
    if (tag.length > LIMITS.keyLength || CONTROL_CHARACTERS.test(tag)) {
      throw new CacheOptionError(
        `cache.tags[${i}]`,
        tag,
        `a string of at most ${LIMITS.keyLength} characters, without control characters`,
      );
    }
  });
  return tags;
}

export function nonEmptyString(name: string, value: unknown): string {
  if (typeof value !== 'string' || value.length === 0) throw new CacheOptionError(name, value, 'a non-empty string');
  return value;
}

export function stringList(name: string, value: unknown, nonEmptyItems = false): string[] {
  if (!Array.isArray(value)) throw new CacheOptionError(name, value, 'an array of strings');
  return value.map((item: unknown, i) => {
    if (typeof item !== 'string' || (nonEmptyItems && item.length === 0)) {
      throw new CacheOptionError(`${name}[${i}]`, item, nonEmptyItems ? 'a non-empty string' : 'a string');
    }
    return item;
  });
}

export function rejectUnknownKeys(value: object, known: ReadonlySet<string>, path: string): void {
  for (const key of Object.keys(value)) {
    if (!known.has(key)) {
      throw new CacheOptionError(
        `${path}${key}`,
        (value as Record<string, unknown>)[key],
        `a known option (${[...known].join(', ')})`,
      );
    }
  }
}

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null) return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/** `compress`: `true` the defaults, `false` nothing, or `{ threshold, algorithm }`. */
export function compressOption(value: unknown): ResolvedOptions['compress'] {
  if (value === undefined || value === true) return DEFAULTS.compress;
  if (value === false) return null;
  if (!isPlainObject(value)) throw new CacheOptionError('compress', value, 'true, false or { threshold, algorithm }');
  rejectUnknownKeys(value, new Set(['threshold', 'algorithm']), 'compress.');
  const { threshold, algorithm } = value as CompressOptions;
  if (algorithm !== undefined && algorithm !== 'brotli' && algorithm !== 'gzip') {
    throw new CacheOptionError('compress.algorithm', algorithm, "'brotli' or 'gzip'");
  }
  return {
    algorithm: algorithm ?? DEFAULTS.compress?.algorithm ?? 'gzip',
    thresholdBytes:
      threshold === undefined
        ? (DEFAULTS.compress?.thresholdBytes ?? 16 * 1024)
        : positiveInteger('compress.threshold', threshold, LIMITS.entryBytes),
  };
}
