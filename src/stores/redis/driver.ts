import type { Subscription } from '../types.js';

/**
 * What `RedisStore` needs of a Redis client library: the one place where ioredis and node-redis differ.
 * The key layout, the Lua scripts, the reply checks, the ordering and the failure handling are written once
 * over this interface (`store.ts` and its parts); each client library gets a small driver
 * (`drivers/ioredis.ts`, `drivers/node-redis.ts`) for its commands, buffers, connection state, pipelining,
 * subscriptions and cluster topology.
 *
 * Replies are raw: a bulk string is a `Buffer`, `null` when absent, an integer a `number`, an array an
 * array (as RESP2 gives them; a driver on RESP3 maps its replies to the same shapes). Commands are sent in
 * the order they are made — on one connection, or on one Cluster slot's connection.
 */

/** One argument of a command. */
export type Arg = string | number | Buffer;

/** A command and its arguments: `['SET', key, value, 'PX', 1000]`. */
export type Command = readonly Arg[];

/** One command's outcome in a pipeline: its error, or its reply. */
export interface PipelineResult {
  error: unknown;
  reply: unknown;
}

/** One server that holds keys (a Cluster master, or the one server): walked by SCAN. */
export interface RedisNode {
  /** `host:port`, as the topology names it (`''` when not known). */
  readonly address: string;
  /** Send a command to this node. */
  send(command: Command): Promise<unknown>;
  /** Send commands to this node in one round trip (not a transaction). */
  pipeline(commands: readonly Command[]): Promise<PipelineResult[]>;
}

/** A script as the driver runs it: by SHA (`EVALSHA`), or its source (`EVAL`). */
export interface ScriptCall {
  readonly sha: string;
  readonly source: string;
}

export interface RedisDriver {
  /** `ioredis` or `node-redis`. */
  readonly library: 'ioredis' | 'node-redis';
  /** `single` (one server, or Sentinel-managed), `cluster`. */
  readonly topology: 'single' | 'cluster';

  /** Whether commands may be sent now (connected and ready). */
  isReady(): boolean;
  /** A short state name for reports (`ready`, `connecting`, `reconnecting`, `closed`, …). */
  state(): string;
  /**
   * While the client makes its first connection (or waits for its owner to connect it), a promise settled
   * by whatever ends the attempt (ready, error, close); `null` otherwise.
   */
  starting(): Promise<void> | null;
  /** Call `listener` on every `ready` (after a reconnect too); returns the function that removes it. */
  onReady(listener: () => void): () => void;
  /** The client's last error since it was last ready (its own words: `WRONGPASS …`), or `undefined`. */
  lastError(): unknown;
  /**
   * A reply could not belong to its command: drop the connection and let the client make a new one. What a
   * driver can do depends on the library (see the README's Stores section).
   */
  distrust(): void;
  /** Before a lease call or a write: the commands of this round of I/O may leave in one socket write. */
  holdWrites(): void;
  /**
   * Let what {@link holdWrites} holds leave soon — once the current run of promise callbacks is over,
   * not at the end of the tick (a fill's write: its waiters are told by it).
   */
  sendHeldWrites(): void;
  /** Take back every listener the driver added to the client (`RedisStore.close`). */
  release(): void;

  /** The master that serves a key (a Cluster), or `undefined` (one server). */
  nodeOf(key: string): string | undefined;
  /** Every server that holds keys: the one, or every master of a Cluster. */
  masters(): Promise<RedisNode[]>;

  /** `GET key`. */
  get(key: string): Promise<unknown>;
  /** `MGET keys…` (one server only: see `topology`). */
  mget(keys: readonly string[]): Promise<unknown>;
  /** A command about `key` (routed by it on a Cluster), or about no key (`undefined`: any node). */
  send(key: string | undefined, command: Command): Promise<unknown>;
  /** A script: `EVALSHA` (`bySha`) or `EVAL`, on the node of its first key. */
  evaluate(script: ScriptCall, bySha: boolean, keys: readonly string[], args: readonly Arg[]): Promise<unknown>;
  /** Commands about keys of one slot (`key`'s), in one round trip. */
  pipeline(key: string, commands: readonly Command[]): Promise<PipelineResult[]>;
  /**
   * Listen to a channel on a connection of the driver's own (a subscribed connection can run nothing
   * else): `listening(false)` whenever messages may be missed, `listening(true)` once subscribed again.
   */
  subscribe(channel: string, onMessage: (message: string) => void, listening: (up: boolean) => void): Subscription;
  /**
   * A pub/sub connection of the driver's own for many channels, each subscribed and unsubscribed on its
   * own (the fill notifications: a channel per lease being waited on). On a Cluster, sharded
   * (`SSUBSCRIBE`, to the master of the channel's slot). `onMessage` gets every message, as bytes; `onDown` is called
   * whenever messages may have been missed (a connection closed or reconnecting). Connected at first use.
   */
  channels(onMessage: (channel: string, message: Buffer) => void, onDown: () => void): Channels;
}

/** What {@link RedisDriver.channels} returns. */
export interface Channels {
  /** Subscribe to `channel`; resolves once the server confirmed, rejects when it refused or failed. */
  add(channel: string): Promise<void>;
  /** Unsubscribe from `channel` (sent after its `add`, on the same connection). */
  remove(channel: string): Promise<void>;
  /** Close every connection it made. */
  close(): void;
}

/** A reply as text: a Buffer decoded as UTF-8, a string as it is, anything else `null`. */
export function text(reply: unknown): string | null {
  if (typeof reply === 'string') return reply;
  return Buffer.isBuffer(reply) ? reply.toString('utf8') : null;
}
