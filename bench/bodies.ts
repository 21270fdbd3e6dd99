/** The response bodies the upstream serves, by id. Deterministic, so every run serves the same bytes. */

export interface Body {
  readonly id: BodyId;
  readonly label: string;
  /** `true`: served as application/octet-stream and requested with `responseType: 'arraybuffer'`. */
  readonly binary: boolean;
  /** The exact bytes on the wire. */
  readonly bytes: Buffer;
  /** The same bytes as a string (JSON bodies only; what axios' http adapter hands to transformResponse). */
  readonly text: string;
  readonly contentType: string;
}

export type BodyId = 'json-0.5k' | 'json-20k' | 'json-200k' | 'json-500k' | 'bin-64k';

/** The bodies of the hit scenario. */
export const BODY_IDS: readonly BodyId[] = ['json-0.5k', 'json-20k', 'json-500k', 'bin-64k'];
/** Every body the upstream serves (the cost scenario adds 200 KB). */
const ALL_BODY_IDS: readonly BodyId[] = [...BODY_IDS, 'json-200k'];

/** A JSON document of about `size` bytes: an array of small records, like a typical API answer. */
function jsonOfSize(size: number): string {
  const items: unknown[] = [];
  let length = 2;
  for (let i = 0; length < size; i++) {
    const item = {
      id: i,
      name: `item-${i.toString(36)}`,
      active: i % 3 !== 0,
      score: Math.round(((i * 7919) % 1000) * 1.37) / 10,
      tags: ['alpha', 'beta', 'gamma'].slice(0, (i % 3) + 1),
    };
    length += JSON.stringify(item).length + 1;
    items.push(item);
  }
  return JSON.stringify({ items });
}

function binaryOfSize(size: number): Buffer {
  const out = Buffer.allocUnsafe(size);
  let x = 0x2545f491;
  for (let i = 0; i < size; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

function json(id: BodyId, label: string, size: number): Body {
  const text = jsonOfSize(size);
  return { id, label, binary: false, bytes: Buffer.from(text), text, contentType: 'application/json; charset=utf-8' };
}

export const BODIES: Readonly<Record<BodyId, Body>> = {
  'json-0.5k': json('json-0.5k', '0.5 KB JSON', 512),
  'json-20k': json('json-20k', '20 KB JSON', 20 * 1024),
  'json-200k': json('json-200k', '200 KB JSON', 200 * 1024),
  'json-500k': json('json-500k', '500 KB JSON', 500 * 1024),
  'bin-64k': {
    id: 'bin-64k',
    label: '64 KB binary',
    binary: true,
    bytes: binaryOfSize(64 * 1024),
    text: '',
    contentType: 'application/octet-stream',
  },
};

export function isBodyId(value: string | undefined): value is BodyId {
  return value !== undefined && (ALL_BODY_IDS as readonly string[]).includes(value);
}
