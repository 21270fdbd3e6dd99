/**
 * The codecs `compress` could use, on the bench's JSON bodies: stored size, compression and decompression
 * time (best of 5 runs; decompression sized to the body, as the library does). Backs the default (gzip
 * level 1; bench/README.md, "Compression"):
 *
 *   node --import tsx bench/codecs.ts
 */
import * as zlib from 'node:zlib';
import { BODIES } from './bodies.js';

const B = zlib.constants;
for (const id of ['json-20k', 'json-200k', 'json-500k'] as const) {
  const body = BODIES[id].bytes;
  const n = body.length;
  const codecs: Record<string, [() => Buffer, (b: Buffer) => Buffer]> = {
    br1: [
      () => zlib.brotliCompressSync(body, { params: { [B.BROTLI_PARAM_QUALITY]: 1, [B.BROTLI_PARAM_SIZE_HINT]: n } }),
      (b) => zlib.brotliDecompressSync(b, { maxOutputLength: n, chunkSize: n + 64 }),
    ],
    br2: [
      () => zlib.brotliCompressSync(body, { params: { [B.BROTLI_PARAM_QUALITY]: 2, [B.BROTLI_PARAM_SIZE_HINT]: n } }),
      (b) => zlib.brotliDecompressSync(b, { maxOutputLength: n, chunkSize: n + 64 }),
    ],
    br4: [
      () => zlib.brotliCompressSync(body, { params: { [B.BROTLI_PARAM_QUALITY]: 4, [B.BROTLI_PARAM_SIZE_HINT]: n } }),
      (b) => zlib.brotliDecompressSync(b, { maxOutputLength: n, chunkSize: n + 64 }),
    ],
    gz1: [
      () => zlib.gzipSync(body, { level: 1 }),
      (b) => zlib.gunzipSync(b, { maxOutputLength: n, chunkSize: n + 64 }),
    ],
  };
  const k = Math.max(200, Math.round(4_000_000 / n));
  const time = (f: () => unknown) => {
    let best = Infinity;
    for (let r = 0; r < 5; r++) {
      const t = process.hrtime.bigint();
      for (let i = 0; i < k; i++) f();
      best = Math.min(best, Number(process.hrtime.bigint() - t) / k / 1000);
    }
    return best;
  };
  for (const [name, [c, d]] of Object.entries(codecs)) {
    const packed = c();
    console.log(
      id,
      name,
      packed.length,
      (packed.length / n).toFixed(3),
      'compress',
      time(c).toFixed(1),
      'µs; decompress',
      time(() => d(packed)).toFixed(1),
      'µs',
    );
  }
}
