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
 * The deadlines of pending store calls, under one timer: every call has the same budget, so the watches
 * are in deadline order, and a sweep expires those at the front.
 */
export class Deadlines {
  private watches: Watch[] = [];
  private sweeper: NodeJS.Timeout | null = null;

  /** Call `expire` at `at` (ms since epoch), unless the call settles first and sets `expire` to null. */
  watch(at: number, expire: () => void): Watch {
    const watch: Watch = { at, expire };
    this.watches.push(watch);
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
