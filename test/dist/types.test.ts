import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);
const tsc = fileURLToPath(new URL('../../node_modules/typescript/bin/tsc', import.meta.url));
const project = (name: string) => fileURLToPath(new URL(`../types/${name}`, import.meta.url));

/**
 * test/types/usage.ts against the published declarations, with `skipLibCheck: false` and an ioredis that
 * exports nothing: a cached instance is an AxiosInstance, `cache` type-checks on every config type, and
 * the declarations need no ioredis. On the newest axios (the dev dependency) and the oldest of the range.
 */
describe('published type declarations', () => {
  it.each([
    ['the newest axios', 'tsconfig.json'],
    ['axios 1.19 (the oldest of the peer range)', 'tsconfig.axios-1.19.json'],
  ])(
    'compile with %s and without ioredis',
    async (_, config) => {
      const result = await run(process.execPath, [tsc, '-p', project(config)]).then(
        () => ({ ok: true, output: '' }),
        (error: { stdout?: string; stderr?: string }) => ({ ok: false, output: `${error.stdout}${error.stderr}` }),
      );
      expect(result.output).toBe('');
      expect(result.ok).toBe(true);
    },
    60_000,
  );
});
