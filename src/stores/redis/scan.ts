import type { RedisNode } from './driver.js';
import { text } from './driver.js';

/** Walking keys with SCAN (never KEYS), node by node: listing and pattern deletes. */

/** One SCAN step's reply: the next cursor and the keys found, as text. */
async function scanStep(node: RedisNode, cursor: string, pattern: string, count: number): Promise<[string, string[]]> {
  const reply = await node.send(['SCAN', cursor, 'MATCH', pattern, 'COUNT', count]);
  if (!Array.isArray(reply) || reply.length !== 2 || !Array.isArray(reply[1])) {
    throw new Error(`unexpected reply to SCAN: ${typeof reply}`);
  }
  const next = text(reply[0]);
  if (next === null) throw new Error('unexpected reply to SCAN: no cursor');
  return [next, (reply[1] as unknown[]).map((key) => text(key) ?? '').filter((key) => key !== '')];
}

/** The keys matching a glob on these nodes, in batches of about `scanCount`. */
export async function* scanNodes(
  nodes: readonly RedisNode[] | Promise<readonly RedisNode[]>,
  pattern: string,
  scanCount: number,
): AsyncIterable<string[]> {
  for (const node of await nodes) {
    let cursor = '0';
    do {
      const [next, found] = await scanStep(node, cursor, pattern, scanCount);
      cursor = next;
      if (found.length > 0) yield found;
    } while (cursor !== '0');
  }
}

/** Delete the keys matching a glob on one node (accepted by `filter` when given); resolves to how many. */
export async function deleteMatchingOn(
  node: RedisNode,
  pattern: string,
  scanCount: number,
  cluster: boolean,
  filter?: (key: string) => boolean,
): Promise<number> {
  let cursor = '0';
  let removed = 0;
  do {
    const [next, found] = await scanStep(node, cursor, pattern, scanCount);
    cursor = next;
    const keys = filter ? found.filter(filter) : found;
    if (keys.length === 0) continue;
    if (cluster) {
      // Keys of one node may still sit in different slots: one UNLINK each, pipelined on that node.
      for (const { error, reply } of await node.pipeline(keys.map((key) => ['UNLINK', key]))) {
        if (error) throw error;
        removed += Number(reply);
      }
    } else {
      removed += Number(await node.send(['UNLINK', ...keys]));
    }
  } while (cursor !== '0');
  return removed;
}
