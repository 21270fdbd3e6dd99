/**
 * Text from Redis, an upstream or a publisher, made safe to print to a terminal: every control character
 * (C0, DEL, C1: escape sequences, bells, carriage returns, newlines that would forge lines) and every
 * Unicode control that reorders or hides text (bidirectional overrides and isolates, line and paragraph
 * separators, zero-width marks) is shown as a visible escape (`\x1b`, `\n`, `\u202e`), never written raw.
 * `--json` output needs none of this: JSON.stringify escapes C0 itself, and the rest is escaped too.
 */
// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what it replaces.
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]/g;

const NAMED: Readonly<Record<string, string>> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' };

function escapeOne(char: string): string {
  const named = NAMED[char];
  if (named) return named;
  const code = char.charCodeAt(0);
  return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`;
}

/** `text` with every character a terminal could act on shown as an escape. */
export function safe(text: unknown): string {
  const s = typeof text === 'string' ? text : String(text);
  UNSAFE.lastIndex = 0;
  return UNSAFE.test(s) ? s.replace(UNSAFE, escapeOne) : s;
}

/** What JSON.stringify leaves raw inside strings: DEL, C1 and the Unicode controls above (it escapes C0). */
const UNSAFE_IN_JSON = /[\u007f-\u009f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]/g;

/**
 * JSON for `--json` output, with the characters JSON leaves raw (DEL, C1, the Unicode controls above)
 * escaped as `\uXXXX` too: still the same JSON value, and safe to print.
 */
export function safeJson(value: unknown): string {
  return JSON.stringify(value, null, 2).replace(
    UNSAFE_IN_JSON,
    (char) => `\\u${char.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}
