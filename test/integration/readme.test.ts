import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { useRedisAndUpstream } from '../helpers/suite.js';

/**
 * Every `ts` code example of the README, run as it is written: each block in a process of its own (tsx),
 * with `axios-redis-cache` resolved to this checkout, `REDIS_URL` pointing at a real redis-server, and the
 * examples' hosts (`https://keys.internal`, …) answered by a real local upstream (`test/fixtures/
 * readme-network.ts` points the http adapter's transport at it). Names a block uses without defining (`redis`, `api`, `log`, `provider`, …) come from a
 * small prelude, declared only when the block does not declare them itself. A README example that stops
 * working fails here.
 */
const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const README = readFileSync(join(ROOT, 'README.md'), 'utf8');
const NETWORK = join(ROOT, 'test/fixtures/readme-network.ts');
const servers = useRedisAndUpstream();

const blocks = [...README.matchAll(/```ts\n([\s\S]*?)```/g)].map((match, i) => ({
  index: i + 1,
  line: README.slice(0, match.index).split('\n').length,
  code: match[1] as string,
}));

/** name → the prelude line that provides it. */
const PRELUDE: Record<string, string> = {
  axios: "import axios from 'axios';",
  Redis: "import { Redis } from 'ioredis';",
  withCache: "import { withCache } from 'axios-redis-cache';",
  redis: 'const redis = new Redis(process.env.REDIS_URL!); redis.on("error", () => {});',
  instance: "const instance = axios.create({ baseURL: 'https://keys.internal' });",
  api: "const api = withCache(axios.create({ baseURL: 'https://keys.internal' }), { store: redis });",
  log: 'const log = { debug: (..._: unknown[]) => {}, warn: (..._: unknown[]) => {} };',
  provider: "import { MeterProvider } from '@opentelemetry/sdk-metrics'; const provider = new MeterProvider();",
  expect:
    "import assert from 'node:assert'; const expect = (v: { length: number }) => ({ toHaveLength: (n: number) => assert.strictEqual(v.length, n) });",
};
/** Names some prelude lines need first. */
const NEEDS: Record<string, string[]> = {
  redis: ['Redis'],
  instance: ['axios'],
  api: ['axios', 'withCache', 'redis'],
};

function program(code: string): string {
  const declared = (name: string) =>
    new RegExp(
      `(const|let|function|class)\\s+(\\{[^}]*\\b${name}\\b[^}]*\\}|${name}\\b)|import[^;]*\\b${name}\\b[^;]*from`,
    ).test(code);
  const used = (name: string) => new RegExp(`(^|[^.\\w'"/-])${name}(?![\\w-])`).test(code);
  const lines: string[] = [];
  const add = (name: string) => {
    if (declared(name) || lines.includes(PRELUDE[name] as string)) return;
    for (const dependency of NEEDS[name] ?? []) add(dependency);
    lines.push(PRELUDE[name] as string);
  };
  for (const name of Object.keys(PRELUDE)) if (used(name)) add(name);
  const body = code
    .replaceAll("'axios-redis-cache/otel'", `'${join(ROOT, 'src/otel/index.ts')}'`)
    .replaceAll("'axios-redis-cache'", `'${join(ROOT, 'src/index.ts')}'`);
  const prelude = lines.join('\n').replaceAll("'axios-redis-cache'", `'${join(ROOT, 'src/index.ts')}'`);
  // Imports first (hoisted anyway), then the block; exit when it is done (clients would keep it alive).
  return `${prelude}\n${body}\nprocess.exit(0);\n`;
}

describe('README code examples', () => {
  it('finds the examples', () => {
    expect(blocks.length).toBeGreaterThanOrEqual(7);
  });

  for (const block of blocks) {
    it(`example ${block.index} (README line ${block.line}) runs`, async () => {
      const before = servers.upstream.received.length;
      servers.upstream.handle((req, res) => {
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify({ url: req.url, at: Date.now() }));
      });
      // Inside the project (git-ignored `scratch/`), so that the examples' packages resolve.
      mkdirSync(join(ROOT, 'scratch'), { recursive: true });
      const dir = mkdtempSync(join(ROOT, 'scratch', 'readme-'));
      const file = join(dir, `example-${block.index}.mts`);
      writeFileSync(file, program(block.code));
      const { stderr } = await run(process.execPath, ['--import', 'tsx', '--import', NETWORK, file], {
        cwd: ROOT,
        timeout: 30_000,
        env: {
          ...process.env,
          REDIS_URL: `redis://127.0.0.1:${servers.server.port}`,
          README_UPSTREAM: servers.upstream.url,
        },
      }).catch((error: { stderr?: string; message: string }) => {
        throw new Error(
          `README example ${block.index} (line ${block.line}) failed:\n${error.stderr ?? error.message}\n--- program ---\n${program(block.code)}`,
        );
      });
      rmSync(dir, { recursive: true, force: true });
      expect(stderr).not.toMatch(/Error|Unhandled/);
      // The usage example's requests reached the upstream as the cache let them: 3 of its 5 GETs.
      if (block.code.includes("api.get('/time', { cache: false })")) {
        expect(servers.upstream.received.slice(before).map((r) => r.url)).toEqual([
          'https://keys.internal/domains/example.com/dkim',
          'https://keys.internal/domains/example.org/dkim',
          'https://keys.internal/time',
        ]);
      }
    }, 40_000);
  }
});
