import type { Redis } from 'ioredis';

/** Walking keys with SCAN (never KEYS), node by node: listing and pattern deletes. */

/** The keys matching a glob on these nodes, in batches of about `scanCount`. */
export async function* scanNodes(nodes: readonly Redis[], pattern: string, scanCount: number): AsyncIterable<string[]> {
  for (const node of nodes) {
    let cursor = '0';
    do {
      const [next, found] = await node.scan(cursor, 'MATCH', pattern, 'COUNT', scanCount);
      cursor = next;
      if (found.length > 0) yield found;
    } while (cursor !== '0');
  }
}

/** Delete the keys matching a glob on one node (accepted by `filter` when given); resolves to how many. */
export async function deleteMatchingOn(
  node: Redis,
  pattern: string,
  scanCount: number,
  cluster: boolean,
  filter?: (key: string) => boolean,
): Promise<number> {
  let cursor = '0';
  let removed = 0;
  do {
    const [next, found] = await node.scan(cursor, 'MATCH', pattern, 'COUNT', scanCount);
    cursor = next;
    const keys = filter ? found.filter(filter) : found;
    if (keys.length === 0) continue;
    if (cluster) {
      // Keys of one node may still sit in different slots: one UNLINK each, pipelined on that node.
      const pipeline = node.pipeline();
      for (const key of keys) pipeline.unlink(key);
      for (const [error, count] of (await pipeline.exec()) ?? []) {
        if (error) throw error;
        removed += Number(count);
      }
    } else {
      removed += await node.unlink(...keys);
    }
  } while (cursor !== '0');
  return removed;
}
