/**
 * One conformance run in a process of its own (the suite's runner keeps its results in module state):
 *
 *   node --import tsx test/conformance/run-one.ts <shared|private> <memory|redis> <redis port> [ttl|http]
 *
 * `ttl`: default options; `http`: `{ httpSemantics: true }` and nothing else.
 *
 * Prints one JSON line: { requiredPassed, requiredTotal, results }.
 */

import { type CacheOptions, MemoryStore } from '../../src/index.js';
import { storeClient } from '../helpers/clients.js';
import { type Profile, runConformance } from './harness.js';

const [profile, store, port, mode = 'ttl'] = process.argv.slice(2) as [
  Profile,
  'memory' | 'redis',
  string | undefined,
  'ttl' | 'http' | undefined,
];
const options: CacheOptions = { prefix: `conformance-${profile}-${mode}:` };
if (mode === 'http') options.httpSemantics = true;
// The client library of the run (REDIS_CLIENT: ioredis or node-redis).
const redis = store === 'redis' ? await storeClient(Number(port)) : null;
options.store = redis ? redis.store : new MemoryStore();
const run = await runConformance(profile, options);
process.stdout.write(`${JSON.stringify(run)}\n`);
await redis?.close();
process.exit(0);
