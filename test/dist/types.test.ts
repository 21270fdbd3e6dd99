import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);
const tsc = fileURLToPath(new URL('../../node_modules/typescript/bin/tsc', import.meta.url));
const project = (name: string) => fileURLToPath(new URL(`../types/${name}`, import.meta.url));

/**
 * test/types/usage.ts against the published declarations, with `skipLibCheck: false` and an ioredis and a
 * redis that export nothing: a cached instance is an AxiosInstance, `cache` type-checks on every config
 * type, and the declarations need no client library. On the newest axios (the dev dependency) and the
 * oldest of the range. test/types/clients.ts: every client of both libraries is a `store` without a cast.
 */
describe('published type declarations', () => {
  it.each([
    ['the newest axios, without ioredis or redis', 'tsconfig.json'],
    ['axios 1.19 (the oldest of the peer range), without ioredis or redis', 'tsconfig.axios-1.19.json'],
    ['node-redis and ioredis clients of every kind as store, without a cast', 'tsconfig.clients.json'],
  ])(
    'compile with %s',
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
