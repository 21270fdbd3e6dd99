import type { Redis } from 'ioredis';
import { afterAll, beforeAll } from 'vitest';
import { type RedisServer, ready, startRedis } from './redis-server.js';
import { echoJson, startUpstream, type Upstream } from './upstream.js';

/** A suite's own redis-server and echoing upstream, started before its tests and stopped after them. */
export interface SuiteServers {
  readonly server: RedisServer;
  readonly upstream: Upstream;
  /** A new connected client of the suite's server (disconnected when the suite ends). */
  client(): Promise<Redis>;
}

/** Register the hooks that start and stop a {@link SuiteServers} for the current suite (file or describe). */
export function useRedisAndUpstream(): SuiteServers {
  let server: RedisServer | undefined;
  let upstream: Upstream | undefined;
  const clients: Redis[] = [];
  beforeAll(async () => {
    server = await startRedis();
    upstream = await startUpstream();
    upstream.handle(echoJson);
  });
  afterAll(async () => {
    for (const client of clients) client.disconnect();
    await upstream?.close();
    await server?.stop();
  });
  const started = <T>(value: T | undefined): T => {
    if (value === undefined) throw new Error('the suite servers start in beforeAll');
    return value;
  };
  return {
    get server() {
      return started(server);
    },
    get upstream() {
      return started(upstream);
    },
    async client() {
      const redis = started(server).client();
      clients.push(redis);
      await ready(redis);
      return redis;
    },
  };
}
