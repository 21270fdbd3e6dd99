import type { CacheStore, IndexRef } from '../stores/types.js';
import type { RequestKeys } from './key.js';

/**
 * A request's variants: entries of one request (one `{rid}`) for different credentials, identities or
 * representations (`vid`). The plain variant (`_`: none of those) needs no index — its key is known from
 * the request alone — so the common request costs no index at all. The others are listed in the request's
 * variants index, by their short id on stores that can list an index (`indexMembers`: a member of a few
 * bytes keeps Redis' compact encoding), by their key elsewhere; `evict` finds them there.
 */

/** The indexes an entry of `keys` goes into: its variants index unless it is the plain variant, and its tags'. */
export function entryIndexes(store: CacheStore, keys: RequestKeys, tagIndexes: readonly string[]): IndexRef[] {
  const indexes: IndexRef[] = [];
  if (keys.vid !== PLAIN) indexes.push(store.indexMembers ? { key: keys.variants, member: keys.vid } : keys.variants);
  indexes.push(...tagIndexes);
  return indexes;
}

/** The plain variant's id. */
const PLAIN = '_';

/** Every entry key stored for these requests: the plain variant's, and those their variants indexes list. */
export async function variantKeys(store: CacheStore, requests: readonly RequestKeys[]): Promise<string[]> {
  const keys = new Set<string>();
  for (const request of requests) {
    keys.add(`${request.base}${PLAIN}:${request.label}`);
    if (!store.indexMembers) continue;
    for (const member of await store.indexMembers([request.variants])) {
      // A variant's id; a whole key in an index written by an older version.
      keys.add(member.startsWith(request.base) ? member : `${request.base}${member}:${request.label}`);
    }
  }
  return [...keys];
}

/** Delete every variant of these requests and their indexes; resolves to the number of entries removed. */
export async function deleteVariants(store: CacheStore, requests: readonly RequestKeys[]): Promise<number> {
  const indexes = requests.map((request) => request.variants);
  if (!store.indexMembers) {
    // Indexes of whole keys: the store deletes what they list; the plain variants by their keys.
    const plain = requests.map((request) => `${request.base}${PLAIN}:${request.label}`);
    const [listed, direct] = await Promise.all([store.deleteIndexed(indexes), store.delete(plain)]);
    return listed + direct;
  }
  const removed = await store.delete(await variantKeys(store, requests));
  await store.delete(indexes);
  return removed;
}
