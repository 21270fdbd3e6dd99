import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

/** Suites that start their own redis-server processes: two cores, so their files run one at a time. */
const serverSuite = { environment: 'node', testTimeout: 30_000, hookTimeout: 30_000, fileParallelism: false } as const;

/** The Redis-dependent suites again on node-redis (the default runs are on ioredis): see test/helpers/clients.ts. */
const onNodeRedis = { env: { REDIS_CLIENT: 'node-redis' } } as const;

/** The oldest axios of the peer range (a dev dependency under its own name), in place of the newest. */
const oldestAxios = fileURLToPath(new URL('./node_modules/axios-1.19/index.js', import.meta.url));

export default defineConfig({
  test: {
    projects: [
      { test: { name: 'unit', include: ['test/unit/**/*.test.ts'], environment: 'node' } },
      { test: { name: 'integration', include: ['test/integration/**/*.test.ts'], ...serverSuite } },
      {
        test: {
          name: 'integration-node-redis',
          include: ['test/integration/**/*.test.ts'],
          ...serverSuite,
          ...onNodeRedis,
        },
      },
      // Identity beyond the credential headers, hostile stored data, the operator's terminal.
      { test: { name: 'isolation', include: ['test/isolation/**/*.test.ts'], ...serverSuite } },
      {
        test: {
          name: 'isolation-node-redis',
          include: ['test/isolation/**/*.test.ts'],
          ...serverSuite,
          ...onNodeRedis,
        },
      },
      { test: { name: 'fidelity', include: ['test/fidelity/**/*.test.ts'], ...serverSuite } },
      // The Redis column of the fidelity matrix on node-redis (the memory column does not depend on it).
      {
        test: { name: 'fidelity-node-redis', include: ['test/fidelity/**/*.test.ts'], ...serverSuite, ...onNodeRedis },
      },
      {
        // The fidelity suite again, with the library and the tests on the oldest axios the peer range allows.
        resolve: { alias: [{ find: /^axios$/, replacement: oldestAxios }] },
        test: { name: 'fidelity-axios-1.19', include: ['test/fidelity/**/*.test.ts'], ...serverSuite },
      },
      // The HTTP caching conformance suite (test/fixtures/cache-tests), against committed expected results.
      {
        test: { name: 'conformance', include: ['test/conformance/**/*.test.ts'], ...serverSuite, testTimeout: 120_000 },
      },
      {
        test: {
          name: 'conformance-node-redis',
          include: ['test/conformance/**/*.test.ts'],
          ...serverSuite,
          testTimeout: 120_000,
          ...onNodeRedis,
        },
      },
      // The published build (dist/, ESM and CJS) and its type declarations: `npm test` builds it first.
      { test: { name: 'dist', include: ['test/dist/**/*.test.ts'], ...serverSuite } },
      {
        test: {
          name: 'dist-node-redis',
          include: ['test/dist/published.test.ts', 'test/dist/cli.test.ts'],
          ...serverSuite,
          ...onNodeRedis,
        },
      },
    ],
  },
});
