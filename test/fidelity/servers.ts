import type { Redis } from 'ioredis';
import { afterAll, beforeAll } from 'vitest';
import { type RedisServer, ready, startRedis } from '../helpers/redis-server.js';
import { type FidelityServer, startFidelityServer } from './server.js';

/** The fidelity server and a redis-server of the suite's own, started before its tests and stopped after. */
export interface FidelityServers {
  readonly server: FidelityServer;
  readonly redis: Redis;
}

export function useFidelityServers(): FidelityServers {
  let server: FidelityServer | undefined;
  let redisServer: RedisServer | undefined;
  let redis: Redis | undefined;
  beforeAll(async () => {
    server = await startFidelityServer();
    redisServer = await startRedis();
    redis = redisServer.client();
    redis.on('error', () => {});
    await ready(redis);
  });
  afterAll(async () => {
    redis?.disconnect();
    await redisServer?.stop();
    await server?.close();
  });
  const started = <T>(value: T | undefined): T => {
    if (value === undefined) throw new Error('the fidelity servers start in beforeAll');
    return value;
  };
  return {
    get server() {
      return started(server);
    },
    get redis() {
      return started(redis);
    },
  };
}
