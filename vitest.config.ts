import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

/** Suites that start their own redis-server processes: two cores, so their files run one at a time. */
const serverSuite = { environment: 'node', testTimeout: 30_000, hookTimeout: 30_000, fileParallelism: false } as const;

/** The oldest axios of the peer range (a dev dependency under its own name), in place of the newest. */
const oldestAxios = fileURLToPath(new URL('./node_modules/axios-1.19/index.js', import.meta.url));

export default defineConfig({
  test: {
    projects: [
      { test: { name: 'unit', include: ['test/unit/**/*.test.ts'], environment: 'node' } },
      { test: { name: 'integration', include: ['test/integration/**/*.test.ts'], ...serverSuite } },
      { test: { name: 'fidelity', include: ['test/fidelity/**/*.test.ts'], ...serverSuite } },
      {
        // The fidelity suite again, with the library and the tests on the oldest axios the peer range allows.
        resolve: { alias: [{ find: /^axios$/, replacement: oldestAxios }] },
        test: { name: 'fidelity-axios-1.19', include: ['test/fidelity/**/*.test.ts'], ...serverSuite },
      },
      // The HTTP caching conformance suite (test/fixtures/cache-tests), against committed expected results.
      {
        test: { name: 'conformance', include: ['test/conformance/**/*.test.ts'], ...serverSuite, testTimeout: 120_000 },
      },
      // The published build (dist/, ESM and CJS) and its type declarations: `npm test` builds it first.
      { test: { name: 'dist', include: ['test/dist/**/*.test.ts'], ...serverSuite } },
    ],
  },
});
