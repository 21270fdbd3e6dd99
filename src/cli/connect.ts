import { Cluster, Redis } from 'ioredis';

/** Where the CLI connects: `--redis URL`, with `--cluster` (URL of one node) or `--sentinel` + `--name`. */
export interface Target {
  url: string;
  cluster: boolean;
  sentinels: { host: string; port: number }[] | null;
  name: string | undefined;
  timeoutMs: number;
}

/** A usage or connection problem: printed as one line, exit code 2. */
export class CliError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CliError';
  }
}

/** Connect, or throw a {@link CliError} naming what could not be reached (within `timeoutMs`). */
export async function connect(target: Target): Promise<Redis | Cluster> {
  let url: URL;
  try {
    url = new URL(target.url);
  } catch {
    throw new CliError(`--redis ${JSON.stringify(target.url)} is not a URL (expected redis://host:port)`);
  }
  const common = {
    lazyConnect: true,
    maxRetriesPerRequest: 1,
    enableOfflineQueue: true,
    connectTimeout: target.timeoutMs,
  };
  const password = url.password ? decodeURIComponent(url.password) : undefined;
  const username = url.username ? decodeURIComponent(url.username) : undefined;
  const auth = { ...(password ? { password } : {}), ...(username ? { username } : {}) };
  let client: Redis | Cluster;
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
  let lastError: Error | undefined;
  client.on('error', (error: Error) => {
    lastError = error; // reported once, below
  });
  const where = target.sentinels ? `sentinel master ${target.name}` : target.url;
  try {
    await withTimeout(client.connect(), target.timeoutMs, `no answer from ${where} within ${target.timeoutMs} ms`);
  } catch (error) {
    client.disconnect();
    if (error instanceof CliError) throw error;
    throw new CliError(`cannot connect to ${where}: ${(lastError ?? (error as Error)).message}`);
  }
  return client;
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
