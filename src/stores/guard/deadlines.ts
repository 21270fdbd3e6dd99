/** The sweep timer never keeps a process alive by itself (a pending store call has its own connection). */
export function unref(timer: NodeJS.Timeout): NodeJS.Timeout {
  timer.unref?.();
  return timer;
}

/** A pending call's deadline; `expire` is null once it settled (or expired). */
export interface Watch {
  readonly at: number;
  expire: (() => void) | null;
}

/**
 * The deadlines of pending store calls, under one timer. The watches are kept in deadline order — most
 * calls have the same budget and land at the end; a write given time for its bytes goes further back — and
 * a sweep expires those at the front. (In arrival order, one write's long deadline at the front held back
 * the expiry of every read behind it: 143 ms reads against a slow Redis with a 50 ms budget.)
 */
export class Deadlines {
  private watches: Watch[] = [];
  private sweeper: NodeJS.Timeout | null = null;

  /** Call `expire` at `at` (ms since epoch), unless the call settles first and sets `expire` to null. */
  watch(at: number, expire: () => void): Watch {
    const watch: Watch = { at, expire };
    const { watches } = this;
    let i = watches.length;
    while (i > 0 && (watches[i - 1] as Watch).at > at) i--;
    if (i === watches.length) watches.push(watch);
    else watches.splice(i, 0, watch);
    if (i === 0 && this.sweeper) {
      // A new earliest deadline: the sweep is due sooner.
      clearTimeout(this.sweeper);
      this.sweeper = null;
    }
    this.sweeper ??= unref(setTimeout(this.sweep, Math.max(1, at - Date.now())));
    return watch;
  }

  private readonly sweep = (): void => {
    this.sweeper = null;
    const now = Date.now();
    const watches = this.watches;
    let head = 0;
    for (; head < watches.length; head++) {
      const watch = watches[head] as Watch;
      if (watch.expire === null) continue;
      if (watch.at > now) break;
      // Timers run before the event loop polls for I/O: on a busy process, the reply may already be waiting
      // in the socket. Give it one poll phase (setImmediate runs right after it) before calling it late.
      setImmediate(watch.expire);
      watch.expire = null;
    }
    this.watches = head === watches.length ? [] : watches.slice(head);
    const next = this.watches[0];
    if (next) this.sweeper = unref(setTimeout(this.sweep, Math.max(1, next.at - now)));
  };
}
