import type { RedisClient } from '../stores/redis/store.js';

/** Where the CLI connects: `--redis URL`, with `--cluster` (URL of one node) or `--sentinel` + `--name`. */
export interface Target {
  url: string;
  cluster: boolean;
  sentinels: { host: string; port: number }[] | null;
  name: string | undefined;
  timeoutMs: number;
  /** `--client`: which library to connect with (default: ioredis when it is installed, else node-redis). */
  client: 'ioredis' | 'node-redis' | undefined;
}

/** A usage or connection problem: printed as one line, exit code 2. */
export class CliError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CliError';
  }
}

/** A connected client, and how to let it go. */
export interface Connection {
  readonly client: RedisClient;
  readonly library: 'ioredis' | 'node-redis';
  close(): void;
}

function missing(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND';
}

/**
 * The client library, loaded when a command needs it: both are optional peers of the package, and a
 * missing one is a usage error (one line, exit 2), not a stack trace.
 */
async function load<T>(name: 'ioredis' | 'redis'): Promise<T | null> {
  try {
    return (await import(name)) as T;
  } catch (error) {
    if (missing(error)) return null;
    throw error;
  }
}

/** Connect, or throw a {@link CliError} naming what could not be reached (within `timeoutMs`). */
export async function connect(target: Target): Promise<Connection> {
  let url: URL;
  try {
    url = new URL(target.url);
  } catch {
    throw new CliError(`--redis ${JSON.stringify(target.url)} is not a URL (expected redis://host:port)`);
  }
  if (target.client !== 'node-redis') {
    const ioredis = await load<typeof import('ioredis')>('ioredis');
    if (ioredis) return connectIORedis(ioredis, target, url);
    if (target.client === 'ioredis')
      throw new CliError('--client ioredis: the ioredis package is not installed (npm install ioredis)');
  }
  const redis = await load<typeof import('redis')>('redis');
  if (redis) return connectNodeRedis(redis, target, url);
  throw new CliError(
    target.client === 'node-redis'
      ? '--client node-redis: the redis package is not installed (npm install redis)'
      : 'the CLI needs a Redis client library: npm install ioredis (or redis)',
  );
}

function where(target: Target): string {
  return target.sentinels ? `sentinel master ${target.name}` : target.url;
}

async function connectIORedis(
  { Redis, Cluster }: typeof import('ioredis'),
  target: Target,
  url: URL,
): Promise<Connection> {
  const common = {
    lazyConnect: true,
    maxRetriesPerRequest: 1,
    enableOfflineQueue: true,
    connectTimeout: target.timeoutMs,
  };
  const password = url.password ? decodeURIComponent(url.password) : undefined;
  const username = url.username ? decodeURIComponent(url.username) : undefined;
  const auth = { ...(password ? { password } : {}), ...(username ? { username } : {}) };
  let client: InstanceType<typeof Redis> | InstanceType<typeof Cluster>;
  if (target.cluster) {
    client = new Cluster([{ host: url.hostname, port: Number(url.port || 6379) }], {
      lazyConnect: true,
      redisOptions: { ...auth, connectTimeout: target.timeoutMs, maxRetriesPerRequest: 1 },
      clusterRetryStrategy: () => null,
    });
  } else if (target.sentinels) {
    if (!target.name) throw new CliError('--sentinel needs --name (the monitored master name)');
    client = new Redis({
      ...common,
      ...auth,
      sentinels: target.sentinels,
      name: target.name,
      sentinelRetryStrategy: () => null,
    });
  } else {
    client = new Redis(target.url, { ...common, retryStrategy: () => null });
  }
  await connectOrExplain(client, target, () => client.disconnect());
  return { client, library: 'ioredis', close: () => client.disconnect() };
}

async function connectNodeRedis(
  { createClient, createCluster, createSentinel }: typeof import('redis'),
  target: Target,
  url: URL,
): Promise<Connection> {
  const socket = { connectTimeout: target.timeoutMs, reconnectStrategy: false as const };
  let client: {
    connect(): Promise<unknown>;
    destroy(): unknown;
    on(event: string, listener: (e: Error) => void): unknown;
  };
  if (target.cluster) {
    client = createCluster({ rootNodes: [{ url: target.url, socket }] }) as never;
  } else if (target.sentinels) {
    if (!target.name) throw new CliError('--sentinel needs --name (the monitored master name)');
    const password = url.password ? decodeURIComponent(url.password) : undefined;
    const username = url.username ? decodeURIComponent(url.username) : undefined;
    client = createSentinel({
      name: target.name,
      sentinelRootNodes: target.sentinels,
      nodeClientOptions: { socket, ...(password ? { password } : {}), ...(username ? { username } : {}) },
    }) as never;
  } else {
    client = createClient({ url: target.url, socket }) as never;
  }
  await connectOrExplain(client, target, () => {
    try {
      client.destroy();
    } catch {
      // not connected: nothing to destroy
    }
  });
  return {
    client: client as unknown as RedisClient,
    library: 'node-redis',
    close: () => {
      client.destroy();
    },
  };
}

/** Connect `client` within the target's timeout; on failure, drop it and say why in the client's words. */
async function connectOrExplain(
  client: { connect(): Promise<unknown>; on(event: 'error', listener: (error: Error) => void): unknown },
  target: Target,
  drop: () => void,
): Promise<void> {
  let lastError: Error | undefined;
  client.on('error', (error: Error) => {
    lastError = error; // reported once, below
  });
  try {
    await withTimeout(
      client.connect(),
      target.timeoutMs,
      `no answer from ${where(target)} within ${target.timeoutMs} ms`,
    );
  } catch (error) {
    drop();
    if (error instanceof CliError) throw error;
    throw new CliError(`cannot connect to ${where(target)}: ${(lastError ?? (error as Error)).message}`);
  }
}

async function withTimeout<T>(promise: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new CliError(message)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** `host:port,host:port` → sentinel addresses. */
export function sentinelList(value: string): { host: string; port: number }[] {
  return value.split(',').map((part) => {
    const [host, port] = part.trim().split(':');
    if (!host || !port || !/^\d+$/.test(port))
      throw new CliError(`--sentinel ${JSON.stringify(value)}: expected host:port[,host:port]`);
    return { host, port: Number(port) };
  });
}
