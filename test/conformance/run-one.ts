/**
 * One conformance run in a process of its own (the suite's runner keeps its results in module state):
 *
 *   node --import tsx test/conformance/run-one.ts <shared|private> <memory|redis> <redis port> [ttl|http]
 *
 * `ttl`: default options; `http`: `{ httpSemantics: true }` and nothing else.
 *
 * Prints one JSON line: { requiredPassed, requiredTotal, results }.
 */
import { Redis } from 'ioredis';
import { type CacheOptions, MemoryStore } from '../../src/index.js';
import { type Profile, runConformance } from './harness.js';

const [profile, store, port, mode = 'ttl'] = process.argv.slice(2) as [
  Profile,
  'memory' | 'redis',
  string | undefined,
  'ttl' | 'http' | undefined,
];
let redis: Redis | undefined;
const options: CacheOptions = { prefix: `conformance-${profile}-${mode}:` };
if (mode === 'http') options.httpSemantics = true;
if (store === 'redis') {
  redis = new Redis(Number(port), '127.0.0.1');
  await new Promise((resolve) => redis?.once('ready', resolve));
  options.store = redis;
} else {
  options.store = new MemoryStore();
}
const run = await runConformance(profile, options);
process.stdout.write(`${JSON.stringify(run)}\n`);
redis?.disconnect();
process.exit(0);
