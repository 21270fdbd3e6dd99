import { Redis } from 'ioredis';
import { createClient, type RedisClientType } from 'redis';
import { type RedisServer, startRedis as startPrivateRedis } from '../test/helpers/redis-server.js';

/** A redis-server this bench started itself (no persistence), or an external one given by `REDIS_URL`. */
export interface BenchRedis {
  readonly url: string;
  readonly version: string;
  /** `true` when the bench started the server (and will stop it). */
  readonly own: boolean;
  /** A new, connected client (each contender gets its own connection). */
  connect(name: string): Promise<Redis>;
  /** A new, connected node-redis (`redis`) client. */
  connectNodeRedis(name: string): Promise<RedisClientType>;
  /** The server's process id (from INFO server). */
  readonly pid: number;
  /** CPU seconds the server has used (user + system, from INFO cpu). */
  cpuSeconds(): Promise<number>;
  /** Remove every key (between scenarios, so memory and key counts do not carry over). */
  flush(): Promise<void>;
  /** `used_memory` (bytes, from INFO memory). */
  usedMemory(): Promise<number>;
  /** Every command the server ran, by name, since the last `resetStats` (INFO commandstats). */
  commandStats(): Promise<Record<string, number>>;
  /** `CONFIG RESETSTAT`. */
  resetStats(): Promise<void>;
  /** The length of the largest string value in the database (`SCAN` + `STRLEN`). */
  largestValue(): Promise<number>;
  stop(): Promise<void>;
}

export async function startRedis(): Promise<BenchRedis> {
  const external = process.env.REDIS_URL;
  if (external) return wrap(external, null);
  // The same private-server launcher as the tests (free port, no persistence, its own directory).
  const server = await startPrivateRedis();
  return wrap(server.url, server);
}

/** A redis-server of the bench's own, whatever `REDIS_URL` says (the cost scenario measures its memory). */
export async function startPrivateBenchRedis(): Promise<BenchRedis> {
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
    async connectNodeRedis(name) {
      const client = createClient({ url, name }) as RedisClientType;
      client.on('error', () => {}); // reported through the cache's own counters
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
    async usedMemory() {
      return Number(/used_memory:(\d+)/.exec(await admin.info('memory'))?.[1] ?? 0);
    },
    async commandStats() {
      const counts: Record<string, number> = {};
      for (const line of (await admin.info('commandstats')).split('\n')) {
        const m = /^cmdstat_([^:]+):calls=(\d+)/.exec(line.trim());
        if (
          m?.[1] &&
          m[2] &&
          !['info', 'config', 'config|resetstat', 'client|setname', 'client|setinfo', 'hello'].includes(m[1])
        )
          counts[m[1]] = Number(m[2]);
      }
      return counts;
    },
    async resetStats() {
      await admin.config('RESETSTAT');
    },
    async largestValue() {
      let largest = 0;
      let cursor = '0';
      do {
        const [next, keys] = await admin.scan(cursor, 'COUNT', 1000, 'TYPE', 'string');
        cursor = next;
        for (const key of keys) largest = Math.max(largest, await admin.strlen(key));
      } while (cursor !== '0');
      return largest;
    },
    async stop() {
      admin.disconnect();
      await server?.stop();
    },
  };
}
