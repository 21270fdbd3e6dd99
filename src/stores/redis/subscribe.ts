import type { Cluster, Redis } from 'ioredis';
import type { Subscription } from '../types.js';

/**
 * Listen to a pub/sub channel on a dedicated connection (a subscribed connection can run nothing else):
 * `listening(false)` whenever messages may be missed, `listening(true)` once subscribed again.
 */
export function subscribeOn(
  redis: Redis | Cluster,
  channel: string,
  onMessage: (message: string) => void,
  listening: (up: boolean) => void,
): Subscription {
  // A dedicated connection: a subscribed connection can run nothing else.
  const subscriber = redis.duplicate() as Redis;
  let closed = false;
  const subscribeNow = () => {
    subscriber.subscribe(channel).then(
      () => {
        if (!closed) listening(true);
      },
      () => listening(false),
    );
  };
  subscriber.on('error', () => {}); // the main client's failures are what the cache reports
  subscriber.on('ready', subscribeNow);
  for (const event of ['close', 'reconnecting', 'end']) subscriber.on(event, () => listening(false));
  subscriber.on('message', (from: string, message: string) => {
    if (from === channel) onMessage(message);
  });
  // A duplicate inherits `lazyConnect`: it would never connect, since nothing else is sent on it.
  if (subscriber.status === 'wait') subscriber.connect().catch(() => {});
  return {
    close: async () => {
      closed = true;
      listening(false);
      subscriber.disconnect();
    },
  };
}
