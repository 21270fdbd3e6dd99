import { Redis, type RedisOptions } from 'ioredis';
import { createClient, createCluster, createSentinel } from 'redis';
import type { RedisClient } from '../../src/index.js';

/**
 * The Redis client library the Redis-dependent suites run on: `REDIS_CLIENT=node-redis` (the
 * `*-node-redis` vitest projects) or ioredis (the default). Tests make the clients they give the cache as
 * `store` here; their own admin clients (to plant values, inspect, pause) stay ioredis.
 */
export type ClientLibrary = 'ioredis' | 'node-redis';
export const LIBRARY: ClientLibrary = process.env.REDIS_CLIENT === 'node-redis' ? 'node-redis' : 'ioredis';

/** The library's name in test titles: `(node-redis)`, or nothing for ioredis. */
export const ON = LIBRARY === 'node-redis' ? ' (node-redis)' : '';

export interface StoreClientOptions {
  host?: string;
  username?: string;
  password?: string;
  /** Not connected yet: ioredis `lazyConnect`; node-redis not `connect()`ed (its owner will). */
  notConnected?: boolean;
  /** TLS: the CA to trust and the server name. */
  tls?: { ca: string | Buffer; servername: string };
  /** ioredis options (ignored by node-redis). */
  ioredis?: RedisOptions;
}

/** A client the test made, and how to close it whatever its library. */
export interface TestClient {
  readonly library: ClientLibrary;
  /** What to give the cache as `store`. */
  readonly store: RedisClient;
  /** Count the connections it makes (each `connect` event). */
  connects(): number;
  /** Whether it is connected and ready. */
  ready(): boolean;
  close(): Promise<void>;
}

const open: TestClient[] = [];

/** Close every client made by this file's tests (call from `afterAll`). */
export async function closeClients(): Promise<void> {
  await Promise.all(open.splice(0).map((c) => c.close().catch(() => {})));
}

/** A store client of the run's library on `port`, connected (unless `notConnected`), errors listened to. */
export async function storeClient(port: number, options: StoreClientOptions = {}): Promise<TestClient> {
  const host = options.host ?? '127.0.0.1';
  let connects = 0;
  let made: TestClient;
  if (LIBRARY === 'ioredis') {
    const redis = new Redis({
      port,
      host,
      maxRetriesPerRequest: 1,
      ...(options.username ? { username: options.username } : {}),
      ...(options.password ? { password: options.password } : {}),
      ...(options.tls ? { tls: { ca: options.tls.ca, servername: options.tls.servername } } : {}),
      ...(options.notConnected ? { lazyConnect: true } : {}),
      ...options.ioredis,
    });
    redis.on('error', () => {});
    redis.on('connect', () => connects++);
    made = {
      library: 'ioredis',
      store: redis,
      connects: () => connects,
      ready: () => redis.status === 'ready',
      close: async () => redis.disconnect(),
    };
    if (!options.notConnected && redis.status !== 'ready') await new Promise((r) => redis.once('ready', r));
  } else {
    const client = createClient({
      socket: {
        host,
        port,
        reconnectStrategy: (retries: number) => Math.min(retries * 20, 200),
        ...(options.tls ? { tls: true as const, ca: options.tls.ca, servername: options.tls.servername } : {}),
      },
      ...(options.username ? { username: options.username } : {}),
      ...(options.password ? { password: options.password } : {}),
    });
    client.on('error', () => {});
    client.on('connect', () => connects++);
    made = {
      library: 'node-redis',
      store: client as unknown as RedisClient,
      connects: () => connects,
      ready: () => client.isReady,
      // Gracefully: the cache's writes are not awaited by its callers, and may still be on their way.
      close: async () => {
        if (!client.isOpen) return;
        if (!client.isReady) return client.destroy();
        await Promise.race([client.close(), new Promise((r) => setTimeout(r, 1000))]).catch(() => {});
        if (client.isOpen) client.destroy();
      },
    };
    if (!options.notConnected) await client.connect();
  }
  open.push(made);
  return made;
}

/** A Cluster client of the run's library on these masters, connected. */
export async function storeCluster(ports: readonly number[]): Promise<TestClient> {
  let made: TestClient;
  if (LIBRARY === 'ioredis') {
    const { Cluster } = await import('ioredis');
    const cluster = new Cluster(ports.map((port) => ({ host: '127.0.0.1', port })));
    cluster.on('error', () => {});
    made = {
      library: 'ioredis',
      store: cluster,
      connects: () => 0,
      ready: () => cluster.status === 'ready',
      close: async () => cluster.disconnect(),
    };
    if (cluster.status !== 'ready') await new Promise((r) => cluster.once('ready', r));
  } else {
    const cluster = createCluster({ rootNodes: ports.map((port) => ({ url: `redis://127.0.0.1:${port}` })) });
    cluster.on('error', () => {});
    await cluster.connect();
    made = {
      library: 'node-redis',
      store: cluster as unknown as RedisClient,
      connects: () => 0,
      ready: () => cluster.isOpen,
      close: async () => {
        if (!cluster.isOpen) return;
        await Promise.race([cluster.close(), new Promise((r) => setTimeout(r, 1000))]).catch(() => {});
        if (cluster.isOpen) cluster.destroy();
      },
    };
  }
  open.push(made);
  return made;
}

/** A Sentinel-managed client of the run's library (master `name`, through these sentinels), connected. */
export async function storeSentinel(
  name: string,
  sentinels: readonly { host: string; port: number }[],
): Promise<TestClient> {
  let made: TestClient;
  if (LIBRARY === 'ioredis') {
    const redis = new Redis({ sentinels: [...sentinels], name, maxRetriesPerRequest: 1 });
    redis.on('error', () => {});
    if (redis.status !== 'ready') await new Promise((r) => redis.once('ready', r));
    made = {
      library: 'ioredis',
      store: redis,
      connects: () => 0,
      ready: () => redis.status === 'ready',
      close: async () => redis.disconnect(),
    };
  } else {
    const sentinel = createSentinel({ name, sentinelRootNodes: [...sentinels] });
    sentinel.on('error', () => {});
    await sentinel.connect();
    made = {
      library: 'node-redis',
      store: sentinel as unknown as RedisClient,
      connects: () => 0,
      ready: () => sentinel.isReady,
      close: async () => {
        if (!sentinel.isOpen) return;
        await Promise.race([sentinel.close(), new Promise((r) => setTimeout(r, 1000))]).catch(() => {});
        if (sentinel.isOpen) await sentinel.destroy().catch(() => {});
      },
    };
  }
  open.push(made);
  return made;
}

/**
 * Resolve once every command sent so far on a store client's connection has been executed (a `PING`
 * through it): the cache's writes are not awaited by its callers, and a test's own client is another
 * connection, so a test that looks in Redis right after a response syncs with the store's connection first.
 */
export async function synced(store: RedisClient): Promise<void> {
  const client = store as unknown as {
    ping?: () => Promise<unknown>;
    sendCommand?: (args: string[]) => Promise<unknown>;
  };
  if (typeof (store as { status?: unknown }).status === 'string' && client.ping) await client.ping();
  else await client.sendCommand?.(['PING']);
}

/**
 * Make the next `command` (e.g. `MGET`) sent on a store client reject with `error`, whatever its library
 * (ioredis: its Buffer method; node-redis: `sendCommand`). Returns the function that stops it.
 */
export function failNext(store: RedisClient, command: string, error: Error): () => void {
  const target = store as unknown as Record<string, (...args: unknown[]) => Promise<unknown>>;
  const isIORedis = typeof (store as { status?: unknown }).status === 'string';
  const method = isIORedis ? `${command.toLowerCase()}Buffer` : 'sendCommand';
  const original = target[method] as (...args: unknown[]) => Promise<unknown>;
  let armed = true;
  target[method] = function (this: unknown, ...args: unknown[]) {
    const name = isIORedis ? command : String((args[0] as unknown[] | undefined)?.[0] ?? '').toUpperCase();
    if (armed && name === command) {
      armed = false;
      return Promise.reject(error);
    }
    return original.apply(this, args);
  };
  return () => {
    target[method] = original;
  };
}
