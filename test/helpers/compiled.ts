import { randomUUID } from 'node:crypto';
import { mkdirSync, renameSync } from 'node:fs';
import { basename } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildSync } from 'esbuild';

/** Under the project's node_modules, so that the bundle's package imports resolve to the project's packages. */
const OUT_DIR = fileURLToPath(new URL('../../node_modules/.cache/axios-redis-cache-tests/', import.meta.url));

const built = new Map<string, string>();

/**
 * A TypeScript fixture compiled once per test process into one ES module run by plain `node`: the test's
 * own code bundled (packages left to Node's resolution), so a spawned replica starts in about a third of
 * the time it takes under `--import tsx`, which hooks every module it loads. Written under a temporary name
 * and renamed, so suites that compile the same fixture at once never read a half-written file.
 */
export function compiledFixture(source: string): string {
  const done = built.get(source);
  if (done) return done;
  mkdirSync(OUT_DIR, { recursive: true });
  const out = `${OUT_DIR}${basename(source, '.ts')}.mjs`;
  const temporary = `${out}.${randomUUID()}.tmp`;
  buildSync({
    entryPoints: [source],
    outfile: temporary,
    bundle: true,
    packages: 'external',
    platform: 'node',
    format: 'esm',
    target: 'node20',
    logLevel: 'warning',
  });
  renameSync(temporary, out);
  built.set(source, out);
  return out;
}
