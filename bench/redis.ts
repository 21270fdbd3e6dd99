import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';

/** A redis-server this bench started itself (no persistence), or an external one given by `REDIS_URL`. */
export interface BenchRedis {
  readonly url: string;
  readonly version: string;
  /** `true` when the bench started the server (and will stop it). */
  readonly own: boolean;
  /** A new, connected client (each contender gets its own connection). */
  connect(name: string): Promise<Redis>;
  /** CPU seconds the server has used (user + system, from INFO cpu). */
  cpuSeconds(): Promise<number>;
  /** Remove every key (between scenarios, so memory and key counts do not carry over). */
  flush(): Promise<void>;
  stop(): Promise<void>;
}

export async function startRedis(): Promise<BenchRedis> {
  const external = process.env.REDIS_URL;
  if (external) return wrap(external, null, null);
  try {
    execFileSync('redis-server', ['--version'], { stdio: 'ignore' });
  } catch {
    throw new Error(
      'redis-server is not on PATH (Debian/Ubuntu: apt-get install -y redis-server; macOS: brew install redis), ' +
        'or set REDIS_URL to a server the bench may FLUSHDB.',
    );
  }
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'arc-bench-redis-'));
  const proc = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir],
    { stdio: 'ignore' },
  );
  try {
    await waitForPing(port);
  } catch (error) {
    proc.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  return wrap(`redis://127.0.0.1:${port}`, proc, dir);
}

async function wrap(url: string, proc: ChildProcess | null, dir: string | null): Promise<BenchRedis> {
  const admin = new Redis(url, { connectionName: 'bench-admin', lazyConnect: true });
  await admin.connect();
  const info = await admin.info('server');
  const version = /redis_version:([^\r\n]+)/.exec(info)?.[1] ?? 'unknown';
  return {
    url,
    version,
    own: proc !== null,
    async connect(name) {
      const client = new Redis(url, { connectionName: name, lazyConnect: true });
      await client.connect();
      return client;
    },
    async cpuSeconds() {
      const cpu = await admin.info('cpu');
      const field = (name: string) => Number(new RegExp(`${name}:([0-9.]+)`).exec(cpu)?.[1] ?? 0);
      return field('used_cpu_sys') + field('used_cpu_user');
    },
    async flush() {
      await admin.flushdb();
    },
    async stop() {
      admin.disconnect();
      if (proc && proc.exitCode === null && proc.signalCode === null) {
        await new Promise<void>((resolve) => {
          proc.once('exit', () => resolve());
          proc.kill('SIGTERM');
        });
      }
      if (dir) rmSync(dir, { recursive: true, force: true });
    },
  };
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

async function waitForPing(port: number, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const socket = net.connect(port, '127.0.0.1');
      socket.setTimeout(500);
      socket.once('connect', () => socket.write('PING\r\n'));
      socket.once('data', (data) => {
        socket.destroy();
        resolve(data.toString().startsWith('+PONG'));
      });
      socket.once('error', () => resolve(false));
      socket.once('timeout', () => {
        socket.destroy();
        resolve(false);
      });
    });
    if (ok) return;
    if (Date.now() > deadline)
      throw new Error(`redis-server on port ${port} did not answer PING within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 25));
  }
}
