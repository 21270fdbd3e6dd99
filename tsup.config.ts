import { defineConfig } from 'tsup';

export default defineConfig({
  // The library, its OpenTelemetry entry point (`axios-redis-cache/otel`), and the operator CLI
  // (`npx axios-redis-cache`: `dist/cli.js`). Split into shared chunks, in both formats: the entry points
  // share one module state (`getCacheStats` in `otel` sees the instances `withCache` made).
  entry: { index: 'src/index.ts', otel: 'src/otel/index.ts', cli: 'src/cli/main.ts' },
  format: ['esm', 'cjs'],
  splitting: true,
  dts: { entry: { index: 'src/index.ts', otel: 'src/otel/index.ts' } },
  sourcemap: true,
  clean: true,
  target: 'node20',
  external: ['axios', 'ioredis', '@opentelemetry/api'],
});
