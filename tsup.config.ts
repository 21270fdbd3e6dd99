import { defineConfig } from 'tsup';

export default defineConfig({
  // The library, its OpenTelemetry entry point (`axios-redis-cache/otel`), and the operator CLI
  // (`npx axios-redis-cache`: `dist/cli.js`). The entry points share the cached instances' state through a
  // process-wide registry (see `with-cache.ts`), whichever build loaded them.
  entry: { index: 'src/index.ts', otel: 'src/otel/index.ts', cli: 'src/cli/main.ts' },
  format: ['esm', 'cjs'],
  dts: { entry: { index: 'src/index.ts', otel: 'src/otel/index.ts' } },
  sourcemap: true,
  clean: true,
  target: 'node20',
  // `import.meta.url` in the CommonJS build too (the axios-copy lookup resolves from this file).
  shims: true,
  external: ['axios', 'ioredis', 'redis', '@opentelemetry/api'],
});
