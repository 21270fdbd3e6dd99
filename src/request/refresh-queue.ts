/**
 * Background refreshes of one cached instance, run a few at a time. Stale answers do not wait for their
 * refresh, so after a soft eviction of thousands of entries (or many keys expiring at once under
 * stale-while-revalidate) every stale answer would start one at once: the origin would see a burst as
 * large as the callers' rate, and the process would spend its time on them. Here they wait their turn:
 * at most `limit` run, the others queue (first come, first served) and start as those end — the origin
 * sees refreshes at the pace it answers them. Past `maxWaiting` queued, a refresh is not queued (a later
 * stale answer of its key asks again).
 */
export class RefreshQueue {
  private running = 0;
  private readonly waiting: (() => Promise<void>)[] = [];

  constructor(
    private readonly limit: number,
    private readonly maxWaiting: number,
  ) {}

  /** Refreshes running and waiting. */
  get size(): number {
    return this.running + this.waiting.length;
  }

  /** Run `work` now, or when its turn comes; `false` when the queue is full (not run). Never rejects. */
  add(work: () => Promise<void>): boolean {
    if (this.running < this.limit) {
      this.start(work);
      return true;
    }
    if (this.waiting.length >= this.maxWaiting) return false;
    this.waiting.push(work);
    return true;
  }

  private start(work: () => Promise<void>): void {
    this.running++;
    work()
      .catch(() => {})
      .finally(() => {
        this.running--;
        const next = this.waiting.shift();
        if (next) this.start(next);
      });
  }
}

/** Background refreshes an instance runs at once. */
export const REFRESH_CONCURRENCY = 16;
/** Background refreshes an instance keeps waiting for their turn. */
export const REFRESH_QUEUE = 4096;
