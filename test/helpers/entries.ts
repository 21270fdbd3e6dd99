import { TTL_POLICY } from '../../src/entries/entry.js';
import { encodeEntry } from '../../src/entries/format.js';
import { NO_VARY } from '../../src/entries/vary.js';

type EntryFields = Parameters<typeof encodeEntry>[0];

/**
 * The bytes of an entry as the cache stores it, for tests that plant values in Redis or decode them: a
 * fresh `200 OK` string body under `key` (fresh for a minute, no headers, tags or `Vary`), with `fields`
 * in place of those defaults.
 */
export function entryBytes(key: string, fields: Partial<EntryFields> = {}): Buffer {
  const now = Date.now();
  return encodeEntry(
    {
      status: 200,
      statusText: 'OK',
      headers: {},
      createdAt: now,
      freshUntil: now + 60_000,
      fetchMs: 1,
      tags: [],
      bodyKind: 'string',
      blobType: '',
      redirects: 0,
      finalUrl: '',
      vary: NO_VARY,
      policy: TTL_POLICY,
      body: Buffer.alloc(0),
      ...fields,
    },
    key,
  );
}
