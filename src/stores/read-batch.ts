import type { Redis } from 'ioredis';

interface Waiter {
  resolve(value: Buffer | null): void;
  reject(error: unknown): void;
}

/** Most keys sent in one `MGET`; a batch that reaches it is sent at once. */
export const MAX_BATCH_KEYS = 128;

/**
 * Reads of one tick sent as one command. Every `get` made before the current tick ends (including the
 * promise callbacks it runs) is queued, and the queue goes out on `process.nextTick` as a single `MGET`
 * (a lone key as a plain `GET`). Under load, many requests finish in the same tick (their replies arrive
 * in one socket read) and start their next read in it too: one command, one write to the socket and one
 * reply to parse for all of them, instead of one each. One request at a time pays nothing but the tick.
 *
 * Single-node connections only: in a Cluster, the keys of different requests sit in different slots.
 * {@link ReadBatch.flush} sends the queue at once; the store calls it before any other command, so that
 * commands still reach Redis in the order they were made.
 */
export class ReadBatch {
  private keys: string[] = [];
  private waiters: Waiter[] = [];
  private scheduled = false;

  constructor(
    private readonly client: Redis,
    private readonly maxKeys = MAX_BATCH_KEYS,
  ) {}

  get(key: string): Promise<Buffer | null> {
    return new Promise<Buffer | null>((resolve, reject) => {
      this.keys.push(key);
      this.waiters.push({ resolve, reject });
      if (this.keys.length >= this.maxKeys) {
        this.flush();
      } else if (!this.scheduled) {
        this.scheduled = true;
        process.nextTick(this.onTick);
      }
    });
  }

  /** Send the queued reads now. */
  flush(): void {
    const keys = this.keys;
    if (keys.length === 0) return;
    const waiters = this.waiters;
    this.keys = [];
    this.waiters = [];
    if (keys.length === 1) {
      const waiter = waiters[0] as Waiter;
      this.client.getBuffer(keys[0] as string).then(waiter.resolve, waiter.reject);
      return;
    }
    this.client.mgetBuffer(keys).then(
      (values) => {
        for (let i = 0; i < waiters.length; i++) (waiters[i] as Waiter).resolve(values[i] ?? null);
      },
      (error: unknown) => {
        for (const waiter of waiters) waiter.reject(error);
      },
    );
  }

  private readonly onTick = (): void => {
    this.scheduled = false;
    this.flush();
  };
}
