/**
 * Named error classes. Every error this library creates carries a stable `code` that callers can
 * switch on; messages name the offending option or key and the value that was given.
 */

/** Describe a value for an error message without dumping large or sensitive structures. */
export function describeValue(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value.length > 80 ? `${value.slice(0, 77)}...` : value);
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') return String(value);
  if (value === null) return 'null';
  if (value === undefined) return 'undefined';
  if (typeof value === 'function') return `a function${value.name ? ` (${value.name})` : ''}`;
  if (Array.isArray(value)) return `an array of length ${value.length}`;
  const ctor = (value as { constructor?: { name?: string } }).constructor?.name;
  return ctor && ctor !== 'Object' ? `a ${ctor} instance` : 'an object';
}

/*
 * The codes, outside the classes: a class body that names its own class makes the bundler rename it
 * (`_CacheOptionError` in dist/), and every error's `name` is its class name.
 */
const CACHE_OPTION_ERROR_CODE = 'ERR_CACHE_OPTION';
const CACHE_ALREADY_INSTALLED_ERROR_CODE = 'ERR_CACHE_ALREADY_INSTALLED';
const CACHE_NOT_INSTALLED_ERROR_CODE = 'ERR_CACHE_NOT_INSTALLED';
const CACHE_STORE_ERROR_CODE = 'ERR_CACHE_STORE';
const CACHE_STORE_TIMEOUT_ERROR_CODE = 'ERR_CACHE_STORE_TIMEOUT';
const CACHE_STORE_UNAVAILABLE_ERROR_CODE = 'ERR_CACHE_STORE_UNAVAILABLE';
const CACHE_ENTRY_ERROR_CODE = 'ERR_CACHE_BAD_ENTRY';

/** Base class of every error thrown or reported by axios-redis-cache. */
export class CacheError extends Error {
  /** Stable, machine-readable code. */
  readonly code: string;

  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

/**
 * An option given to `withCache` or a per-request `cache` option is invalid: wrong type, out of range,
 * or unknown. Thrown synchronously by `withCache`; a request with an invalid `cache` option is rejected
 * with it before anything is sent upstream.
 */
export class CacheOptionError extends CacheError {
  static readonly code: string = CACHE_OPTION_ERROR_CODE;
  /** The option's path, e.g. `ttl` or `cache.tags[1]`. */
  readonly option: string;
  /** The value that was given. */
  readonly value: unknown;

  constructor(option: string, value: unknown, expected: string) {
    super(
      CACHE_OPTION_ERROR_CODE,
      `Invalid cache option "${option}": expected ${expected}, got ${describeValue(value)}.`,
    );
    this.option = option;
    this.value = value;
  }
}

/**
 * `withCache` was called on an instance that already has a cache: installed on it, or inherited (made with
 * `create()` from a cached instance, or given a cached instance's adapter).
 */
export class CacheAlreadyInstalledError extends CacheError {
  static readonly code: string = CACHE_ALREADY_INSTALLED_ERROR_CODE;
  constructor() {
    super(
      CACHE_ALREADY_INSTALLED_ERROR_CODE,
      'This axios instance already has a cache (withCache() was called on it, or its adapter comes from a cached instance); create a new instance with axios.create() for a second cache.',
    );
  }
}

/** `evict`, `evictTags`, `clearCache` or `getCacheStats` was given an instance without a cache. */
export class CacheNotInstalledError extends CacheError {
  static readonly code: string = CACHE_NOT_INSTALLED_ERROR_CODE;
  constructor(value: unknown) {
    super(
      CACHE_NOT_INSTALLED_ERROR_CODE,
      `Expected an axios instance returned by withCache(), got ${describeValue(value)} without a cache installed.`,
    );
  }
}

/** Which store operation failed. */
export type StoreOperation =
  | 'get'
  | 'set'
  | 'delete'
  | 'evict'
  | 'clear'
  | 'lease'
  | 'release'
  | 'wait'
  | 'publish'
  | 'stats';

/**
 * A store call failed. Never thrown at a request: the request is treated as a miss (or the write is
 * dropped) and the error is passed to the `onError` hook.
 */
export class CacheStoreError extends CacheError {
  static readonly code: string = CACHE_STORE_ERROR_CODE;
  readonly operation: StoreOperation;
  /** The cache key involved, when there is one. Never contains credentials or query strings. */
  readonly key: string | undefined;

  constructor(operation: StoreOperation, key: string | undefined, cause: unknown, code = CACHE_STORE_ERROR_CODE) {
    const reason = cause instanceof Error ? cause.message : String(cause);
    super(code, `Cache store ${operation}${key ? ` of "${key}"` : ''} failed: ${reason}`, { cause });
    this.operation = operation;
    this.key = key;
  }
}

/** A store call did not answer within `storeTimeout` milliseconds. */
export class CacheStoreTimeoutError extends CacheStoreError {
  static override readonly code: string = CACHE_STORE_TIMEOUT_ERROR_CODE;
  readonly timeoutMs: number;
  constructor(operation: StoreOperation, key: string | undefined, timeoutMs: number) {
    super(operation, key, `no answer within ${timeoutMs} ms`, CACHE_STORE_TIMEOUT_ERROR_CODE);
    this.timeoutMs = timeoutMs;
  }
}

/** The store is not connected (e.g. the ioredis client is reconnecting); the call was not attempted. */
export class CacheStoreUnavailableError extends CacheStoreError {
  static override readonly code: string = CACHE_STORE_UNAVAILABLE_ERROR_CODE;
  /** `lastError`: why the client is not ready, as far as it said (`NOAUTH`, `WRONGPASS`, a TLS error): the `cause`. */
  constructor(operation: StoreOperation, key: string | undefined, state: string, lastError?: unknown) {
    const why = lastError instanceof Error ? `: ${lastError.message}` : '';
    super(operation, key, `store is not ready (state "${state}")${why}`, CACHE_STORE_UNAVAILABLE_ERROR_CODE);
    if (lastError !== undefined) this.cause = lastError;
  }
}

/**
 * A value read from the store is not a valid entry of this library's current format (corrupt,
 * truncated, another format version, a foreign value). Reported to `onError`; the read is a miss and
 * the next write overwrites the value.
 */
export class CacheEntryError extends CacheError {
  static readonly code: string = CACHE_ENTRY_ERROR_CODE;
  readonly key: string | undefined;
  /**
   * What is wrong: `format` (not an entry of this version, or lengths that do not add up), `checksum`
   * (its bytes were changed), `key` (it is stored for another key: a reply meant for another command, or
   * a value copied under a foreign key).
   */
  readonly problem: 'format' | 'checksum' | 'key';
  constructor(reason: string, key?: string, problem: 'format' | 'checksum' | 'key' = 'format') {
    super(CACHE_ENTRY_ERROR_CODE, `Cache entry${key ? ` "${key}"` : ''} is unusable: ${reason}`);
    this.key = key;
    this.problem = problem;
  }
}
