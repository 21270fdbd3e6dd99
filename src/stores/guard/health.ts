import { unref } from './deadlines.js';

/**
 * Calls sent and not yet answered (including those that timed out on our side but are still queued on the
 * connection) beyond which new calls are not made: nothing piles up behind a connection that stopped
 * answering while it is being replaced.
 */
export const MAX_UNANSWERED = 4096;

/** A connection that answered nothing for this long (at least) while calls were pending is replaced. */
export const SILENCE_MS = 1000;

/**
 * Watches whether the store answers while calls wait. A connection that answers nothing — a half-open
 * connection (a dead NAT, a failed host: no FIN, no RST), a stalled server — for `max(SILENCE_MS, 20 ×
 * storeTimeout)` while calls are pending is reported to `onSilence` (the guard then replaces it, as it does
 * a lying one), and the watch gives the new connection its own time.
 */
export class SilenceWatch {
  /** Calls sent and not answered yet (even if timed out on our side). */
  private unanswered = 0;
  /** When the store last answered anything. */
  lastAnswerAt = Date.now();
  private timer: NodeJS.Timeout | null = null;
  private readonly silenceMs: number;

  constructor(
    storeTimeoutMs: number,
    private readonly onSilence: (reason: string) => void,
  ) {
    this.silenceMs = Math.max(SILENCE_MS, 20 * storeTimeoutMs);
  }

  /** Whether so many calls wait unanswered that no more should be made. */
  get saturated(): boolean {
    return this.unanswered >= MAX_UNANSWERED;
  }

  /** A call went out: watch the connection while anything is unanswered. */
  sent(): void {
    if (this.unanswered === 0) this.lastAnswerAt = Date.now();
    this.unanswered++;
    this.timer ??= unref(setTimeout(this.check, this.silenceMs / 4));
  }

  /** A call was answered (a success or an error, in time or late). */
  answered(): void {
    this.unanswered--;
    this.lastAnswerAt = Date.now();
  }

  private readonly check = (): void => {
    this.timer = null;
    if (this.unanswered <= 0) return;
    const silent = Date.now() - this.lastAnswerAt;
    if (silent >= this.silenceMs) {
      this.onSilence(`no reply for ${Math.round(silent)} ms while calls wait: reconnecting`);
      this.lastAnswerAt = Date.now(); // give the new connection its own time
    }
    this.timer = unref(setTimeout(this.check, this.silenceMs / 4));
  };
}
