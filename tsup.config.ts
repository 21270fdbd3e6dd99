import { defineConfig } from 'tsup';

export default defineConfig({
  // The library, and the operator CLI (`npx axios-redis-cache`: `dist/cli.js`).
  entry: { index: 'src/index.ts', cli: 'src/cli/main.ts' },
  format: ['esm', 'cjs'],
  dts: { entry: { index: 'src/index.ts' } },
  sourcemap: true,
  clean: true,
  target: 'node20',
  external: ['axios', 'ioredis'],
});
