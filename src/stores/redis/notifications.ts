import type { LeaseEvent, LeaseNotice, LeaseWatch } from '../types.js';
import type { Channels, RedisDriver } from './driver.js';

/** How long notifications are left alone after the server refused a subscription (an ACL without it). */
const REFUSED_RETRY_MS = 60_000;

/** The events a lease script publishes (see `NOTIFY_FUNCTION` in `scripts.ts`). */
const EVENTS: ReadonlySet<string> = new Set(['filled', 'released', 'uncacheable']);

const LOST: LeaseNotice = { event: 'lost' };
const TIMEOUT: LeaseNotice = { event: 'timeout' };

/** One channel's subscription and the watches waiting on it. */
interface Subscribed {
  readonly watches: Set<FillWatch>;
  /** Settles `true` once the server confirmed the subscription, `false` when it failed. */
  readonly confirmed: Promise<boolean>;
}

/**
 * Fill notifications: a waiter for another process's fill subscribes to the lease key's channel, and the
 * holder's write (or release) publishes there (`WRITE_FILL`, `LEASE_RELEASE`, `REPLACE_HEAD`), so waiters
 * answer as soon as the entry is written instead of at their next poll. One pub/sub connection per client
 * (a Cluster: one per master, sharded channels), shared by every store on it and made at the first wait;
 * one subscription per lease being waited on, whatever the number of waiters; unsubscribed when the last
 * waiter is done. Whenever messages may have been missed (the connection dropped), every watch is told
 * `'lost'` and its waiter polls instead.
 */
export class FillNotifications {
  private channels: Channels | null = null;
  private readonly subscribed = new Map<string, Subscribed>();
  /** Until when subscriptions are not tried (the server refused one). */
  private refusedUntil = 0;

  constructor(private readonly driver: RedisDriver) {}

  /** Whether a waiter may count on being notified now (not refused): lease calls then mark it as watched. */
  usable(): boolean {
    return Date.now() >= this.refusedUntil;
  }

  /** Watch one lease (its key is its channel's name); `null` while subscriptions are refused. */
  watch(channel: string): LeaseWatch | null {
    if (!this.usable()) return null;
    let subscription = this.subscribed.get(channel);
    if (!subscription) {
      const confirmed = this.connection()
        .add(channel)
        .then(
          () => true,
          (error: unknown) => {
            if (isRefusal(error)) this.refusedUntil = Date.now() + REFUSED_RETRY_MS;
            this.drop(channel, made);
            return false;
          },
        );
      const made: Subscribed = { watches: new Set(), confirmed };
      subscription = made;
      this.subscribed.set(channel, made);
    }
    const owner = subscription;
    const watch = new FillWatch(owner.confirmed, () => {
      owner.watches.delete(watch);
      if (owner.watches.size === 0) this.drop(channel, owner);
    });
    owner.watches.add(watch);
    return watch;
  }

  /** Close the connection(s) (with the last store on the client); every watch is told `'lost'`. */
  release(): void {
    this.down();
    this.channels?.close();
    this.channels = null;
  }

  private connection(): Channels {
    this.channels ??= this.driver.channels(
      (channel, message) => {
        const subscription = this.subscribed.get(channel);
        if (!subscription) return;
        let copies = 0;
        for (const watch of subscription.watches) watch.deliver(notice(message, copies++ > 0));
      },
      () => this.down(),
    );
    return this.channels;
  }

  /** Messages may have been missed: every watch is lost (its waiter polls); new watches subscribe afresh. */
  private down(): void {
    const lost = [...this.subscribed.entries()];
    this.subscribed.clear();
    for (const [channel, subscription] of lost) {
      for (const watch of subscription.watches) watch.deliver(LOST);
      // Unsubscribed now (the client may resubscribe by itself on reconnect): nothing is left behind.
      void this.channels?.remove(channel).catch(() => {});
    }
  }

  /** Forget a subscription (its last watch closed, or it failed) and unsubscribe, unless a newer one took its place. */
  private drop(channel: string, subscription: Subscribed): void {
    if (this.subscribed.get(channel) !== subscription) return;
    this.subscribed.delete(channel);
    void this.channels?.remove(channel).catch(() => {});
  }
}

/** The longest holder token a notice may start with (see `leaseToken`). */
const MAX_TOKEN_LENGTH = 64;

/**
 * What a message on a lease's channel says: an event, or the holder's token, a space and the entry it
 * wrote ('filled'). Anything else (not one of ours) is taken as 'released': the waiter looks for itself.
 * `copy`: the value is another watch's too — each gets bytes of its own.
 */
function notice(message: Buffer, copy: boolean): LeaseNotice {
  const space = message.indexOf(0x20);
  if (space > 0 && space <= MAX_TOKEN_LENGTH) {
    const value = message.subarray(space + 1);
    return { event: 'filled', holder: message.toString('latin1', 0, space), value: copy ? Buffer.from(value) : value };
  }
  const text = message.length <= 16 ? message.toString('latin1') : '';
  return { event: EVENTS.has(text) ? (text as LeaseEvent) : 'released' };
}

/** A refusal of the subscription itself: an ACL without (S)SUBSCRIBE, a Redis without sharded pub/sub. */
function isRefusal(error: unknown): boolean {
  const message = error instanceof Error ? error.message : String(error);
  return message.startsWith('NOPERM') || /unknown command/i.test(message);
}

/** One waiter's view of a lease's notifications: what arrived since it last asked. */
class FillWatch implements LeaseWatch {
  private pending: LeaseNotice | null = null;
  private waiting: ((notice: LeaseNotice) => void) | null = null;
  private lost = false;
  private closed = false;

  constructor(
    readonly ready: Promise<boolean>,
    private readonly onClose: () => void,
  ) {}

  deliver(notice: LeaseNotice): void {
    if (this.lost || this.closed) return;
    if (notice.event === 'lost') this.lost = true;
    const waiting = this.waiting;
    if (waiting) {
      this.waiting = null;
      waiting(notice);
    } else {
      this.pending = notice;
    }
  }

  next(ms: number): Promise<LeaseNotice> {
    if (this.lost) return Promise.resolve(LOST);
    const pending = this.pending;
    if (pending) {
      this.pending = null;
      return Promise.resolve(pending);
    }
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.waiting = null;
        resolve(TIMEOUT);
      }, ms);
      this.waiting = (notice) => {
        clearTimeout(timer);
        resolve(notice);
      };
    });
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.waiting?.(LOST);
    this.waiting = null;
    this.onClose();
  }
}
