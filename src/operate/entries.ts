import { PlainBodies } from '../entries/compress.js';
import { decodeEntry, type Entry } from '../entries/entry.js';
import { entryPattern } from '../entries/key.js';
import { escapeGlob } from '../stores/glob.js';
import { isRedisClient, type RedisClient, RedisStore } from '../stores/redis/store.js';
import type { CacheStore } from '../stores/types.js';

/**
 * What is stored, for operators: the functions behind the CLI's `ls` and `inspect`, exported so that a
 * service can offer the same through its own admin endpoints. They read the store (SCAN, never KEYS; one
 * GET per key found) and decode entries without trusting them: a value that is not an entry is skipped.
 */

/** One stored entry, as `ls` lists it. */
export interface EntrySummary {
  /** The store key. */
  key: string;
  /** `GET`, `HEAD`, … */
  method: string;
  /** Origin and path (never the query, which is hashed), or `key:<your cache.key>`. */
  url: string;
  status: number;
  /** Body size in bytes. */
  bytes: number;
  /** Seconds since the upstream produced it. */
  age: number;
  /** Seconds of freshness left (negative: stale, kept for a stale window or revalidation). */
  freshFor: number;
  tags: readonly string[];
  /** `ttl` or `http` (`httpSemantics`). */
  mode: 'ttl' | 'http';
  /**
   * Soft-evicted: stale since `staleAt`, answered stale (while one refresh runs) until `graceUntil`, then a
   * miss (ISO 8601); `null` when not.
   */
  softEvicted: { staleAt: string; graceUntil: string } | null;
}

/** One stored entry in full, as `inspect` shows it. */
export interface EntryDetails extends EntrySummary {
  statusText: string;
  headers: Record<string, string | string[]>;
  /** When it was stored and until when it is fresh (ISO 8601). */
  createdAt: string;
  freshUntil: string;
  /** Its validators, for revalidation. */
  etag: string | null;
  lastModified: string | null;
  /** The request headers its answer varies on (`Vary`). */
  varyOn: readonly string[];
  /** Entries stored for the same request (other variants included). */
  variants: number;
  /** The first characters of the body as text (binary bodies: their first bytes as hex). */
  preview: string;
}

export interface ListOptions {
  /** The cache's prefix. @default "axios-cache:" */
  prefix?: string;
  /** A glob on origin and path (`*` any run of characters), e.g. `https://keys.internal/domains/*`. @default every entry */
  match?: string;
  /** Most entries returned. @default 100 */
  limit?: number;
}

const DEFAULT_PREFIX = 'axios-cache:';

function storeOf(store: RedisClient | CacheStore): CacheStore {
  return isRedisClient(store) ? new RedisStore(store) : store;
}

/** The method and URL an entry key names (`<prefix>{rid}:<vid>:<METHOD> <url>` or `…:key:<METHOD>:<key>`). */
export function labelOf(key: string): { method: string; url: string } {
  const rest = key.slice(key.indexOf('}:') + 2);
  const label = rest.slice(rest.indexOf(':') + 1);
  if (label.startsWith('key:')) {
    const [, method = '', ...own] = label.split(':');
    return { method, url: `key:${own.join(':')}` };
  }
  const space = label.indexOf(' ');
  return { method: label.slice(0, space), url: label.slice(space + 1) };
}

function summary(key: string, entry: Entry, now: number): EntrySummary {
  const { method, url } = labelOf(key);
  return {
    key,
    method,
    url,
    status: entry.status,
    bytes: entry.body.byteLength,
    age: Math.round((entry.policy.initialAge + (now - entry.createdAt) / 1000) * 10) / 10,
    freshFor: Math.round((entry.freshUntil - now) / 100) / 10,
    tags: entry.tags,
    mode: entry.policy.http ? 'http' : 'ttl',
    softEvicted: entry.softEvicted
      ? {
          staleAt: new Date(entry.softEvicted.staleAt).toISOString(),
          graceUntil: new Date(entry.softEvicted.graceUntil).toISOString(),
        }
      : null,
  };
}

/**
 * Listing and inspecting decompress no body that says it holds more than 64 MiB (none is kept: a bomb
 * planted under a key costs an operator's `ls` nothing). An instance may store larger bodies only with a
 * `storeTimeout` of 800 ms or more (4 MiB per 50 ms); those entries are left out of the listing.
 */
const OPERATOR_BODIES = new PlainBodies(0, 0, 64 * 1024 * 1024);

function decoded(key: string, value: Uint8Array | null): Entry | null {
  if (!value) return null;
  try {
    return decodeEntry(value, { entry: key, label: key }, undefined, false, OPERATOR_BODIES);
  } catch {
    return null; // a lease, a counter, a foreign or damaged value: not an entry
  }
}

/** Walk the entries under a prefix whose URL matches `match`, up to `limit`; `more` when some were left. */
export async function listEntries(
  store: RedisClient | CacheStore,
  options: ListOptions = {},
): Promise<{ entries: EntrySummary[]; more: boolean }> {
  const target = storeOf(store);
  if (!target.scan) throw new Error('this store cannot list its keys');
  const prefix = options.prefix ?? DEFAULT_PREFIX;
  const limit = options.limit ?? 100;
  const pattern = options.match ? entryPattern(prefix, options.match) : `${escapeGlob(prefix)}{*}:*:*`;
  const entries: EntrySummary[] = [];
  for await (const keys of target.scan(pattern)) {
    const values = await Promise.all(keys.map((key) => target.get(key)));
    const now = Date.now();
    for (const [i, key] of keys.entries()) {
      const entry = decoded(key, values[i] ?? null);
      if (!entry) continue;
      if (entries.length === limit) return { entries, more: true };
      entries.push(summary(key, entry, now));
    }
  }
  return { entries, more: false };
}

/**
 * The entries stored for a URL (origin and path: every method, variant and query), or for one store key
 * (a target that starts with the prefix). Empty when nothing is stored.
 */
export async function inspectEntry(
  store: RedisClient | CacheStore,
  target: string,
  options: { prefix?: string; previewChars?: number } = {},
): Promise<EntryDetails[]> {
  const source = storeOf(store);
  const prefix = options.prefix ?? DEFAULT_PREFIX;
  let keys: string[];
  if (target.startsWith(prefix)) {
    keys = [target];
  } else {
    if (!source.scan) throw new Error('this store cannot list its keys');
    const url = new URL(target);
    keys = [];
    for await (const found of source.scan(entryPattern(prefix, escapeGlob(`${url.origin}${url.pathname}`)))) {
      keys.push(...found);
    }
  }
  const values = await Promise.all(keys.map((key) => source.get(key)));
  const now = Date.now();
  const out: EntryDetails[] = [];
  const perRequest = new Map<string, number>();
  for (const key of keys) {
    const rid = key.slice(0, key.indexOf('}:'));
    perRequest.set(rid, (perRequest.get(rid) ?? 0) + 1);
  }
  for (const [i, key] of keys.entries()) {
    const entry = decoded(key, values[i] ?? null);
    if (!entry) continue;
    const single = (name: string) => {
      const value = entry.headers[name];
      return value === undefined ? null : Array.isArray(value) ? (value[0] ?? null) : value;
    };
    out.push({
      ...summary(key, entry, now),
      statusText: entry.statusText,
      headers: { ...entry.headers },
      createdAt: new Date(entry.createdAt).toISOString(),
      freshUntil: new Date(entry.freshUntil).toISOString(),
      etag: single('etag'),
      lastModified: single('last-modified'),
      varyOn: entry.vary.names,
      variants: perRequest.get(key.slice(0, key.indexOf('}:'))) ?? 1,
      preview: preview(entry, options.previewChars ?? 200),
    });
  }
  return out;
}

function preview(entry: Entry, chars: number): string {
  const { body } = entry;
  if (entry.bodyKind === 'empty' || body.byteLength === 0) return '';
  const text = Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString('utf8');
  // U+FFFD: bytes that are not UTF-8 — show the first bytes as hex instead.
  if (text.includes('\uFFFD')) return Buffer.from(body.subarray(0, Math.ceil(chars / 2))).toString('hex');
  return text.length > chars ? `${text.slice(0, chars)}…` : text;
}
