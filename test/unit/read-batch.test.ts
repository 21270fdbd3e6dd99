import { describe, expect, it } from 'vitest';
import type { RedisDriver } from '../../src/stores/redis/driver.js';
import { BATCH_BYTES, IN_FLIGHT_BYTES, MAX_BATCH_KEYS, ReadBatch } from '../../src/stores/redis/read-batch.js';

/** A client double that records the commands it is sent and answers from `values`. */
function recordingClient(values: Map<string, Buffer>) {
  const sent: string[][] = [];
  // The two reads of a driver (what ReadBatch uses of it).
  const client = {
    get: async (key: string) => {
      sent.push([key]);
      return values.get(key) ?? null;
    },
    mget: async (keys: readonly string[]) => {
      sent.push([...keys]);
      return keys.map((key) => values.get(key) ?? null);
    },
  };
  return { client: client as unknown as RedisDriver, sent };
}

const keys = (n: number, tag: string) => Array.from({ length: n }, (_, i) => `${tag}${i}`);

describe('ReadBatch', () => {
  it('sends the reads of one tick as one MGET and answers each read with its own value', async () => {
    const values = new Map(keys(20, 'k').map((k) => [k, Buffer.from(`v-${k}`)]));
    const { client, sent } = recordingClient(values);
    const batch = new ReadBatch(client);
    for (let i = 0; i < 40; i++) batch.wrote(10); // small values (before any is seen, batches hold 16 keys)
    const read = await Promise.all([...keys(20, 'k'), 'absent'].map((k) => batch.get(k)));
    expect(read.map((v) => (v ? v.toString() : null))).toEqual([...keys(20, 'k').map((k) => `v-${k}`), null]);
    expect(sent).toEqual([[...keys(20, 'k'), 'absent']]);
  });

  it('sends a lone read as a GET, and the reads of separate ticks separately', async () => {
    const { client, sent } = recordingClient(new Map([['a', Buffer.from('A')]]));
    const batch = new ReadBatch(client);
    expect((await batch.get('a'))?.toString()).toBe('A');
    expect((await batch.get('a'))?.toString()).toBe('A');
    expect(sent).toEqual([['a'], ['a']]);
  });

  it(`splits batches at ${MAX_BATCH_KEYS} keys for small values`, async () => {
    const values = new Map(keys(300, 's').map((k) => [k, Buffer.alloc(100)]));
    const { client, sent } = recordingClient(values);
    const batch = new ReadBatch(client);
    await Promise.all(keys(300, 's').map((k) => batch.get(k))); // learns the size
    sent.length = 0;
    await Promise.all(keys(300, 's').map((k) => batch.get(k)));
    expect(sent.map((c) => c.length)).toEqual([MAX_BATCH_KEYS, MAX_BATCH_KEYS, 300 - 2 * MAX_BATCH_KEYS]);
  });

  it(`reads large values in batches of about ${BATCH_BYTES / 1024} KiB, learnt from reads and writes`, async () => {
    const big = Buffer.alloc(200 * 1024);
    const values = new Map(keys(12, 'b').map((k) => [k, big]));
    const { client, sent } = recordingClient(values);
    const batch = new ReadBatch(client);
    for (let i = 0; i < 4; i++) batch.wrote(big.length); // writes of this size: batches shrink before any read
    await Promise.all(keys(12, 'b').map((k) => batch.get(k)));
    expect(Math.max(...sent.map((c) => c.length)) * big.length).toBeLessThanOrEqual(BATCH_BYTES);
    expect(sent.flat().sort()).toEqual(keys(12, 'b').sort());

    const huge = Buffer.alloc(BATCH_BYTES);
    for (const k of keys(4, 'h')) values.set(k, huge);
    for (let i = 0; i < 20; i++) batch.wrote(huge.length);
    sent.length = 0;
    await Promise.all(keys(4, 'h').map((k) => batch.get(k)));
    expect(sent).toEqual(keys(4, 'h').map((k) => [k])); // one GET each
  });

  it('rejects every read of a batch whose MGET fails, and sends the next batch normally', async () => {
    const { client, sent } = recordingClient(new Map([['x', Buffer.from('X')]]));
    const failing = client as unknown as { mget: (keys: string[]) => Promise<unknown> };
    const original = failing.mget;
    failing.mget = async () => {
      throw new Error('connection lost');
    };
    const batch = new ReadBatch(client);
    const results = await Promise.allSettled(['x', 'y'].map((k) => batch.get(k)));
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected']);
    failing.mget = original;
    const again = await Promise.all(['x', 'y'].map((k) => batch.get(k)));
    expect(again.map((v) => (v ? v.toString() : null))).toEqual(['X', null]);
    expect(sent).toEqual([['x', 'y']]);
  });

  it(`lets Redis owe at most about ${IN_FLIGHT_BYTES / 1024 / 1024} MiB of replies; flush() sends the rest at once`, async () => {
    const size = 500 * 1024;
    const sent: string[] = [];
    const answers: (() => void)[] = [];
    const client = {
      get: (key: string) => {
        sent.push(key);
        return new Promise<Buffer>((resolve) => answers.push(() => resolve(Buffer.alloc(size, key))));
      },
      mget: () => Promise.reject(new Error('large values are read one by one')),
    } as unknown as RedisDriver;
    const batch = new ReadBatch(client);
    for (let i = 0; i < 20; i++) batch.wrote(size);
    const reads = keys(20, 'big').map((k) => batch.get(k));
    await new Promise((resolve) => setImmediate(resolve));
    const allowed = Math.ceil(IN_FLIGHT_BYTES / size);
    expect(sent).toEqual(keys(allowed, 'big')); // the first ones, in order; the rest wait
    answers.shift()?.();
    await new Promise((resolve) => setImmediate(resolve));
    expect(sent).toEqual(keys(allowed + 1, 'big')); // one answer back, one more out
    batch.flush(); // before another command: everything goes, in order
    expect(sent).toEqual(keys(20, 'big'));
    while (answers.length > 0) answers.shift()?.();
    const values = await Promise.all(reads);
    expect(values.map((v, i) => v?.equals(Buffer.alloc(size, `big${i}`)))).toEqual(reads.map(() => true));
  });

  it('sends queued reads at once on flush()', async () => {
    const { client, sent } = recordingClient(new Map());
    const batch = new ReadBatch(client);
    const pending = [batch.get('a'), batch.get('b')];
    expect(sent).toEqual([]);
    batch.flush();
    expect(sent).toEqual([['a', 'b']]);
    await Promise.all(pending);
    expect(sent).toEqual([['a', 'b']]);
  });
});
