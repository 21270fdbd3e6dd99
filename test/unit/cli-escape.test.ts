import { describe, expect, it } from 'vitest';
import { safe, safeJson } from '../../src/cli/escape.js';

describe('CLI output escaping', () => {
  it('shows every control character as a visible escape', () => {
    expect(safe('a\u001b[2Jb\u0007c\u009bd\u202ee\r\nf')).toBe('a\\x1b[2Jb\\x07c\\x9bd\\u202ee\\r\\nf');
    expect(safe('plain text, ünïcode ✓')).toBe('plain text, ünïcode ✓');
    expect(safe(42)).toBe('42');
  });

  it('keeps JSON valid and the same value, with nothing raw', () => {
    const value = { body: '\u001b]0;x\u0007\u0085\u2066', n: 1 };
    const text = safeJson(value);
    // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what it looks for.
    expect(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u2066]/.test(text)).toBe(false);
    expect(JSON.parse(text)).toEqual(value);
  });
});
