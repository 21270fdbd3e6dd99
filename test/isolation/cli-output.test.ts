import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import axios from 'axios';
import { beforeAll, describe, expect, it } from 'vitest';
import { withCache } from '../../src/index.js';
import { entryBytes } from '../helpers/entries.js';
import { useRedisAndUpstream } from '../helpers/suite.js';

/**
 * The operator's terminal: the CLI (`node dist/cli.js`, a child process) run on entries, tags, keys,
 * status texts, header names, instance ids and published messages full of ESC, BEL and C1 bytes. Human
 * output must hold none of them raw (each is shown as an escape), and `--json` stays valid JSON.
 */
const CLI = fileURLToPath(new URL('../../dist/cli.js', import.meta.url));
const servers = useRedisAndUpstream();
const prefix = 'hostile:';

/** ESC ] 0 ; title BEL (sets the window title), ESC [ 2 J (clears the screen), CSI as one C1 byte, a bidi override. */
const HOSTILE = '\u001b]0;pwned\u0007\u001b[2J\u009b31m\u202egnp.exe\r\n';

/** What a terminal could act on: C0 controls but the newline that ends each line, DEL, C1, bidi controls. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what it looks for.
const RAW = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/;

function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [CLI, ...args, '--redis', `redis://127.0.0.1:${servers.server.port}`, '--prefix', prefix],
      { timeout: 20_000, encoding: 'utf8' },
      (error, stdout, stderr) =>
        resolve({ code: error ? Number((error as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

describe('the CLI on hostile stored data', () => {
  let plantedKey: string;

  beforeAll(async () => {
    // An ordinary upstream answer whose body is hostile text: stored by a real fill.
    servers.upstream.handle((_req, res) => {
      res.setHeader('content-type', 'text/plain');
      res.end(`statement ${HOSTILE} end`);
    });
    const api = withCache(axios.create({ baseURL: servers.upstream.url }), {
      store: await servers.store(),
      prefix,
      fleetStats: false,
    });
    await api.get('/statement');
    // Planted values: a crafted key, status text, header names and values, tags.
    const admin = await servers.client();
    plantedKey = `${prefix}{planted0000000000000000}:_:GET http://evil.example/${HOSTILE}`;
    const value = entryBytes(plantedKey, {
      statusText: `OK ${HOSTILE}`,
      headers: { [`x-${HOSTILE}`]: HOSTILE, etag: `"${HOSTILE}"` },
      tags: [HOSTILE, `tag\n${HOSTILE}`],
      body: Buffer.from(HOSTILE),
    });
    await admin.set(plantedKey, value, 'PX', 60_000);
    // An instance report with a hostile id.
    await admin.set(
      `${prefix}{stats}:instance:x`,
      JSON.stringify({ id: HOSTILE, breaker: HOSTILE, writeBreaker: 'closed', l1: 'off', at: Date.now() }),
      'PX',
      60_000,
    );
  });

  it.each([
    ['ls', ['ls']],
    ['inspect a URL', ['inspect', `${'http://127.0.0.1'}`]],
    ['inspect the planted key', ['inspect', 'KEY']],
    ['stats', ['stats']],
  ])('%s: nothing raw reaches the terminal, every hostile character shown escaped', async (_, args) => {
    const resolved = args.map((a) => (a === 'KEY' ? plantedKey : a));
    if (resolved[0] === 'inspect' && resolved[1]?.startsWith('http')) resolved[1] = `${servers.upstream.url}/statement`;
    const { stdout, stderr } = await cli(resolved);
    expect(stdout.length).toBeGreaterThan(0);
    expect(RAW.test(stdout), JSON.stringify(stdout)).toBe(false);
    expect(RAW.test(stderr), JSON.stringify(stderr)).toBe(false);
    expect(stdout).toMatch(/\\x1b/); // shown, not hidden
    const json = await cli([...resolved, '--json']);
    expect(RAW.test(json.stdout)).toBe(false);
    expect(() => JSON.parse(json.stdout)).not.toThrow();
  });

  it('tail: a hostile PUBLISH is printed escaped', async () => {
    const admin = await servers.client();
    const tailing = cli(['tail', '--for', '4000']);
    // Published once the CLI is subscribed (the server counts its subscription), however slow its start.
    for (let i = 0; i < 200; i++) {
      const [, subscribers] = (await admin.call('PUBSUB', 'NUMSUB', `${prefix}invalidate`)) as [string, number];
      if (subscribers > 0) break;
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
    await admin.publish(`${prefix}invalidate`, `${HOSTILE}\n${plantedKey}\n^${prefix}{x}\t${HOSTILE}`);
    const { stdout } = await tailing;
    expect(stdout).toMatch(/write/);
    expect(RAW.test(stdout), JSON.stringify(stdout)).toBe(false);
  });
});
