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
      const close = pattern.indexOf(']', i + 1);
      if (close === -1) {
        source += '\\[';
        continue;
      }
      let body = pattern.slice(i + 1, close);
      const negate = body.startsWith('^');
      if (negate) body = body.slice(1);
      source += `[${negate ? '^' : ''}${body.replace(/[\\\]]/g, '\\$&')}]`;
      i = close;
    } else {
      source += escapeRegExp(ch);
    }
  }
  return new RegExp(`^${source}$`);
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}
