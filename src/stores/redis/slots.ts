import { hashTag } from './replies.js';

/** Redis Cluster's key → slot mapping: CRC16 (XMODEM) of the key, or of its hash tag, modulo 16384. */

const TABLE = (() => {
  const table = new Uint16Array(256);
  for (let i = 0; i < 256; i++) {
    let crc = i << 8;
    for (let bit = 0; bit < 8; bit++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
    table[i] = crc;
  }
  return table;
})();

function crc16(bytes: Uint8Array): number {
  let crc = 0;
  for (const byte of bytes) crc = ((crc << 8) & 0xffff) ^ (TABLE[((crc >> 8) ^ byte) & 0xff] as number);
  return crc;
}

/** The Cluster slot of a key (its hash tag's, when it has one: every key of one request shares a slot). */
export function slotOf(key: string): number {
  return crc16(Buffer.from(hashTag(key) ?? key, 'utf8')) & 16383;
}

/**
 * Keys in batches a script may take together: on a single node any `size` keys; on a Cluster, keys of one
 * slot only (a script's keys must share it).
 */
export function batchesBySlot(keys: readonly string[], cluster: boolean, size: number): string[][] {
  const groups = new Map<number, string[]>();
  for (const key of keys) {
    const slot = cluster ? slotOf(key) : 0;
    let group = groups.get(slot);
    if (!group) {
      group = [];
      groups.set(slot, group);
    }
    group.push(key);
  }
  const batches: string[][] = [];
  for (const group of groups.values())
    for (let i = 0; i < group.length; i += size) batches.push(group.slice(i, i + size));
  return batches;
}
