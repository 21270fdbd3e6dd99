import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);
const dist = fileURLToPath(new URL('../../dist/index.js', import.meta.url));

/** Three requests (miss, hit, bypass) through the published build, in a child process with `env`. */
const SCRIPT = `
import axios, { AxiosHeaders } from 'axios';
const { withCache } = await import(${JSON.stringify(dist)});
const adapter = async (config) => ({ data: '{"a":1}', status: 200, statusText: 'OK', headers: new AxiosHeaders(), config, request: {} });
const api = withCache(axios.create({ baseURL: 'https://keys.internal', adapter }));
await api.get('/domains/example.com/dkim?token=secret', { headers: { Authorization: 'Bearer alice' } });
await api.get('/domains/example.com/dkim?token=secret', { headers: { Authorization: 'Bearer alice' } });
await api.get('/time', { cache: false });
`;

/** The same, with a subscriber on the tracing channel (as `instrumentCache()` or an APM adds one). */
const SUBSCRIBED = `
import diagnosticsChannel from 'node:diagnostics_channel';
const seen = [];
diagnosticsChannel.tracingChannel('axios-redis-cache:request').subscribe({ asyncEnd: (c) => seen.push(c.status) });
${SCRIPT}
if (seen.length !== 3) throw new Error('the subscriber saw ' + seen.length);
`;

async function stderrWith(env: Record<string, string>, script = SCRIPT): Promise<string> {
  const { stderr } = await run(process.execPath, ['--input-type=module', '-e', script], {
    env: { ...process.env, NODE_DEBUG: '', ...env },
    cwd: fileURLToPath(new URL('../..', import.meta.url)),
  });
  return stderr;
}

describe('NODE_DEBUG=axios-redis-cache', () => {
  it('prints one line per request: status, method and URL without the query, age, time', async () => {
    const lines = (await stderrWith({ NODE_DEBUG: 'axios-redis-cache' })).trim().split('\n');
    expect(lines).toHaveLength(3);
    expect(lines[0]).toMatch(
      /^AXIOS-REDIS-CACHE \d+: miss GET https:\/\/keys\.internal\/domains\/example\.com\/dkim age=\S+ from=upstream store=\S+ms lease=\S+ms \S+ms$/,
    );
    expect(lines[1]).toMatch(/: hit GET https:\/\/keys\.internal\/domains\/example\.com\/dkim age=\S+ from=store /);
    expect(lines[2]).toMatch(/: bypass GET /);
    for (const line of lines) {
      expect(line).not.toContain('secret');
      expect(line).not.toContain('alice');
    }
  });

  it('prints them whatever else subscribes to the tracing channel', async () => {
    const lines = (await stderrWith({ NODE_DEBUG: 'axios-redis-cache' }, SUBSCRIBED)).trim().split('\n');
    expect(lines).toHaveLength(3);
    expect(lines[1]).toMatch(
      /: hit GET https:\/\/keys\.internal\/domains\/example\.com\/dkim age=\S+ from=store store=/,
    );
  });

  it('prints nothing otherwise', async () => {
    expect(await stderrWith({})).toBe('');
  });
});
