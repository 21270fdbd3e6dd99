import zlib from 'node:zlib';
import type { BodyEncoding, StoredBody } from './format.js';

/**
 * Compression of stored bodies (`compress`): a body at least `thresholdBytes` long is stored compressed
 * with gzip (level 1, the default) or brotli (quality 1), from `node:zlib`. gzip by default because hits
 * read far more often than misses write: a brotli q1 body decompresses about 2× slower (and its decoder
 * costs more to set up), for bodies about 10 % smaller above ~50 KB (bench/README.md, "Compression"). A
 * body that does not shrink by a tenth (an image, bytes already compressed) is stored as it is. Which
 * algorithm an entry used is recorded in it: readers decode it whatever their own setting.
 */

/** The compression settings of a write (`null`: store bodies as they are). */
export interface Compression {
  readonly algorithm: 'brotli' | 'gzip';
  readonly thresholdBytes: number;
}

/** Compress `body` if the settings ask for it and it pays; `undefined`: store it as it is. */
export function compressBody(body: Uint8Array, compression: Compression | null): StoredBody | undefined {
  if (!compression || body.byteLength < compression.thresholdBytes) return undefined;
  const bytes =
    compression.algorithm === 'brotli'
      ? zlib.brotliCompressSync(body, {
          params: {
            [zlib.constants.BROTLI_PARAM_QUALITY]: 1,
            [zlib.constants.BROTLI_PARAM_SIZE_HINT]: body.byteLength,
          },
        })
      : zlib.gzipSync(body, { level: 1 });
  if (bytes.byteLength > body.byteLength * 0.9) return undefined;
  return { bytes, encoding: compression.algorithm === 'brotli' ? 'br' : 'gzip' };
}

/**
 * Decompress a stored body that says it holds `plainBytes` (never more: a bound against a bomb). The output
 * goes to one buffer of that size (plus a margin, so that zlib finds room left and stops without
 * allocating another): with the default 16 KiB chunks, a 20 KB body took two chunks and a copy to join them.
 * Not more than 4 MiB at once: what a value says is not allocated before its bytes decompress to it.
 */
export function decompress(bytes: Buffer, encoding: BodyEncoding, plainBytes: number): Buffer {
  const maxOutputLength = Math.max(1, plainBytes);
  const chunkSize = Math.min(plainBytes, MAX_CHUNK_BYTES) + 64; // zlib's smallest chunk is 64 bytes
  return encoding === 'br'
    ? zlib.brotliDecompressSync(bytes, { maxOutputLength, chunkSize })
    : zlib.gunzipSync(bytes, { maxOutputLength, chunkSize });
}

/** The largest output buffer {@link decompress} allocates before the output needs it. */
const MAX_CHUNK_BYTES = 4 * 1024 * 1024;

/**
 * Decompressed bodies of the entries this process read lately, by key and by the checksum of what was
 * stored: a hit on the same stored answer (the checksum of its stored bytes, checked on every read, is the
 * same) reuses the body instead of decompressing it again. Bounded in bytes (the oldest go first); bodies
 * over a mebibyte are not kept. The bodies are shared: their entries are never handed to a caller as they
 * are (`owned` stays false: a binary body is copied for each caller).
 */
export class PlainBodies {
  private readonly bodies = new Map<string, { crc: number; body: Buffer }>();
  private bytes = 0;

  constructor(
    private readonly maxBytes = 16 * 1024 * 1024,
    private readonly maxBodyBytes = 1024 * 1024,
    /**
     * The largest body the instance decompresses (its `maxEntryBytes`: it stores no larger body itself): an
     * entry that says it holds more is a miss, so that a small planted value cannot make every reader
     * allocate hundreds of megabytes (a compression bomb).
     */
    readonly maxPlainBytes = Number.POSITIVE_INFINITY,
  ) {}

  get(key: string, crc: number): Buffer | undefined {
    const kept = this.bodies.get(key);
    if (!kept || kept.crc !== crc) return undefined;
    this.bodies.delete(key); // most recently used last
    this.bodies.set(key, kept);
    return kept.body;
  }

  set(key: string, crc: number, body: Buffer): void {
    if (body.length > this.maxBodyBytes) return;
    const old = this.bodies.get(key);
    if (old) {
      this.bodies.delete(key);
      this.bytes -= old.body.length;
    }
    this.bodies.set(key, { crc, body });
    this.bytes += body.length;
    for (const [oldest, kept] of this.bodies) {
      if (this.bytes <= this.maxBytes) break;
      this.bodies.delete(oldest);
      this.bytes -= kept.body.length;
    }
  }
}
