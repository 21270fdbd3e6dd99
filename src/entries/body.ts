import type { BodyKind, Entry } from './entry.js';

/** A response body as stored bytes, and back in the form the base adapter returned it. */

/** A body as bytes plus how to give it back. */
export interface BodyBytes {
  kind: BodyKind;
  bytes: Uint8Array;
  blobType: string;
}

/**
 * The body the base adapter returned, as bytes plus its kind; `null` when it cannot be stored (a stream,
 * or a value that does not survive JSON). Synchronous except for a Blob (a promise then), so that a write
 * of any other body goes out before the caller is answered.
 */
export function bodyToBytes(data: unknown): BodyBytes | null | Promise<BodyBytes | null> {
  if (data === undefined) return { kind: 'empty', bytes: EMPTY, blobType: '' };
  if (typeof data === 'string') return { kind: 'string', bytes: Buffer.from(data, 'utf8'), blobType: '' };
  if (Buffer.isBuffer(data)) return { kind: 'buffer', bytes: data, blobType: '' };
  if (data instanceof ArrayBuffer) return { kind: 'arraybuffer', bytes: new Uint8Array(data), blobType: '' };
  if (ArrayBuffer.isView(data)) {
    return { kind: 'bytes', bytes: new Uint8Array(data.buffer, data.byteOffset, data.byteLength), blobType: '' };
  }
  if (typeof Blob !== 'undefined' && data instanceof Blob) {
    return data.arrayBuffer().then((buffer) => ({ kind: 'blob', bytes: new Uint8Array(buffer), blobType: data.type }));
  }
  if (isJsonValue(data)) return { kind: 'json', bytes: Buffer.from(JSON.stringify(data), 'utf8'), blobType: '' };
  return null;
}

/**
 * The body in the form the base adapter returned it, for one caller: callers never share data. A binary
 * body the entry `owned` goes, uncopied, to the first caller; every other caller gets a copy.
 */
export function bytesToBody(entry: Pick<Entry, 'bodyKind' | 'body' | 'blobType' | 'text' | 'owned'>): unknown {
  const { body } = entry;
  if (entry.owned && (entry.bodyKind === 'buffer' || entry.bodyKind === 'bytes')) {
    entry.owned = false;
    return entry.bodyKind === 'buffer'
      ? Buffer.from(body.buffer, body.byteOffset, body.byteLength)
      : new Uint8Array(body.buffer, body.byteOffset, body.byteLength);
  }
  switch (entry.bodyKind) {
    case 'empty':
      return undefined;
    case 'string':
      entry.text ??= Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString('utf8');
      return entry.text;
    case 'buffer':
      return Buffer.from(body);
    case 'arraybuffer':
      return new Uint8Array(body).buffer; // a copy of exactly these bytes (Buffer#slice would share memory)
    case 'bytes':
      return new Uint8Array(body);
    case 'blob':
      return new Blob([new Uint8Array(body)], { type: entry.blobType });
    case 'json':
      return JSON.parse(Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString('utf8'));
  }
}

const EMPTY = new Uint8Array(0);

function isJsonValue(value: unknown): boolean {
  if (value === null || typeof value === 'number' || typeof value === 'boolean') return true;
  if (typeof value !== 'object') return false;
  const proto = Object.getPrototypeOf(value);
  return Array.isArray(value) || proto === Object.prototype || proto === null;
}
