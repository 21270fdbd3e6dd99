import * as zlib from 'node:zlib';
import { BODIES } from './bodies.js';
const body = BODIES['json-20k'].bytes;
const B = zlib.constants;
const br = zlib.brotliCompressSync(body, { params: { [B.BROTLI_PARAM_QUALITY]: 1, [B.BROTLI_PARAM_SIZE_HINT]: body.length } });
const gz = zlib.gzipSync(body, { level: 1 });
const n = body.length;
const variants: Record<string, () => Buffer> = {
  'br default': () => zlib.brotliDecompressSync(br, { maxOutputLength: n }),
  'br chunk=n+64': () => zlib.brotliDecompressSync(br, { maxOutputLength: n, chunkSize: n + 64 }),
  'gz default': () => zlib.gunzipSync(gz, { maxOutputLength: n }),
  'gz chunk=n+64': () => zlib.gunzipSync(gz, { maxOutputLength: n, chunkSize: n + 64 }),
};
const time = (f: () => unknown, k: number) => { for (let i = 0; i < k / 4; i++) f(); const t = process.hrtime.bigint(); for (let i = 0; i < k; i++) f(); return Number(process.hrtime.bigint() - t) / k / 1000; };
for (let round = 0; round < 4; round++)
  console.log(Object.entries(variants).map(([name, f]) => `${name} ${time(f, 4000).toFixed(1)}`).join(' | '));
