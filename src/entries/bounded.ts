/**
 * Make room in a full in-process memo (a Map or a Set) by forgetting the older half of what it holds, in
 * the order it was added, rather than all of it: what was added lately — the keys of the URLs requested
 * now — keeps its cached work. Amortized: one pass over half the entries per half-fill.
 */
export function forgetOlderHalf(memo: {
  readonly size: number;
  keys(): IterableIterator<string>;
  delete(key: string): boolean;
}): void {
  let drop = memo.size >> 1;
  for (const key of memo.keys()) {
    if (drop-- <= 0) break;
    memo.delete(key);
  }
}
