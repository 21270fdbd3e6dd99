import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import { makeCertificates } from './certs.js';
import { freePort } from './redis-server.js';

/** A redis-server of the test's own that speaks only TLS (certificates made by the test). */
export interface TlsRedis {
  readonly port: number;
  /** The CA's PEM file (what clients trust). */
  readonly caFile: string;
  readonly ca: string;
  stop(): Promise<void>;
}

export async function startTlsRedis(): Promise<TlsRedis> {
  const dir = mkdtempSync(join(tmpdir(), 'arc-tls-redis-'));
  const certs = makeCertificates([]);
  const files = { cert: join(dir, 'server.pem'), key: join(dir, 'server.key'), ca: join(dir, 'ca.pem') };
  writeFileSync(files.cert, certs.server.cert);
  writeFileSync(files.key, certs.server.key);
  writeFileSync(files.ca, certs.ca);
  const port = await freePort();
  const proc: ChildProcess = spawn(
    'redis-server',
    ['--port', '0', '--tls-port', String(port), '--tls-cert-file', files.cert, '--tls-key-file', files.key]
      .concat(['--tls-ca-cert-file', files.ca, '--tls-auth-clients', 'no', '--bind', '127.0.0.1'])
      .concat(['--save', '', '--appendonly', 'no', '--dir', dir]),
    { stdio: 'ignore' },
  );
  const deadline = Date.now() + 10_000;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const socket = tls.connect({ port, host: '127.0.0.1', ca: certs.ca, servername: 'localhost' }, () =>
        socket.write('PING\r\n'),
      );
      socket.once('data', (data) => {
        socket.destroy();
        resolve(data.toString().startsWith('+PONG'));
      });
      socket.once('error', () => resolve(false));
    });
    if (ok) break;
    if (Date.now() > deadline) throw new Error('the TLS redis-server did not answer');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return {
    port,
    caFile: files.ca,
    ca: certs.ca,
    stop: async () => {
      await new Promise<void>((resolve) => {
        if (proc.exitCode !== null) return resolve();
        proc.once('exit', () => resolve());
        proc.kill('SIGKILL');
      });
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
