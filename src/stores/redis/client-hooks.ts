import type { Socket } from 'node:net';

/**
 * What the cache hangs on a client it does not own (ioredis or node-redis: both are EventEmitters), shared
 * by every store on that client and taken back by the last one's `close()`.
 */

/** What the cache needs of a client to watch it: its events (and, for ioredis, its current stream). */
interface Watched {
  on?(event: string, listener: (...args: any[]) => void): unknown;
  off?(event: string, listener: (...args: any[]) => void): unknown;
  stream?: Socket;
  nodes?(role?: string): Watched[];
}

function ignore(): void {}

/**
 * Make sure every error on the sockets of an ioredis client is handled. ioredis listens to its socket's
 * `error` with `once`: a second error on the same socket (a TLS connection whose records are corrupted
 * fails twice — the decrypt error, then the write after it) has no listener, and Node crashes the process
 * with an unhandled 'error' event (plain ioredis does too; its maintainers declined the change). The cache
 * adds a no-op `error` listener to each socket the client (or each Cluster node) opens, on its `connect`
 * event; ioredis still sees the first error and reconnects as usual. Returns the function that removes
 * everything it added (the `connect` / `+node` listeners and those on the open sockets): `closeCache`.
 */
export function handleStreamErrors(client: Watched): () => void {
  return shareOnClient(STREAMS, client, () => ({ release: watchClient(client) })).release;
}

const STREAMS: Registry<{ release(): void }> = new WeakMap();

/** Hooks of one kind, by client: each shared by every store on that client. */
export type Registry<T> = WeakMap<object, { users: number; hook: T }>;

/**
 * One hook of a kind per client, however many stores (cached instances) use the client: `create` runs for
 * the first user; `release` takes the hook back (its own `release()`) with the last. 100 instances on one
 * client add one set of listeners, not 100 (Node warns from the 11th listener of an event).
 */
export function shareOnClient<T extends { release(): void }>(
  registry: Registry<T>,
  client: object,
  create: () => T,
): { hook: T; release: () => void } {
  let entry = registry.get(client);
  if (!entry) {
    entry = { users: 0, hook: create() };
    registry.set(client, entry);
  }
  entry.users++;
  const shared = entry;
  let released = false;
  return {
    hook: shared.hook,
    release: () => {
      if (released) return;
      released = true;
      if (--shared.users > 0) return;
      shared.hook.release();
      if (registry.get(client) === shared) registry.delete(client);
    },
  };
}

const READY = new WeakMap<object, { listeners: Set<() => void>; fire: () => void }>();

/**
 * Call `listener` on each of the client's `ready` events, through one listener on the client however
 * many cached instances share it (100 instances on one client added 200 listeners before: Node warned
 * from the 6th). Returns the function that removes it; the client's own listener goes with the last.
 */
export function onClientReady(client: Watched, listener: () => void): () => void {
  let fanOut = READY.get(client);
  if (!fanOut) {
    const listeners = new Set<() => void>();
    const fire = () => {
      for (const each of [...listeners]) each();
    };
    fanOut = { listeners, fire };
    READY.set(client, fanOut);
    client.on?.('ready', fire);
  }
  const entry = fanOut;
  const once = () => listener();
  entry.listeners.add(once);
  return () => {
    if (!entry.listeners.delete(once) || entry.listeners.size > 0) return;
    client.off?.('ready', entry.fire);
    READY.delete(client);
  };
}

function watchClient(client: Watched): () => void {
  const watched: { emitter: Watched; event: string; listener: () => void }[] = [];
  const sockets = new Set<Socket>();
  const cover = (socket: Socket | undefined) => {
    if (!socket || sockets.has(socket)) return;
    sockets.add(socket);
    socket.on('error', ignore);
    socket.once('close', () => sockets.delete(socket));
  };
  const watch = (emitter: Watched) => {
    const onConnect = () => cover(emitter.stream);
    emitter.on?.('connect', onConnect);
    watched.push({ emitter, event: 'connect', listener: onConnect });
    cover(emitter.stream);
  };
  if (typeof client.nodes === 'function') {
    // A Cluster: each node is a client of its own, and nodes come and go with the topology.
    for (const node of client.nodes()) watch(node);
    const onNode = (node: Watched) => watch(node);
    client.on?.('+node', onNode);
    watched.push({ emitter: client, event: '+node', listener: onNode as () => void });
  } else {
    watch(client);
  }
  return () => {
    for (const { emitter, event, listener } of watched) emitter.off?.(event, listener);
    watched.length = 0;
    for (const socket of sockets) socket.off('error', ignore);
    sockets.clear();
  };
}

/** The client events that end a first connection attempt, one way or the other. */
const STARTUP_OUTCOMES = ['ready', 'close', 'end', 'error'] as const;

const STARTING = new WeakMap<object, Promise<void>>();

/**
 * A promise settled by whatever ends the client's connection attempt first — ready, or the attempt failing
 * — shared by every store on the client (one listener per event, removed when it settles), so that calls
 * waiting on it never hold on to a promise that stays pending.
 */
export function untilConnectionSettles(client: Watched): Promise<void> {
  let starting = STARTING.get(client);
  if (!starting) {
    starting = new Promise<void>((resolve) => {
      const settle = () => {
        for (const event of STARTUP_OUTCOMES) client.off?.(event, settle);
        STARTING.delete(client);
        resolve();
      };
      for (const event of STARTUP_OUTCOMES) client.on?.(event, settle);
    });
    STARTING.set(client, starting);
  }
  return starting;
}

const ERRORS: Registry<{ last: unknown; release(): void }> = new WeakMap();

/**
 * Remember the client's last `error` event since it was last `ready` (what `RedisStore.lastError` says).
 * A listener on the client changes what the library does with an error nobody else listens to (ioredis
 * prints "[ioredis] Unhandled error event"; node-redis, an EventEmitter, would crash the process):
 * `alone(error)` runs when this one is the only listener — the driver prints the library's own line. One
 * listener per client, shared; the returned function removes it with the last user.
 */
export function watchErrors(
  client: Watched & { listenerCount?(event: string): number },
  alone: (error: Error) => void,
): {
  last(): unknown;
  release(): void;
} {
  const { hook, release } = shareOnClient(ERRORS, client, () => {
    const created = { last: undefined as unknown, release: () => {} };
    const onError = (error: unknown) => {
      created.last = error;
      if (client.listenerCount?.('error') === 1 && error instanceof Error) alone(error);
    };
    const onReady = () => {
      created.last = undefined;
    };
    client.on?.('error', onError);
    client.on?.('ready', onReady);
    created.release = () => {
      client.off?.('error', onError);
      client.off?.('ready', onReady);
    };
    return created;
  });
  return { last: () => hook.last, release };
}
