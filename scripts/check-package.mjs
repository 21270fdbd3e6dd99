// Loads the built package both ways (ESM import and CJS require) and checks the public names.
import { createRequire } from 'node:module';

const expected = ['withCache', 'evict', 'evictTags', 'clearCache', 'MemoryStore', 'RedisStore', 'getCacheStats'];
const esm = await import('../dist/index.js');
const cjs = createRequire(import.meta.url)('../dist/index.cjs');
for (const [kind, mod] of [
  ['ESM', esm],
  ['CJS', cjs],
]) {
  const missing = expected.filter((name) => typeof mod[name] !== 'function');
  if (missing.length) {
    console.error(`${kind} build is missing: ${missing.join(', ')}`);
    process.exit(1);
  }
}
console.log(`package ok: ESM and CJS export ${expected.join(', ')}`);
