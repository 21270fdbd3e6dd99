import { defineConfig } from 'tsup';

export default defineConfig({
  entry: ['src/index.ts'],
  format: ['esm', 'cjs'],
  dts: true,
  sourcemap: true,
  clean: true,
  target: 'node20',
  external: ['axios', 'ioredis'],
  // Keep class and function names: every error's `name` is its class name (`CacheOptionError`, not the
  // `_CacheOptionError` the bundler would otherwise rename it to).
  keepNames: true,
});
