import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);

describe('no leaks under a mix of hits, misses, errors, aborts and timeouts', () => {
  it('ends with an empty in-flight map and a flat heap (scripts/soak.ts)', async () => {
    // 30,000 requests after a 20,000-request warm-up; `npm run soak` runs 200,000.
    const { stdout } = await run(
      process.execPath,
      ['--expose-gc', '--import', 'tsx', 'scripts/soak.ts', '--requests', '30000', '--max-growth-mb', '4'],
      { cwd: new URL('../..', import.meta.url).pathname, timeout: 60_000 },
    ).catch((error: { stdout?: string; stderr?: string }) => {
      throw new Error(`soak failed:\n${error.stdout ?? ''}${error.stderr ?? ''}`);
    });
    expect(stdout).toMatch(/in-flight at end 0;/);
  }, 90_000);
});
