import zlib from 'node:zlib';

/**
 * CRC-32 (IEEE), the checksum of stored entries: a fast, non-cryptographic check against corrupted bytes
 * (it detects every burst of up to 32 bits and misses random corruption with probability 2⁻³²). Node's
 * native `zlib.crc32` (Node ≥ 20.15: about 7 GB/s here, 0.2 µs for 0.5 KB, 71 µs for 500 KB), or a
 * table-driven fallback on older releases.
 */
export const crc32: (data: Uint8Array) => number =
  typeof (zlib as { crc32?: unknown }).crc32 === 'function'
    ? (data) => (zlib as unknown as { crc32(data: Uint8Array): number }).crc32(data)
    : tableCrc32;

let table: Uint32Array | undefined;

function tableCrc32(data: Uint8Array): number {
  if (!table) {
    table = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      table[n] = c >>> 0;
    }
  }
  let crc = 0xffffffff;
  for (let i = 0; i < data.length; i++) crc = (table[(crc ^ (data[i] as number)) & 0xff] as number) ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

/** The fallback, exported for its test against the native one. */
export const crc32Fallback = tableCrc32;
