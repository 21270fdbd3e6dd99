import { describe, expect, it } from 'vitest';
import { deltaSeconds, listedFields, parseDirectives } from '../../../src/http/cache-control.js';
import { parseHttpDate } from '../../../src/http/dates.js';
import { requestDirectives } from '../../../src/http/request-directives.js';

describe('parseDirectives', () => {
  it('reads names case-insensitively, values as tokens or quoted strings, several lines', () => {
    const d = parseDirectives(['Max-Age=60, no-cache="set-cookie, x-a"', 'PUBLIC']);
    expect(d.get('max-age')).toBe('60');
    expect(d.get('no-cache')).toBe('set-cookie, x-a');
    expect(d.get('public')).toBe(true);
  });

  it('does not split inside a quoted string, and keeps the first of a directive given twice', () => {
    const d = parseDirectives('foo="max-age=3600, bar", max-age=0, max-age=100');
    expect(d.get('foo')).toBe('max-age=3600, bar');
    expect(d.get('max-age')).toBe('0');
  });

  it('treats malformed delta-seconds as present but invalid (-1), caps huge values at 2^31', () => {
    expect(deltaSeconds(parseDirectives("max-age='60'"), 'max-age')).toBe(-1);
    expect(deltaSeconds(parseDirectives('max-age=-1'), 'max-age')).toBe(-1);
    expect(deltaSeconds(parseDirectives('max-age'), 'max-age')).toBe(-1);
    expect(deltaSeconds(parseDirectives('max-age=99999999999'), 'max-age')).toBe(2 ** 31);
    expect(deltaSeconds(parseDirectives('s-maxage=5'), 'max-age')).toBeNull();
  });

  it('lists the fields of a qualified no-cache / private', () => {
    expect(listedFields(parseDirectives('private="X-User, Set-Cookie"'), 'private')).toEqual(['x-user', 'set-cookie']);
    expect(listedFields(parseDirectives('private'), 'private')).toBeNull();
  });
});

describe('parseHttpDate', () => {
  const when = Date.UTC(1994, 10, 6, 8, 49, 37);
  it('accepts the three forms of RFC 9110', () => {
    expect(parseHttpDate('Sun, 06 Nov 1994 08:49:37 GMT')).toBe(when);
    expect(parseHttpDate('Sunday, 06-Nov-94 08:49:37 GMT', Date.UTC(2026, 0, 1))).toBe(when);
    expect(parseHttpDate('Sun Nov  6 08:49:37 1994')).toBe(when);
  });

  it('refuses everything else', () => {
    for (const bad of [
      '0',
      'Thu, 18 Aug 2050 02:01:18 UTC',
      'Thu, 18 Aug 50 02:01:18 GMT',
      'Thu 18 Aug 2050 02:01:18 GMT',
      'Thu, 18  Aug  2050 02:01:18 GMT',
      'Thu, 18-Aug-2050 02:01:18 GMT',
      'Thu, 18 Aug 2050 02.01.18 GMT',
      'Thu, 18 Aug 2050 2:01:18 GMT',
      'Thu, 18 Foo 2050 02:01:18 GMT',
    ]) {
      expect(parseHttpDate(bad), bad).toBeNull();
    }
    expect(parseHttpDate(['Sun, 06 Nov 1994 08:49:37 GMT', 'Sun, 06 Nov 1994 08:49:38 GMT'])).toBeNull();
  });
});

describe('requestDirectives', () => {
  it('is null when the request asks nothing but no-cache / no-store', () => {
    expect(requestDirectives('no-cache')).toBeNull();
  });

  it('reads max-age, min-fresh, max-stale (with or without a value), only-if-cached', () => {
    expect(requestDirectives('max-age=5, min-fresh=2')).toMatchObject({ maxAge: 5, minFresh: 2, maxStale: null });
    expect(requestDirectives('max-stale')?.maxStale).toBe(Number.POSITIVE_INFINITY);
    expect(requestDirectives('max-stale=30')?.maxStale).toBe(30);
    expect(requestDirectives('only-if-cached')?.onlyIfCached).toBe(true);
    expect(requestDirectives('max-age=oops')?.maxAge).toBe(0); // malformed: the strictest reading
  });
});
