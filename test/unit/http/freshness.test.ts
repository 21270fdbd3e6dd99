import { describe, expect, it } from 'vitest';
import {
  etagListMatches,
  notModified,
  notModifiedApplies,
  revalidationHeaders,
  updatedHeaders,
} from '../../../src/http/conditional.js';
import { formatHttpDate } from '../../../src/http/dates.js';
import { type PolicyInput, parseAge, storagePolicy } from '../../../src/http/freshness.js';

const NOW = Date.UTC(2026, 11, 1, 12, 0, 0);
const date = (offsetSeconds: number) => formatHttpDate(NOW + offsetSeconds * 1000);

function policy(headers: Record<string, string>, extra: Partial<PolicyInput> = {}) {
  return storagePolicy({
    status: 200,
    headers,
    shared: true,
    responseTime: NOW,
    fetchMs: 0,
    unkeyedAuthorization: false,
    fallbackTtl: 0,
    ...extra,
  });
}

describe('storagePolicy: freshness lifetime (RFC 9111 §4.2.1)', () => {
  it('takes s-maxage in a shared cache, then max-age, then Expires − Date, then a tenth of Last-Modified', () => {
    expect(policy({ 'cache-control': 'max-age=60, s-maxage=10' }).lifetime).toBe(10);
    expect(policy({ 'cache-control': 'max-age=60, s-maxage=10' }, { shared: false }).lifetime).toBe(60);
    expect(policy({ expires: date(30), date: date(0) }).lifetime).toBe(30);
    expect(policy({ 'last-modified': date(-1000), date: date(0) }).lifetime).toBe(100);
    expect(policy({}).lifetime).toBe(0);
    expect(policy({}, { fallbackTtl: 42 }).lifetime).toBe(42);
  });

  it('makes an invalid Expires or max-age stale at once', () => {
    expect(policy({ expires: '0', 'last-modified': date(-1000) }).lifetime).toBe(0);
    expect(policy({ 'cache-control': 'max-age=-1' }).lifetime).toBe(0);
  });

  it('gives no heuristic freshness to statuses that are not heuristically cacheable', () => {
    const created = policy({ 'last-modified': date(-1000) }, { status: 201 });
    expect(created.storable).toBe(false);
    expect(policy({ 'cache-control': 'max-age=5' }, { status: 201 }).storable).toBe(true);
  });

  it('computes the corrected initial age from Age, Date and the response delay', () => {
    expect(policy({ age: '20', 'cache-control': 'max-age=60' }, { fetchMs: 1000 }).initialAge).toBe(21);
    expect(policy({ date: date(-5), 'cache-control': 'max-age=60' }).initialAge).toBe(5);
    expect(parseAge('7200, 0')).toBe(7200);
    expect(parseAge('old')).toBeNull();
    expect(parseAge('1.5')).toBeNull();
  });
});

describe('storagePolicy: storing (RFC 9111 §3)', () => {
  it('never stores no-store, nor private or unkeyed Authorization in a shared cache', () => {
    expect(policy({ 'cache-control': 'no-store, max-age=60' }).storable).toBe(false);
    expect(policy({ 'cache-control': 'private, max-age=60' }).storable).toBe(false);
    expect(policy({ 'cache-control': 'private, max-age=60' }, { shared: false }).storable).toBe(true);
    expect(policy({ 'cache-control': 'max-age=60' }, { unkeyedAuthorization: true }).storable).toBe(false);
    expect(policy({ 'cache-control': 'public, max-age=60' }, { unkeyedAuthorization: true }).storable).toBe(true);
  });

  it('marks what must be revalidated, and reads the stale windows', () => {
    expect(policy({ 'cache-control': 'no-cache, max-age=60' })).toMatchObject({ lifetime: 0, mustRevalidate: true });
    expect(policy({ 'cache-control': 'max-age=1, proxy-revalidate' }).mustRevalidate).toBe(true);
    expect(policy({ 'cache-control': 'max-age=1, proxy-revalidate' }, { shared: false }).mustRevalidate).toBe(false);
    const windows = policy({ 'cache-control': 'max-age=1, stale-while-revalidate=30, stale-if-error=60' });
    expect(windows).toMatchObject({ staleWhileRevalidate: 30, staleIfError: 60, mustRevalidate: false });
  });

  it('omits the fields a qualified no-cache or private names', () => {
    expect(policy({ 'cache-control': 'max-age=5, no-cache="x-a", private="x-b"' }).omit).toEqual(['x-a', 'x-b']);
  });
});

describe('conditional requests', () => {
  it('sends the stored validators', () => {
    expect(revalidationHeaders({ etag: '"a"', 'last-modified': date(-10) })).toEqual({
      'if-none-match': '"a"',
      'if-modified-since': date(-10),
    });
  });

  it('compares entity tags weakly, and If-None-Match wins over If-Modified-Since', () => {
    expect(etagListMatches('W/"a", "b"', '"a"')).toBe(true);
    expect(etagListMatches('*', '"z"')).toBe(true);
    expect(etagListMatches('"b"', undefined)).toBe(false);
    const stored = { etag: '"a"', 'last-modified': date(-100) };
    expect(notModified('"x"', date(0), stored)).toBe(false);
    expect(notModified(undefined, date(0), stored)).toBe(true);
    expect(notModified(undefined, date(-200), stored)).toBe(false);
  });

  it('updates stored headers from a 304, except those describing the body; a 304 for another tag updates nothing', () => {
    const merged = updatedHeaders(
      { etag: '"a"', 'content-length': '10', 'x-old': '1', 'x-v': '1' },
      { 'content-length': '0', 'x-v': '2' },
    );
    expect(merged).toEqual({ etag: '"a"', 'content-length': '10', 'x-old': '1', 'x-v': '2' });
    expect(notModifiedApplies({ etag: '"a"' }, { etag: 'W/"a"' })).toBe(true);
    expect(notModifiedApplies({ etag: '"a"' }, { etag: '"b"' })).toBe(false);
    expect(notModifiedApplies({ etag: '"a"' }, {})).toBe(true);
  });
});
