import { randomInt } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { escapeGlob, globToRegExp } from '../../src/stores/glob.js';

/** [pattern, matching strings, non-matching strings] as Redis' stringmatchlen judges them. */
const CASES: [string, string[], string[]][] = [
  ['*', ['', 'a', 'anything:at{all}'], []],
  ['a*', ['a', 'abc', 'a\nb'], ['', 'ba', 'A']],
  ['*b', ['b', 'ab', 'a:b'], ['ba', '']],
  ['a*c', ['ac', 'abc', 'a*c', 'abbbc'], ['ab', 'acd']],
  ['a?c', ['abc', 'a?c', 'a c', 'a\nc'], ['ac', 'abbc']],
  ['??', ['ab', '**'], ['a', 'abc']],
  ['[abc]', ['a', 'b', 'c'], ['d', '', 'ab', '[']],
  ['x[abc]y', ['xay', 'xcy'], ['xdy', 'xy']],
  ['[^a]', ['b', 'z', '^'], ['a', '']],
  ['[^ab]x', ['cx'], ['ax', 'bx', 'x']],
  ['[a-c]', ['a', 'b', 'c'], ['d', '-', '`']],
  ['[0-9][0-9]', ['00', '42', '99'], ['4a', '4']],
  ['\\*', ['*'], ['a', '', '\\*']],
  ['a\\*b', ['a*b'], ['ab', 'axb', 'a\\*b']],
  ['\\?', ['?'], ['a']],
  ['\\[a\\]', ['[a]'], ['a']],
  ['\\\\', ['\\'], ['\\\\', '']],
  ['a.b', ['a.b'], ['axb']],
  ['(a|b)+$^', ['(a|b)+$^'], ['a', 'ab']],
  ['{tag}:*', ['{tag}:x'], ['tag:x']],
];

describe('globToRegExp', () => {
  it.each(CASES)('%s', (pattern, matching, nonMatching) => {
    const re = globToRegExp(pattern);
    for (const s of matching) expect(re.test(s), `${pattern} should match ${JSON.stringify(s)}`).toBe(true);
    for (const s of nonMatching) expect(re.test(s), `${pattern} should not match ${JSON.stringify(s)}`).toBe(false);
  });

  // Bug (src/stores/glob.ts globToRegExp, `pattern.indexOf(']', i + 1)`): the class ends at the first `]` even
  // when it is escaped. Redis (util.c stringmatchlen) treats `\]` inside a class as a literal `]`, so `[\]x]`
  // is the class {']', 'x'}.
  it('treats an escaped ] inside a class as a literal, like Redis', () => {
    const re = globToRegExp('[\\]x]');
    expect(re.test(']')).toBe(true);
    expect(re.test('x')).toBe(true);
    expect(re.test('\\')).toBe(false);
  });

  // Bug (same function): a reversed range `[c-a]` is copied into the RegExp, which throws "Range out of order";
  // Redis swaps the bounds and matches a, b, c.
  it('accepts a reversed range like Redis', () => {
    const re = globToRegExp('[c-a]');
    expect(re.test('b')).toBe(true);
  });

  it('is anchored at both ends', () => {
    expect(globToRegExp('b').test('abc')).toBe(false);
    expect(globToRegExp('app:*').test('x:app:1')).toBe(false);
  });
});

describe('escapeGlob', () => {
  const specials = ['*', '?', '[', ']', '\\', '[a-z]', '[^x]', 'a*b?c[d]e\\f', 'svc:{x}*', '\\*', ''];

  it.each(specials)('escapeGlob(%j) matches exactly itself', (literal) => {
    const re = globToRegExp(escapeGlob(literal));
    expect(re.test(literal)).toBe(true);
    for (const other of [`${literal}x`, `x${literal}`, literal.slice(1), 'a', 'ab']) {
      if (other !== literal) expect(re.test(other), JSON.stringify(other)).toBe(false);
    }
  });

  it('keeps a prefix glob to keys that start with the literal prefix', () => {
    const re = globToRegExp(`${escapeGlob('cache[1]*:')}*`);
    expect(re.test('cache[1]*:{abc}:x')).toBe(true);
    expect(re.test('cache1x:{abc}:x')).toBe(false);
    expect(re.test('cache[1]anything:{abc}')).toBe(false);
  });

  it('matches exactly the escaped string for random strings made of special characters', () => {
    const alphabet = '*?[]\\^-ab:{}';
    for (let i = 0; i < 500; i++) {
      let literal = '';
      for (let n = randomInt(0, 12); n > 0; n--) literal += alphabet[randomInt(0, alphabet.length)];
      const re = globToRegExp(escapeGlob(literal));
      if (!re.test(literal)) throw new Error(`${JSON.stringify(literal)} does not match its own escape`);
      if (re.test(`${literal}a`) || re.test(`a${literal}`)) throw new Error(`${JSON.stringify(literal)} matches more`);
    }
  });
});
