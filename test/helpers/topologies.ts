import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Cluster, Redis } from 'ioredis';
import { redisServerAvailable } from './redis-server.js';

const run = promisify(execFile);

interface Proc {
  port: number;
  child: ChildProcess;
}

async function isFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/** Free ports whose cluster bus port (port + 10000) is free too. */
async function freePorts(count: number): Promise<number[]> {
  const ports: number[] = [];
  while (ports.length < count) {
    const port = 20_000 + Math.floor(Math.random() * 30_000);
    if (ports.includes(port)) continue;
    if ((await isFree(port)) && (await isFree(port + 10_000))) ports.push(port);
  }
  return ports;
}

async function waitFor(check: () => Promise<boolean>, what: string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check().catch(() => false)) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
}

async function ping(port: number): Promise<boolean> {
  const { stdout } = await run('redis-cli', ['-p', String(port), 'PING']);
  return stdout.trim() === 'PONG';
}

function launch(args: string[], dir: string): ChildProcess {
  return spawn('redis-server', [...args, '--dir', dir, '--save', '', '--appendonly', 'no', '--bind', '127.0.0.1'], {
    stdio: 'ignore',
  });
}

function killAll(procs: Proc[]): void {
  for (const p of procs) if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
}

function assertRedis(): void {
  if (!redisServerAvailable()) {
    throw new Error('redis-server is not on PATH. Install it (Debian/Ubuntu: apt-get install -y redis-server).');
  }
}

/** A Redis Cluster of `masters` masters (no replicas) this test started itself. */
export interface TestCluster {
  readonly ports: number[];
  /** A new ioredis Cluster client (the caller disconnects it). */
  client(): Cluster;
  /** A direct client to one master. */
  node(port: number): Redis;
  /** SIGKILL the master on `port`. */
  kill(port: number): void;
  stop(): Promise<void>;
}

export async function startCluster(masters = 3): Promise<TestCluster> {
  assertRedis();
  const ports = await freePorts(masters);
  const dir = mkdtempSync(join(tmpdir(), 'arc-cluster-'));
  const procs: Proc[] = ports.map((port) => ({
    port,
    child: launch(
      [
        '--port',
        String(port),
        '--cluster-enabled',
        'yes',
        '--cluster-config-file',
        `nodes-${port}.conf`,
        '--cluster-node-timeout',
        '2000',
      ],
      dir,
    ),
  }));
  try {
    for (const port of ports) await waitFor(() => ping(port), `cluster node ${port}`);
    await run('redis-cli', [
      '--cluster',
      'create',
      ...ports.map((p) => `127.0.0.1:${p}`),
      '--cluster-replicas',
      '0',
      '--cluster-yes',
    ]);
    for (const port of ports) {
      await waitFor(async () => {
        const { stdout } = await run('redis-cli', ['-p', String(port), 'CLUSTER', 'INFO']);
        return stdout.includes('cluster_state:ok');
      }, `cluster state ok on ${port}`);
    }
  } catch (error) {
    killAll(procs);
    throw error;
  }
  return {
    ports,
    client: () => new Cluster(ports.map((port) => ({ host: '127.0.0.1', port }))),
    node: (port) => new Redis(port, '127.0.0.1'),
    kill: (port) => killAll(procs.filter((p) => p.port === port)),
    stop: async () => {
      killAll(procs);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** One master, one replica and one sentinel (quorum 1) this test started itself. */
export interface TestSentinel {
  readonly masterName: string;
  readonly sentinelPort: number;
  readonly masterPort: number;
  readonly replicaPort: number;
  /** An ioredis client in Sentinel mode. */
  client(): Redis;
  killMaster(): void;
  stop(): Promise<void>;
}

export async function startSentinel(): Promise<TestSentinel> {
  assertRedis();
  const [masterPort, replicaPort, sentinelPort] = (await freePorts(3)) as [number, number, number];
  const dir = mkdtempSync(join(tmpdir(), 'arc-sentinel-'));
  const masterName = 'arcmaster';
  const master: Proc = { port: masterPort, child: launch(['--port', String(masterPort)], dir) };
  const replica: Proc = {
    port: replicaPort,
    child: launch(['--port', String(replicaPort), '--replicaof', '127.0.0.1', String(masterPort)], dir),
  };
  const conf = join(dir, 'sentinel.conf');
  writeFileSync(
    conf,
    [
      `port ${sentinelPort}`,
      'bind 127.0.0.1',
      `dir ${dir}`,
      `sentinel monitor ${masterName} 127.0.0.1 ${masterPort} 1`,
      `sentinel down-after-milliseconds ${masterName} 500`,
      `sentinel failover-timeout ${masterName} 3000`,
      `sentinel parallel-syncs ${masterName} 1`,
      '',
    ].join('\n'),
  );
  const sentinel: Proc = {
    port: sentinelPort,
    child: spawn('redis-server', [conf, '--sentinel'], { stdio: 'ignore' }),
  };
  const procs = [master, replica, sentinel];
  try {
    await waitFor(() => ping(masterPort), 'sentinel master');
    await waitFor(async () => {
      const { stdout } = await run('redis-cli', ['-p', String(replicaPort), 'INFO', 'replication']);
      return stdout.includes('master_link_status:up');
    }, 'replica in sync');
    await waitFor(async () => {
      const { stdout } = await run('redis-cli', ['-p', String(sentinelPort), 'SENTINEL', 'replicas', masterName]);
      return stdout.includes(String(replicaPort));
    }, 'sentinel sees the replica');
  } catch (error) {
    killAll(procs);
    throw error;
  }
  return {
    masterName,
    sentinelPort,
    masterPort,
    replicaPort,
    client: () => new Redis({ sentinels: [{ host: '127.0.0.1', port: sentinelPort }], name: masterName }),
    killMaster: () => master.child.kill('SIGKILL'),
    stop: async () => {
      killAll(procs);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
