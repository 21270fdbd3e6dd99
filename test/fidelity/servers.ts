import { afterAll, beforeAll } from 'vitest';
import type { RedisClient } from '../../src/index.js';
import { closeClients, LIBRARY, storeClient } from '../helpers/clients.js';
import { type RedisServer, startRedis } from '../helpers/redis-server.js';
import { type FidelityServer, startFidelityServer } from './server.js';

/**
 * The stores the fidelity matrix runs on: the memory store and Redis — on node-redis (the
 * `fidelity-node-redis` project) Redis only, the memory column being the same on either client.
 */
export const STORES: readonly ('memory' | 'redis')[] = LIBRARY === 'node-redis' ? ['redis'] : ['memory', 'redis'];

/** The fidelity server and a redis-server of the suite's own, started before its tests and stopped after. */
export interface FidelityServers {
  readonly server: FidelityServer;
  /** A store client of the run's library (ioredis or node-redis). */
  readonly redis: RedisClient;
}

export function useFidelityServers(): FidelityServers {
  let server: FidelityServer | undefined;
  let redisServer: RedisServer | undefined;
  let redis: RedisClient | undefined;
  beforeAll(async () => {
    server = await startFidelityServer();
    redisServer = await startRedis();
    redis = (await storeClient(redisServer.port)).store;
  });
  afterAll(async () => {
    await closeClients();
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
