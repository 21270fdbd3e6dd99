import { CacheOptionError } from '../../../api/errors.js';
import type { RedisDriver } from '../driver.js';
import { type IORedisClient, IORedisDriver, isIORedisClient } from './ioredis.js';
import { isNodeRedisClient, type NodeRedisClient, NodeRedisDriver, nodeRedisShape } from './node-redis.js';

export { type IORedisClient, isIORedisClient } from './ioredis.js';
export { isNodeRedisClient, type NodeRedisClient } from './node-redis.js';

/**
 * A Redis client the store takes: ioredis (`Redis`, `Cluster`, Sentinel through `Redis`) or node-redis 5
 * and 6 (`createClient()`, `createCluster()`, `createSentinel()`).
 */
export type RedisClient = IORedisClient | NodeRedisClient;

/** True for a client of either library that the store can use. */
export function isRedisClient(value: unknown): value is RedisClient {
  return isIORedisClient(value) || isNodeRedisClient(value);
}

const EXPECTED =
  'an ioredis Redis or Cluster client, or a node-redis (redis 5 or 6) client, cluster or sentinel (createClient(), createCluster(), createSentinel())';

/** The driver for a client; throws {@link CacheOptionError} naming what it got and what is supported. */
export function driverFor(client: unknown): RedisDriver {
  if (isIORedisClient(client)) {
    const keyPrefix = (client as { options?: { keyPrefix?: string } }).options?.keyPrefix;
    if (keyPrefix) throw keyPrefixError('ioredis', keyPrefix);
    return new IORedisDriver(client);
  }
  const shape = nodeRedisShape(client);
  if (shape === 'v4') {
    throw new CacheOptionError(
      'store',
      'a node-redis 4 client',
      'a node-redis 5 or 6 client (npm install redis@6): version 4 has no reply type mapping for binary values',
    );
  }
  if (shape !== null) {
    const keyPrefix = (client as { _keyPrefix?: unknown })._keyPrefix;
    if (keyPrefix !== undefined && keyPrefix !== '') throw keyPrefixError('node-redis', String(keyPrefix));
    return new NodeRedisDriver(client as NodeRedisClient, shape);
  }
  throw new CacheOptionError('store', client, EXPECTED);
}

function keyPrefixError(library: string, keyPrefix: string): CacheOptionError {
  return new CacheOptionError(
    'store',
    `${library} client with keyPrefix ${JSON.stringify(keyPrefix)}`,
    'a client without keyPrefix (use the cache option "prefix" instead)',
  );
}
