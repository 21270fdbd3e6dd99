import { createHash } from 'node:crypto';
import type { Cluster, Redis } from 'ioredis';

/** A Lua script run by EVALSHA, falling back to EVAL once when the server does not know it yet. */
export class LuaScript {
  readonly sha: string;
  /** Clients this script was sent to in full: later calls send only its SHA. */
  private readonly sent = new WeakSet<object>();

  constructor(readonly source: string) {
    this.sha = createHash('sha1').update(source).digest('hex');
  }

  /**
   * Run the script: `EVAL` the first time on a client, `EVALSHA` after that (and `EVAL` again if Redis
   * has forgotten it: restarted, failed over, or another Cluster node). The first call goes out at once
   * rather than after a `NOSCRIPT` round trip, so it keeps its place among the calls made after it.
   */
  run(client: Redis | Cluster, keys: readonly string[], args: readonly (string | number | Buffer)[]): Promise<unknown> {
    return this.send(client as unknown as Scripting, TEXT_REPLIES, keys, args);
  }

  /** As {@link run}, with bulk replies as Buffers (for scripts that return stored bytes). */
  runBuffer(
    client: Redis | Cluster,
    keys: readonly string[],
    args: readonly (string | number | Buffer)[],
  ): Promise<unknown> {
    return this.send(client as unknown as Scripting, BUFFER_REPLIES, keys, args);
  }

  private send(
    client: Scripting,
    commands: ScriptCommands,
    keys: readonly string[],
    args: readonly (string | number | Buffer)[],
  ): Promise<unknown> {
    const { 0: evalCommand, 1: evalshaCommand } = commands;
    if (!this.sent.has(client)) {
      this.sent.add(client);
      return client[evalCommand](this.source, keys.length, ...keys, ...args);
    }
    return client[evalshaCommand](this.sha, keys.length, ...keys, ...args).catch((error: unknown) => {
      if (isNoScript(error)) return client[evalCommand](this.source, keys.length, ...keys, ...args);
      throw error;
    });
  }
}

type ScriptCall = (script: string, keyCount: number, ...keysAndArgs: (string | number | Buffer)[]) => Promise<unknown>;

/** The script commands of an ioredis client: every command has a Buffer twin, whose typings ioredis omits. */
interface Scripting {
  eval: ScriptCall;
  evalsha: ScriptCall;
  evalBuffer: ScriptCall;
  evalshaBuffer: ScriptCall;
}

type ScriptCommands = readonly [run: keyof Scripting, runBySha: keyof Scripting];
const TEXT_REPLIES: ScriptCommands = ['eval', 'evalsha'];
const BUFFER_REPLIES: ScriptCommands = ['evalBuffer', 'evalshaBuffer'];

function isNoScript(error: unknown): boolean {
  return error instanceof Error && error.message.startsWith('NOSCRIPT');
}

/** Redis' own clock in milliseconds (all expiries are computed on the server: no clock skew between hosts). */
const SERVER_NOW = `
if redis.replicate_commands then pcall(redis.replicate_commands) end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
`;

/**
 * Index rules (after SERVER_NOW): an index is a sorted set of entry keys scored by their expiry; adding
 * forgets expired members and makes the index expire with its longest-lived member.
 */
const INDEX_FUNCTION = `
local function index_add(index, member, ttl)
  redis.call('ZREMRANGEBYSCORE', index, '-inf', now)
  redis.call('ZADD', index, now + ttl, member)
  local top = redis.call('ZRANGE', index, -1, -1, 'WITHSCORES')
  redis.call('PEXPIREAT', index, top[2])
end
`;

/** Lease rules: take `lease` for `token` if it is free; 'acquired', 'held', or 'uncacheable' (the marker). */
const ACQUIRE_FUNCTION = `
local function acquire(lease, token, ttl, marker)
  local v = redis.call('GET', lease)
  if not v then
    redis.call('SET', lease, token, 'PX', ttl)
    return 'acquired'
  end
  if v == marker then return 'uncacheable' end
  return 'held'
end
`;

/** Add a member to an index. KEYS[1] index; ARGV[1] member; ARGV[2] member TTL (ms). */
export const INDEX_ADD = new LuaScript(`${SERVER_NOW}${INDEX_FUNCTION}
index_add(KEYS[1], ARGV[1], tonumber(ARGV[2]))
return 1
`);

/**
 * Take a fill lease if it is free. KEYS[1] lease; ARGV[1] token; ARGV[2] TTL (ms); ARGV[3] the
 * "uncacheable" marker. Returns 'acquired', 'held' or 'uncacheable'.
 */
export const LEASE_ACQUIRE = new LuaScript(`${ACQUIRE_FUNCTION}
return acquire(KEYS[1], ARGV[1], ARGV[2], ARGV[3])
`);

/**
 * As LEASE_ACQUIRE, and read the entry in the same atomic call. KEYS[1] lease, KEYS[2] entry. Returns
 * { state, entry or false }.
 */
export const LEASE_ACQUIRE_READ = new LuaScript(`${ACQUIRE_FUNCTION}
return { acquire(KEYS[1], ARGV[1], ARGV[2], ARGV[3]), redis.call('GET', KEYS[2]) }
`);

/**
 * Read the entry; only when it is absent, take the fill lease as LEASE_ACQUIRE does — a miss learns in
 * one round trip what a read and then a lease call would. KEYS[1] entry, KEYS[2] lease; ARGV as
 * LEASE_ACQUIRE. Returns { entry } when present, { false, state } when absent.
 */
export const READ_OR_LEASE = new LuaScript(`${ACQUIRE_FUNCTION}
local v = redis.call('GET', KEYS[1])
if v then return { v } end
return { false, acquire(KEYS[2], ARGV[1], ARGV[2], ARGV[3]) }
`);

/**
 * Release a lease only if the token still owns it: delete it, or (ARGV[2] > 0) replace it with the
 * "uncacheable" marker ARGV[3] for ARGV[2] ms. KEYS[1] lease; ARGV[1] token.
 */
export const LEASE_RELEASE = new LuaScript(`
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
if tonumber(ARGV[2]) > 0 then
  redis.call('SET', KEYS[1], ARGV[3], 'PX', ARGV[2])
else
  redis.call('DEL', KEYS[1])
end
return 1
`);

/**
 * Extend a lease only if the token still owns it. KEYS[1] lease; ARGV[1] token, ARGV[2] TTL (ms).
 * Returns 1 when extended, 0 otherwise.
 */
export const LEASE_RENEW = new LuaScript(`
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1
`);

/**
 * A whole write in one call: store the entry, add it to the indexes of its own slot, release the fill
 * lease if the token still owns it, and announce it on a channel. KEYS[1] entry, KEYS[2] lease, KEYS[3..]
 * indexes; ARGV[1] value, ARGV[2] TTL (ms), ARGV[3] token ('' for none), ARGV[4] channel ('' for none),
 * ARGV[5] message. Returns 1 + the number of clients that received the announcement.
 */
export const WRITE_FILL = new LuaScript(`${SERVER_NOW}${INDEX_FUNCTION}
local ttl = tonumber(ARGV[2])
redis.call('SET', KEYS[1], ARGV[1], 'PX', ttl)
for i = 3, #KEYS do index_add(KEYS[i], KEYS[1], ttl) end
if ARGV[3] ~= '' and redis.call('GET', KEYS[2]) == ARGV[3] then redis.call('DEL', KEYS[2]) end
local listeners = 0
if ARGV[4] ~= '' then listeners = redis.call('PUBLISH', ARGV[4], ARGV[5]) end
return 1 + listeners
`);

/**
 * After a revalidation: replace the head of a stored entry (its first #ARGV[1] bytes) by ARGV[2] and set
 * its TTL to ARGV[3] ms, only if it still starts with ARGV[1]; release the lease if ARGV[4] (token, '' for
 * none) still owns it. KEYS[1] entry, KEYS[2] lease. The body stays on the server. Returns 1 when replaced.
 */
export const REPLACE_HEAD = new LuaScript(`
local done = 0
local v = redis.call('GET', KEYS[1])
if v and string.sub(v, 1, #ARGV[1]) == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[2] .. string.sub(v, #ARGV[1] + 1), 'PX', ARGV[3])
  done = 1
end
if ARGV[4] ~= '' and redis.call('GET', KEYS[2]) == ARGV[4] then redis.call('DEL', KEYS[2]) end
return done
`);
