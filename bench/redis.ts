import { Redis } from 'ioredis';
import { type RedisServer, startRedis as startPrivateRedis } from '../test/helpers/redis-server.js';

/** A redis-server this bench started itself (no persistence), or an external one given by `REDIS_URL`. */
export interface BenchRedis {
  readonly url: string;
  readonly version: string;
  /** `true` when the bench started the server (and will stop it). */
  readonly own: boolean;
  /** A new, connected client (each contender gets its own connection). */
  connect(name: string): Promise<Redis>;
  /** The server's process id (from INFO server). */
  readonly pid: number;
  /** CPU seconds the server has used (user + system, from INFO cpu). */
  cpuSeconds(): Promise<number>;
  /** Remove every key (between scenarios, so memory and key counts do not carry over). */
  flush(): Promise<void>;
  stop(): Promise<void>;
}

export async function startRedis(): Promise<BenchRedis> {
  const external = process.env.REDIS_URL;
  if (external) return wrap(external, null);
  // The same private-server launcher as the tests (free port, no persistence, its own directory).
  const server = await startPrivateRedis();
  return wrap(server.url, server);
}

async function wrap(url: string, server: RedisServer | null): Promise<BenchRedis> {
  const admin = new Redis(url, { connectionName: 'bench-admin', lazyConnect: true });
  await admin.connect();
  const info = await admin.info('server');
  const version = /redis_version:([^\r\n]+)/.exec(info)?.[1] ?? 'unknown';
  const pid = Number(/process_id:(\d+)/.exec(info)?.[1] ?? 0);
  return {
    url,
    version,
    pid,
    own: server !== null,
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
      await server?.stop();
    },
  };
}
