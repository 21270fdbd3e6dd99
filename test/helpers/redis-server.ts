import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis, type RedisOptions } from 'ioredis';

/** A redis-server process this test started itself: safe to kill, pause and restart. */
export interface RedisServer {
  readonly port: number;
  readonly url: string;
  /** The server's process id (to SIGSTOP / SIGCONT it). */
  readonly pid: number;
  /** Connect a new client (the caller disconnects it). */
  client(options?: RedisOptions): Redis;
  /** SIGKILL the server and wait for it to exit. */
  kill(): Promise<void>;
  /** Start it again on the same port (after `kill`). */
  restart(): Promise<void>;
  /** Stop it for good and remove its directory. */
  stop(): Promise<void>;
}

const INSTALL_HINT =
  'redis-server is not on PATH. Install it (Debian/Ubuntu: apt-get install -y redis-server; macOS: brew install redis).';

export function redisServerAvailable(): boolean {
  try {
    execFileSync('redis-server', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

export async function freePort(): Promise<number> {
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

/** Start a private redis-server on a free port (no persistence). */
export async function startRedis(extraArgs: string[] = []): Promise<RedisServer> {
  if (!redisServerAvailable()) throw new Error(INSTALL_HINT);
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'arc-redis-'));
  let proc: ChildProcess | undefined;

  const launch = async () => {
    proc = spawn(
      'redis-server',
      ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, ...extraArgs],
      { stdio: 'ignore' },
    );
    await waitForPing(port);
  };
  const kill = async () => {
    const p = proc;
    if (!p || p.exitCode !== null || p.signalCode !== null) return;
    await new Promise<void>((resolve) => {
      p.once('exit', () => resolve());
      p.kill('SIGKILL');
    });
  };
  await launch();
  return {
    port,
    get pid() {
      return proc?.pid ?? -1;
    },
    url: `redis://127.0.0.1:${port}`,
    client: (options) => new Redis({ port, host: '127.0.0.1', ...options }),
    kill,
    restart: launch,
    stop: async () => {
      await kill();
      rmSync(dir, { recursive: true, force: true });
    },
  };
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

/** Resolve once the client reports `ready`. */
export function ready(client: Redis): Promise<void> {
  if (client.status === 'ready') return Promise.resolve();
  return new Promise((resolve) => client.once('ready', () => resolve()));
}
