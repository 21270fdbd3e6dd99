import type { Redis } from 'ioredis';
import { afterAll, beforeAll } from 'vitest';
import type { RedisClient } from '../../src/index.js';
import { closeClients, storeClient } from './clients.js';
import { type RedisServer, ready, startRedis } from './redis-server.js';
import { echoJson, startUpstream, type Upstream } from './upstream.js';

/** A suite's own redis-server and echoing upstream, started before its tests and stopped after them. */
export interface SuiteServers {
  readonly server: RedisServer;
  readonly upstream: Upstream;
  /** A new connected ioredis client of the suite's server, for the test's own commands (disconnected when the suite ends). */
  client(): Promise<Redis>;
  /**
   * A new connected client of the run's library (`REDIS_CLIENT`: ioredis or node-redis) to give the cache
   * as `store` (closed when the suite ends).
   */
  store(): Promise<RedisClient>;
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
    await closeClients();
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
    async store() {
      return (await storeClient(started(server).port)).store;
    },
  };
}
