/**
 * The library as users run it: the built package in dist/ (`npm run bench` builds it first), so that the
 * figures do not include tsx's on-the-fly transform of our sources (it wraps closures to keep their names,
 * which costs on a hot path). `BENCH_FROM_SRC=1` measures the TypeScript sources instead.
 */
import type * as Library from '../src/index.js';

const path = process.env.BENCH_FROM_SRC ? '../src/index.js' : '../dist/index.js';
const library = (await import(path)) as typeof Library;

export const { withCache, getCacheStats, closeCache, RedisStore } = library;
