import { UnexpectedReplyError } from '../types.js';
import type { RedisDriver } from './driver.js';

interface Waiter {
  resolve(value: Buffer | null): void;
  reject(error: unknown): void;
}

/** Most keys sent in one `MGET`; a batch that reaches it is sent at once. */
export const MAX_BATCH_KEYS = 128;

/**
 * Bytes one `MGET` should bring back, by the values seen so far: large values are read in smaller batches
 * (500 KB values one by one). Redis builds a reply in one piece; a 32 MB reply of 64 large values kept it
 * busy for 50 ms on the bench machine, while 64 separate replies stream out one after the other.
 */
export const BATCH_BYTES = 512 * 1024;

/**
 * Bytes of replies (at the average value size) the batch lets Redis owe at once. Reads beyond it wait in
 * the queue until replies come back: Redis builds every reply of the commands it has read before sending
 * any, so 64 reads of 500 KB sent at once (32 MB) made the first answer wait tens of milliseconds, while
 * 8 at a time keep answers flowing. Any other command sends the whole queue first (order is kept).
 */
export const IN_FLIGHT_BYTES = 4 * 1024 * 1024;

/** Value size assumed before any value has been seen (16 keys per batch). */
const INITIAL_VALUE_BYTES = 32 * 1024;

/**
 * Reads of one tick sent as one command. Every `get` made before the current tick ends (including the
 * promise callbacks it runs) is queued, and the queue goes out on `process.nextTick` as a single `MGET`
 * (a lone key as a plain `GET`). Under load, many requests finish in the same tick (their replies arrive
 * in one socket read) and start their next read in it too: one command, one write to the socket and one
 * reply to parse for all of them, instead of one each. One request at a time pays nothing but the tick.
 *
 * A batch is also sent as soon as it holds {@link BATCH_BYTES} of values at the average size seen so far.
 *
 * Single-node connections only: in a Cluster, the keys of different requests sit in different slots.
 * {@link ReadBatch.flush} sends the queue at once; the store calls it before any other command, so that
 * commands still reach Redis in the order they were made.
 */
export class ReadBatch {
  private keys: string[] = [];
  private waiters: Waiter[] = [];
  private scheduled = false;
  /** Reply bytes expected for the reads sent and not yet answered (at the average size when sent). */
  private owed = 0;
  /** Moving average of the size of the values read and written (bytes); assumed mid-sized until seen. */
  private averageBytes = INITIAL_VALUE_BYTES;
  /** Keys per batch, from {@link BATCH_BYTES} and the average value size. */
  private batchKeys: number;

  constructor(
    private readonly client: RedisDriver,
    private readonly maxKeys = MAX_BATCH_KEYS,
  ) {
    this.batchKeys = keysFor(INITIAL_VALUE_BYTES, maxKeys);
  }

  get(key: string): Promise<Buffer | null> {
    return new Promise<Buffer | null>((resolve, reject) => {
      this.keys.push(key);
      this.waiters.push({ resolve, reject });
      if (this.keys.length >= this.batchKeys) {
        this.sendAllowed();
      } else if (!this.scheduled) {
        this.scheduled = true;
        process.nextTick(this.onTick);
      }
    });
  }

  /** Send every queued read now, whatever Redis owes (before another command: order is kept). */
  flush(): void {
    while (this.keys.length > 0) this.send(Math.min(this.keys.length, this.batchKeys));
  }

  /** Send queued reads in batches while Redis owes less than {@link IN_FLIGHT_BYTES}. */
  private sendAllowed(): void {
    while (this.keys.length > 0 && this.owed < IN_FLIGHT_BYTES) {
      this.send(Math.min(this.keys.length, this.batchKeys));
    }
  }

  /** Send the first `count` queued reads as one command. */
  private send(count: number): void {
    const keys = count === this.keys.length ? this.keys : this.keys.slice(0, count);
    const waiters = count === this.waiters.length ? this.waiters : this.waiters.slice(0, count);
    this.keys = count === this.keys.length ? [] : this.keys.slice(count);
    this.waiters = count === this.waiters.length ? [] : this.waiters.slice(count);
    const owed = keys.length * this.averageBytes;
    this.owed += owed;
    const settled = () => {
      this.owed -= owed;
      if (this.keys.length > 0 && !this.scheduled) this.sendAllowed();
    };
    if (keys.length === 1) {
      const waiter = waiters[0] as Waiter;
      this.client.get(keys[0] as string).then(
        (value: unknown) => {
          settled();
          // A reply that cannot answer a GET: the connection is out of step (see UnexpectedReplyError).
          if (value !== null && !Buffer.isBuffer(value)) return waiter.reject(new UnexpectedReplyError('GET', value));
          if (value) this.sized(value.length, 1);
          waiter.resolve(value);
        },
        (error: unknown) => {
          settled();
          waiter.reject(error);
        },
      );
      return;
    }
    this.client.mget(keys).then(
      (values: unknown) => {
        if (!Array.isArray(values) || values.length !== keys.length || !values.every(isBulk)) {
          const error = new UnexpectedReplyError('MGET', values);
          for (const waiter of waiters) waiter.reject(error);
          settled();
          return;
        }
        let bytes = 0;
        let found = 0;
        for (let i = 0; i < waiters.length; i++) {
          const value = values[i] ?? null;
          if (value) {
            bytes += value.length;
            found++;
          }
          (waiters[i] as Waiter).resolve(value);
        }
        if (found > 0) this.sized(bytes, found);
        settled();
      },
      (error: unknown) => {
        for (const waiter of waiters) waiter.reject(error);
        settled();
      },
    );
  }

  /** Learn the size of a value written (the store calls it): reads of it will bring it back. */
  wrote(bytes: number): void {
    this.sized(bytes, 1);
  }

  /** Learn from `count` values of `bytes` in all (absent keys count as empty); resize the batches. */
  private sized(bytes: number, count: number): void {
    // Quick to grow, slow to shrink: one batch of large values costs more than many small batches.
    const mean = bytes / count;
    this.averageBytes += (mean - this.averageBytes) * Math.min(1, mean > this.averageBytes ? count / 2 : count / 16);
    this.batchKeys = keysFor(this.averageBytes, this.maxKeys);
  }

  private readonly onTick = (): void => {
    this.scheduled = false;
    this.sendAllowed();
  };
}

function isBulk(value: unknown): boolean {
  return value === null || Buffer.isBuffer(value);
}

function keysFor(valueBytes: number, maxKeys: number): number {
  return Math.max(1, Math.min(maxKeys, Math.floor(BATCH_BYTES / Math.max(1, valueBytes))));
}
