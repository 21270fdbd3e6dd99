/** Redis glob helpers shared by the stores and eviction. */

const GLOB_SPECIAL = /[*?[\]\\]/g;

/** Escape a literal string so that it matches only itself in a Redis glob pattern. */
export function escapeGlob(literal: string): string {
  return literal.replace(GLOB_SPECIAL, '\\$&');
}

/** Compile a Redis glob pattern (`*`, `?`, `[abc]`, `[^a]`, `[a-z]`, `\x`) to an anchored RegExp. */
export function globToRegExp(pattern: string): RegExp {
  let source = '';
  for (let i = 0; i < pattern.length; i++) {
    const ch = pattern[i] as string;
    if (ch === '\\' && i + 1 < pattern.length) {
      source += escapeRegExp(pattern[++i] as string);
    } else if (ch === '*') {
      source += '[\\s\\S]*';
    } else if (ch === '?') {
      source += '[\\s\\S]';
    } else if (ch === '[') {
      const parsed = characterClass(pattern, i + 1);
      if (!parsed) {
        source += '\\[';
        continue;
      }
      source += parsed.source;
      i = parsed.end;
    } else {
      source += escapeRegExp(ch);
    }
  }
  return new RegExp(`^${source}$`);
}

/**
 * A `[...]` class starting after the `[` at `start`, as Redis reads it: `^` negates, `\\x` is a literal x
 * (also `]`), `a-z` is a range whose bounds may come in either order. `null` when there is no closing `]`.
 */
function characterClass(pattern: string, start: number): { source: string; end: number } | null {
  let i = start;
  let negate = false;
  if (pattern[i] === '^') {
    negate = true;
    i++;
  }
  let body = '';
  const take = (): string => {
    let c = pattern[i] as string;
    if (c === '\\' && i + 1 < pattern.length) c = pattern[++i] as string;
    i++;
    return c;
  };
  while (i < pattern.length && pattern[i] !== ']') {
    const from = take();
    if (pattern[i] === '-' && i + 1 < pattern.length && pattern[i + 1] !== ']') {
      i++;
      const to = take();
      const [lo, hi] = from <= to ? [from, to] : [to, from];
      body += `${escapeClassChar(lo)}-${escapeClassChar(hi)}`;
    } else {
      body += escapeClassChar(from);
    }
  }
  if (i >= pattern.length) return null;
  return { source: `[${negate ? '^' : ''}${body}]`, end: i };
}

function escapeClassChar(c: string): string {
  return /[\\\]^[-]/.test(c) ? `\\${c}` : c;
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}
