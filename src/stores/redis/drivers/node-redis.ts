import type { Subscription } from '../../types.js';
import { onClientReady, type Registry, shareOnClient, untilConnectionSettles, watchErrors } from '../client-hooks.js';
import type { Arg, Channels, Command, PipelineResult, RedisDriver, RedisNode, ScriptCall } from '../driver.js';
import { slotOf } from '../slots.js';

/**
 * A node-redis (`redis`, 5 and 6) client, cluster or sentinel: `createClient()`, `createCluster()`,
 * `createSentinel()`. Declared by the members the cache recognises one by, so that the published types
 * need no client library.
 */
export interface NodeRedisClient {
  readonly isOpen: boolean;
  readonly isReady: boolean;
  sendCommand(...args: any[]): Promise<unknown>;
}

/** Which node-redis object a value is: a client, a cluster, a sentinel, one of node-redis 4, or none. */
export function nodeRedisShape(value: unknown): 'client' | 'cluster' | 'sentinel' | 'v4' | null {
  const v = value as Record<string, unknown> | null;
  if (typeof v !== 'object' || v === null) return null;
  if (typeof v.sendCommand !== 'function' || typeof v.isOpen !== 'boolean') return null;
  if (typeof v.withTypeMapping !== 'function') return 'v4';
  if (typeof v.getSlotMaster === 'function' && typeof v.nodeClient === 'function') return 'cluster';
  if (typeof v.getMasterNode === 'function') return 'sentinel';
  return typeof v.duplicate === 'function' ? 'client' : null;
}

/** True for a node-redis 5 or 6 client, cluster or sentinel. */
export function isNodeRedisClient(value: unknown): value is NodeRedisClient {
  const shape = nodeRedisShape(value);
  return shape !== null && shape !== 'v4';
}

/** node-redis' RESP type codes (`RESP_TYPES`): blob strings as Buffers, maps as flat arrays (as RESP2). */
const REPLIES = { typeMapping: { 36: Buffer, 37: Array } } as const;

type Send = (...args: any[]) => Promise<unknown>;

interface Emitter {
  on(event: string, listener: (...args: any[]) => void): unknown;
  off(event: string, listener: (...args: any[]) => void): unknown;
  listenerCount(event: string): number;
}

interface ClientLike extends Emitter {
  readonly isOpen: boolean;
  readonly isReady: boolean;
  sendCommand: Send;
  duplicate(): ClientLike;
  connect(): Promise<unknown>;
  destroy(): void;
  subscribe(channel: string, listener: (message: string, channel: string) => void): Promise<unknown>;
  _resetDesyncedConnection?(error: Error): void;
}

interface ClusterLike extends Emitter {
  readonly isOpen: boolean;
  readonly isReady?: boolean;
  sendCommand: Send;
  readonly masters: { address: string }[];
  readonly slots: { master: { address: string } }[];
  nodeClient(node: { address: string }): Promise<ClientLike>;
  duplicate(): ClusterLike & { connect(): Promise<unknown>; destroy(): void; subscribe: ClientLike['subscribe'] };
}

interface SentinelLike extends Emitter {
  readonly isOpen: boolean;
  readonly isReady: boolean;
  sendCommand: Send;
  subscribe(channel: string, listener: (message: string, channel: string) => void): Promise<unknown>;
  unsubscribe(channel: string, listener: (message: string, channel: string) => void): Promise<unknown>;
}

/**
 * The node-redis driver. Commands go through `sendCommand` with replies mapped as RESP2 gives them (blob
 * strings as Buffers, maps as flat arrays), whatever protocol the client speaks (6 defaults to RESP3).
 * node-redis pipelines the commands of one tick by itself (nothing to hold). The client is the owner's:
 * it is never connected by the cache (one not connected yet is waited for within the store's budget, until
 * its owner connects it), and commands are sent only while it is ready.
 */
export class NodeRedisDriver implements RedisDriver {
  readonly library = 'node-redis';
  readonly topology: 'single' | 'cluster';
  private readonly shape: 'client' | 'cluster' | 'sentinel';
  private readonly client: ClientLike & ClusterLike & SentinelLike;
  private readonly errors: { last(): unknown; release(): void };
  private readonly handshakes: { release(): void } | null;

  constructor(client: NodeRedisClient, shape: 'client' | 'cluster' | 'sentinel') {
    this.client = client as unknown as ClientLike & ClusterLike & SentinelLike;
    this.shape = shape;
    this.topology = shape === 'cluster' ? 'cluster' : 'single';
    // node-redis emits `error` as an EventEmitter does: with no listener, the process would crash on the
    // first connection error. With the cache's the only one, it is printed instead (as ioredis does).
    this.errors = watchErrors(this.client as never, (error) =>
      console.error('[redis] error event with no listener:', error.stack),
    );
    this.handshakes =
      shape === 'client' ? shareOnClient(HANDSHAKES, this.client, () => watchHandshakes(this.client)) : null;
  }

  isReady(): boolean {
    // A cluster is ready once open (its nodes' clients connect on demand).
    return this.shape === 'cluster' ? this.client.isOpen : this.client.isReady;
  }

  state(): string {
    if (this.isReady()) return 'ready';
    return this.client.isOpen ? 'reconnecting' : 'closed';
  }

  starting(): Promise<void> | null {
    // Never connected by the cache: the owner does (`await client.connect()`); meanwhile, calls wait for it
    // within their budget — until an attempt has failed (refused, unreachable, wrong password): then "not
    // ready" means failing, and calls fail at once.
    if (this.errors.last() !== undefined) return null;
    return untilConnectionSettles(this.client as never);
  }

  onReady(listener: () => void): () => void {
    return onClientReady(this.client as never, listener);
  }

  lastError(): unknown {
    return this.errors.last();
  }

  /**
   * node-redis 6 can drop a connection whose replies are out of step and reconnect it
   * (`_resetDesyncedConnection`, the same handling as its own decoder errors); on 5, and on a cluster or a
   * sentinel, the cache cannot replace it: every reply is still checked (a wrong one is a miss), and the
   * breaker keeps a lying connection from costing requests.
   */
  distrust(): void {
    if (this.shape === 'client')
      this.client._resetDesyncedConnection?.(new Error('replies out of step with their commands'));
  }

  holdWrites(): void {
    // node-redis writes the commands of one tick in one socket write by itself.
  }

  sendHeldWrites(): void {
    // node-redis writes its queue on its own schedule (setImmediate).
  }

  release(): void {
    this.errors.release();
    this.handshakes?.release();
  }

  nodeOf(key: string): string | undefined {
    if (this.shape !== 'cluster') return undefined;
    return this.client.slots[slotOf(key)]?.master.address;
  }

  async masters(): Promise<RedisNode[]> {
    if (this.shape !== 'cluster') return [nodeFor('', (command) => this.send(undefined, command))];
    const cluster = this.client;
    return Promise.all(
      cluster.masters.map(async (master) => {
        const client = await cluster.nodeClient(master);
        return nodeFor(master.address, (command) => client.sendCommand(command, REPLIES));
      }),
    );
  }

  get(key: string): Promise<unknown> {
    return this.send(key, ['GET', key]);
  }

  mget(keys: readonly string[]): Promise<unknown> {
    return this.send(keys[0], ['MGET', ...keys]);
  }

  send(key: string | undefined, command: Command): Promise<unknown> {
    const args = command.map(toArgument);
    switch (this.shape) {
      case 'cluster':
        return this.client.sendCommand(key, false, args, REPLIES);
      case 'sentinel':
        return this.client.sendCommand(false, args, REPLIES);
      default:
        return this.client.sendCommand(args, REPLIES);
    }
  }

  evaluate(script: ScriptCall, bySha: boolean, keys: readonly string[], args: readonly Arg[]): Promise<unknown> {
    const command: Arg[] = bySha ? ['EVALSHA', script.sha] : ['EVAL', script.source];
    command.push(keys.length, ...keys, ...args);
    return this.send(keys[0], command);
  }

  async pipeline(key: string, commands: readonly Command[]): Promise<PipelineResult[]> {
    // Sent in one tick: node-redis writes them together, in order, on the slot's connection.
    return Promise.all(
      commands.map((command) =>
        this.send(key, command).then(
          (reply) => ({ error: null, reply }),
          (error: unknown) => ({ error, reply: null }),
        ),
      ),
    );
  }

  subscribe(channel: string, onMessage: (message: string) => void, listening: (up: boolean) => void): Subscription {
    let closed = false;
    const listener = (message: string) => {
      if (!closed) onMessage(message);
    };
    if (this.shape === 'sentinel') return this.subscribeOnSentinel(channel, listener, listening);
    // A connection of the cache's own (a subscribed connection can run nothing else), made like the owner's.
    const subscriber = this.client.duplicate() as ClientLike;
    subscriber.on('error', () => {}); // the main client's failures are what the cache reports
    subscriber.on('ready', () => {
      // node-redis resubscribes in its handshake, before `ready`.
      if (!closed && started) listening(true);
    });
    for (const event of ['end', 'reconnecting', 'error']) subscriber.on(event, () => listening(false));
    let started = false;
    subscriber
      .connect()
      .then(() => subscriber.subscribe(channel, listener))
      .then(
        () => {
          started = true;
          if (!closed) listening(true);
        },
        () => listening(false),
      );
    return {
      close: async () => {
        closed = true;
        listening(false);
        subscriber.destroy();
      },
    };
  }

  channels(onMessage: (channel: string, message: Buffer) => void, onDown: () => void): Channels {
    const listener = (message: Buffer, channel: Buffer) => onMessage(channel.toString(), message);
    if (this.shape === 'client') return clientChannels(this.client, listener, onDown);
    // A cluster subscribes to sharded channels through its own pub/sub connection to each slot's master
    // (node-redis follows slot moves); a sentinel keeps one pub/sub connection to the master and follows
    // failovers with it. Either way on the object you own: the cache adds listeners, no connection of its own.
    const cluster = this.shape === 'cluster';
    const target = this.client as unknown as PubSub;
    const downEvents = cluster ? ['node-disconnect', 'node-reconnecting'] : ['end', 'reconnecting'];
    for (const event of downEvents) this.client.on(event, onDown);
    const added = new Set<string>();
    return {
      add: async (channel) => {
        added.add(channel);
        await (cluster ? target.sSubscribe(channel, listener, true) : target.subscribe(channel, listener, true));
      },
      remove: async (channel) => {
        added.delete(channel);
        await (cluster ? target.sUnsubscribe(channel, listener, true) : target.unsubscribe(channel, listener, true));
      },
      close: () => {
        for (const event of downEvents) this.client.off(event, onDown);
        for (const channel of added)
          void (
            cluster ? target.sUnsubscribe(channel, listener, true) : target.unsubscribe(channel, listener, true)
          ).catch(() => {});
        added.clear();
      },
    };
  }

  /** A sentinel keeps its own pub/sub connection to the master, and follows failovers with it. */
  private subscribeOnSentinel(
    channel: string,
    listener: (message: string) => void,
    listening: (up: boolean) => void,
  ): Subscription {
    const sentinel = this.client;
    let closed = false;
    const up = () => {
      if (!closed) listening(true);
    };
    const down = () => listening(false);
    sentinel.subscribe(channel, listener).then(up, down);
    const removeReady = onClientReady(sentinel as never, up);
    sentinel.on('end', down);
    return {
      close: async () => {
        closed = true;
        listening(false);
        removeReady();
        sentinel.off('end', down);
        await sentinel.unsubscribe(channel, listener).catch(() => {});
      },
    };
  }
}

/** A listener in buffer mode: message and channel as bytes. */
type BufferListener = (message: Buffer, channel: Buffer) => void;

/** Subscribing and unsubscribing with a listener (in buffer mode), as node-redis clients, clusters and sentinels do. */
interface PubSub {
  subscribe(channel: string, listener: BufferListener, bufferMode: true): Promise<unknown>;
  unsubscribe(channel: string, listener: BufferListener, bufferMode: true): Promise<unknown>;
  sSubscribe(channel: string, listener: BufferListener, bufferMode: true): Promise<unknown>;
  sUnsubscribe(channel: string, listener: BufferListener, bufferMode: true): Promise<unknown>;
}

/** Channels on one connection of the cache's own, made like the owner's client and connected at first use. */
function clientChannels(client: ClientLike, listener: BufferListener, onDown: () => void): Channels {
  let subscriber: ClientLike | null = null;
  let connected: Promise<unknown> | null = null;
  const open = (): Promise<ClientLike> => {
    if (!subscriber) {
      const made = client.duplicate();
      made.on('error', () => {}); // the main client's failures are what the cache reports
      for (const event of ['end', 'reconnecting', 'error']) made.on(event, onDown);
      subscriber = made;
      connected = made.connect().catch((error: unknown) => {
        // Gave up connecting (its reconnect strategy said so): the next subscription makes a new one.
        if (subscriber === made) {
          subscriber = null;
          connected = null;
        }
        made.destroy();
        throw error;
      });
    }
    const ready = subscriber;
    return (connected as Promise<unknown>).then(() => ready);
  };
  return {
    add: async (channel) => {
      await ((await open()) as unknown as PubSub).subscribe(channel, listener, true);
    },
    remove: async (channel) => {
      if (subscriber) await (subscriber as unknown as PubSub).unsubscribe(channel, listener, true);
    },
    close: () => {
      subscriber?.destroy();
      subscriber = null;
      connected = null;
    },
  };
}

function toArgument(arg: Arg): string | Buffer {
  return typeof arg === 'number' ? String(arg) : arg;
}

function nodeFor(address: string, send: (command: (string | Buffer)[]) => Promise<unknown>): RedisNode {
  const node: RedisNode = {
    address,
    send: (command) => send(command.map(toArgument)),
    pipeline: (commands) =>
      Promise.all(
        commands.map((command) =>
          node.send(command).then(
            (reply) => ({ error: null, reply }),
            (error: unknown) => ({ error, reply: null }),
          ),
        ),
      ),
  };
  return node;
}

/** One handshake watch per client, however many stores use it. */
const HANDSHAKES: Registry<{ release(): void }> = new WeakMap();

/** How long a reconnect's handshake may go unanswered before its connection is dropped and made again. */
export const HANDSHAKE_TIMEOUT_MS = 1000;

/**
 * A reconnect whose handshake (`HELLO`, `SELECT`, `CLIENT SETINFO`) is never answered — a network that
 * swallowed it, a half-open path — leaves node-redis connected and waiting for ever: its `connectTimeout`
 * covers the TCP connect only, and the cache sends nothing while the client is not ready, so its silence
 * watch never sees it. After {@link HANDSHAKE_TIMEOUT_MS} the connection goes through the client's own
 * error-and-reconnect handling (`_resetDesyncedConnection`, node-redis 6). Only for a client that has been
 * ready before: a first connection is its owner's `connect()` to bound.
 */
function watchHandshakes(client: ClientLike & Emitter): { release(): void } {
  const reset = client._resetDesyncedConnection?.bind(client);
  if (!reset) return { release: () => {} };
  let everReady = client.isReady;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const stop = () => {
    if (timer) clearTimeout(timer);
    timer = undefined;
  };
  const onConnect = () => {
    stop();
    if (!everReady) return;
    timer = setTimeout(() => {
      timer = undefined;
      if (client.isOpen && !client.isReady)
        reset(new Error(`no answer to the handshake within ${HANDSHAKE_TIMEOUT_MS} ms`));
    }, HANDSHAKE_TIMEOUT_MS);
    timer.unref?.();
  };
  const onReady = () => {
    everReady = true;
    stop();
  };
  client.on('connect', onConnect);
  client.on('ready', onReady);
  client.on('end', stop);
  return {
    release() {
      stop();
      client.off('connect', onConnect);
      client.off('ready', onReady);
      client.off('end', stop);
    },
  };
}
