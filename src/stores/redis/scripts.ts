import { createHash } from 'node:crypto';
import { UNCACHEABLE_MARKER } from '../types.js';
import type { Arg, RedisDriver } from './driver.js';

/** A Lua script run by EVALSHA, falling back to EVAL once when the server does not know it yet. */
export class LuaScript {
  readonly sha: string;
  /** Drivers (clients) this script was sent to in full: later calls send only its SHA. */
  private readonly sent = new WeakSet<object>();

  constructor(readonly source: string) {
    this.sha = createHash('sha1').update(source).digest('hex');
  }

  /**
   * Run the script: `EVAL` the first time on a client, `EVALSHA` after that (and `EVAL` again if Redis
   * has forgotten it: restarted, failed over, or another Cluster node). The first call goes out at once
   * rather than after a `NOSCRIPT` round trip, so it keeps its place among the calls made after it. Bulk
   * replies are Buffers.
   */
  run(driver: RedisDriver, keys: readonly string[], args: readonly Arg[]): Promise<unknown> {
    if (!this.sent.has(driver)) {
      this.sent.add(driver);
      return driver.evaluate(this, false, keys, args);
    }
    return driver.evaluate(this, true, keys, args).catch((error: unknown) => {
      if (isNoScript(error)) return driver.evaluate(this, false, keys, args);
      throw error;
    });
  }
}

function isNoScript(error: unknown): boolean {
  return error instanceof Error && error.message.startsWith('NOSCRIPT');
}

/**
 * Index rules: an index is a sorted set of members (entry keys, or a variant's id) scored by their
 * expiry (ms since epoch, `now` given by the caller). Adding a member that is already there moves its
 * expiry and the index's (`PEXPIRE … GT`: never shorter); a new member (or a new index) also forgets the
 * expired ones and gives a new index its expiry (`NX`) — so an index never outlives its longest-lived
 * member and needs no sweeper, and refilling a known variant costs two commands. A value of another type
 * under an index's name (foreign, or planted) is replaced: it cannot be ours, and failing the write would
 * make one request's bad key look like a sick store.
 */
const INDEX_FUNCTION = `
local function index_add(index, member, ttl, now)
  local added = redis.pcall('ZADD', index, now + ttl, member)
  if type(added) == 'table' then
    redis.call('DEL', index)
    added = redis.call('ZADD', index, now + ttl, member)
  end
  if added == 1 then
    -- A new index (no expiry yet) holds this member alone; an index that grew forgets its expired members.
    local set = redis.pcall('PEXPIRE', index, ttl, 'NX')
    if set == 1 then return end
    if type(set) == 'table' then
      -- A Redis without PEXPIRE NX | GT (before 7.0): the same with PTTL.
      redis.call('ZREMRANGEBYSCORE', index, '-inf', now)
      local left = redis.call('PTTL', index)
      if left < 0 or left < ttl then redis.call('PEXPIRE', index, ttl) end
      return
    end
    redis.call('ZREMRANGEBYSCORE', index, '-inf', now)
  end
  local longer = redis.pcall('PEXPIRE', index, ttl, 'GT')
  if type(longer) == 'table' and redis.call('PTTL', index) < ttl then redis.call('PEXPIRE', index, ttl) end
end
`;

/**
 * Lease rules: take `lease` for `token` if it is free; 'acquired', 'held', or 'uncacheable' (the marker).
 * A value that cannot be a live holder's lease — not a string, no expiry, or one longer than `longest` ms
 * (a holder's lease never has more than its lockTtl left: it renews to that) — is foreign: taken over
 * rather than waited on, so that a planted key cannot stall every fill of a request.
 *
 * A held lease whose value ends with '!' has waiters that are subscribed to its channel (the lease key's
 * name): whoever writes its entry or releases it publishes there (see NOTIFY_FUNCTION). `watch` = '1'
 * marks it. Returns the state, the holder's token (without the mark) and the ms the lease has left.
 */
const ACQUIRE_FUNCTION = `
local marker = '${UNCACHEABLE_MARKER}'
-- The lease arguments, as one: the token, the lease's TTL (ms), the longest a live lease can have (ms), and
-- '1' to mark a held lease as watched (one argument instead of four: each costs its writes on the client).
local function lease_args(args)
  local token, ttl, longest, watch = string.match(args, '^(%S+) (%d+) (%d+) ([01])$')
  return token, ttl, longest, watch
end
local function acquire(lease, token, ttl, longest, watch)
  -- Take it if it is free, and learn what it held, in one command.
  local v = redis.pcall('SET', lease, token, 'NX', 'PX', ttl, 'GET')
  if type(v) == 'table' and not string.find(v.err, 'WRONGTYPE', 1, true) then
    -- A Redis without SET NX GET (before 7.0): the same in two commands.
    v = redis.pcall('GET', lease)
    if not v then
      redis.call('SET', lease, token, 'PX', ttl)
      return 'acquired', false, 0
    end
  end
  if not v then return 'acquired', false, 0 end
  if type(v) == 'table' then
    -- Another type under the lease's name (foreign): not a live holder's.
    redis.call('DEL', lease)
    redis.call('SET', lease, token, 'PX', ttl)
    return 'acquired', false, 0
  end
  local left = redis.call('PTTL', lease)
  if left < 0 or left > tonumber(longest) then
    -- No expiry, or more than a holder's lease can have: planted or foreign, taken over.
    redis.call('SET', lease, token, 'PX', ttl)
    return 'acquired', false, 0
  end
  if v == marker then return 'uncacheable', false, left end
  if string.byte(v, -1) == 33 then return 'held', string.sub(v, 1, -2), left end
  if watch == '1' then redis.call('SET', lease, v .. '!', 'PX', left) end
  return 'held', v, left
end
`;

/**
 * Notification rules: `owns(v, token)` — the lease value is the token's, marked or not; `notify(lease, v,
 * publish, event)` — when the value was marked (waiters subscribed), tell them on the lease's channel with
 * `publish` (PUBLISH, or SPUBLISH on a Cluster: the channel stays on its slot's node; '' for none). The
 * event is 'filled', 'released', 'uncacheable', or the holder's token, a space and the entry just written
 * (a small one: waiters then need no read).
 */
const NOTIFY_FUNCTION = `
local function owns(v, token)
  return type(v) == 'string' and token ~= '' and (v == token or v == token .. '!')
end
local function notify(lease, v, publish, event)
  if publish ~= '' and type(v) == 'string' and string.byte(v, -1) == 33 then redis.call(publish, lease, event) end
end
-- Release the lease if the token owns it, in one command (GETDEL); another's value (a successor's lease,
-- a marker) is put back, with no more time than a live one can have. Returns what the lease held.
local function release(lease, token, longest)
  local v = redis.pcall('GETDEL', lease)
  if type(v) == 'table' and not string.find(v.err, 'WRONGTYPE', 1, true) then
    -- A Redis without GETDEL (before 6.2): GET, and DEL when ours.
    v = redis.pcall('GET', lease)
    if owns(v, token) then redis.call('DEL', lease) end
    return v
  end
  if type(v) == 'string' and not owns(v, token) then redis.call('SET', lease, v, 'PX', longest) end
  return v
end
`;

/** Read an entry; a value of another type under its key (foreign) reads as absent, and is overwritten by the fill. */
const READ_FUNCTION = `
local function read(key)
  local v = redis.pcall('GET', key)
  if type(v) == 'table' then return false end
  return v
end
`;

/** Add a member to an index. KEYS[1] index; ARGV[1] member; ARGV[2] member TTL (ms); ARGV[3] now (ms). */
export const INDEX_ADD = new LuaScript(`${INDEX_FUNCTION}
index_add(KEYS[1], ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]))
return 1
`);

/**
 * Take a fill lease if it is free. KEYS[1] lease; ARGV[1] the lease arguments (`leaseArgs`). Returns
 * 'acquired', 'held' or 'uncacheable'.
 */
export const LEASE_ACQUIRE = new LuaScript(`${ACQUIRE_FUNCTION}
local token, ttl, longest = lease_args(ARGV[1])
local state = acquire(KEYS[1], token, ttl, longest, '0')
return state
`);

/**
 * As LEASE_ACQUIRE, and read the entry in the same atomic call. KEYS[1] lease, KEYS[2] entry; ARGV[1] the
 * lease arguments (their last, '1', marks a held lease as watched). Returns { state, entry or false, holder's
 * token or false, ms left }.
 */
export const LEASE_ACQUIRE_READ = new LuaScript(`${ACQUIRE_FUNCTION}${READ_FUNCTION}
local state, holder, left = acquire(KEYS[1], lease_args(ARGV[1]))
return { state, read(KEYS[2]), holder, left }
`);

/**
 * Read the entry; only when it is absent, take the fill lease as LEASE_ACQUIRE does — a miss learns in
 * one round trip what a read and then a lease call would. KEYS[1] entry, KEYS[2] lease; ARGV as
 * LEASE_ACQUIRE_READ. Returns { entry } when present, { false, state, holder's token or false, ms left }
 * when absent.
 */
export const READ_OR_LEASE = new LuaScript(`${ACQUIRE_FUNCTION}${READ_FUNCTION}
local v = read(KEYS[1])
if v then return { v } end
local state, holder, left = acquire(KEYS[2], lease_args(ARGV[1]))
return { false, state, holder, left }
`);

/**
 * Release a lease only if the token still owns it: delete it, or (ARGV[2] > 0) replace it with the
 * "uncacheable" marker ARGV[3] for ARGV[2] ms, and tell its waiters (ARGV[4]: the publish command, or '').
 * KEYS[1] lease; ARGV[1] token.
 */
export const LEASE_RELEASE = new LuaScript(`${NOTIFY_FUNCTION}
local v = redis.pcall('GET', KEYS[1])
if not owns(v, ARGV[1]) then return 0 end
if tonumber(ARGV[2]) > 0 then
  redis.call('SET', KEYS[1], ARGV[3], 'PX', ARGV[2])
  notify(KEYS[1], v, ARGV[4], 'uncacheable')
else
  redis.call('DEL', KEYS[1])
  notify(KEYS[1], v, ARGV[4], 'released')
end
return 1
`);

/**
 * Extend a lease only if the token still owns it (watched or not). KEYS[1] lease; ARGV[1] token, ARGV[2]
 * TTL (ms). Returns 1 when extended, 0 otherwise.
 */
export const LEASE_RENEW = new LuaScript(`${NOTIFY_FUNCTION}
if not owns(redis.pcall('GET', KEYS[1]), ARGV[1]) then return 0 end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1
`);

/**
 * A whole write in one call: store the entry, add it to the indexes of its own slot, release the fill
 * lease if the token still owns it, tell the lease's waiters (whoever holds it: the entry is there), and
 * announce it on a channel. KEYS[1] entry, KEYS[2] lease, KEYS[3..] indexes; ARGV[1] value; ARGV[2] the
 * write's numbers and words, as one (`fillArgs`): TTL (ms), now (ms), the longest a live lease can have
 * (ms), the largest value sent to the waiters with the notice, the publish command for them ('-' for
 * none), the lease token ('-' for none); ARGV[3..] each index's member ('-' for the entry's key); then,
 * when announcing, the channel and the message. Returns 1 + the number of clients that received the
 * announcement.
 */
export const WRITE_FILL = new LuaScript(`${INDEX_FUNCTION}${NOTIFY_FUNCTION}
local ttl, now, longest, largest, publish, token =
  string.match(ARGV[2], '^(%d+) (%d+) (%d+) (%d+) (%S+) (%S+)$')
ttl = tonumber(ttl)
now = tonumber(now)
if publish == '-' then publish = '' end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ttl)
for i = 3, #KEYS do
  local member = ARGV[i]
  if member == '-' then member = KEYS[1] end
  index_add(KEYS[i], member, ttl, now)
end
if token ~= '-' then
  local lease = release(KEYS[2], token, longest)
  if #ARGV[1] <= tonumber(largest) then
    notify(KEYS[2], lease, publish, token .. ' ' .. ARGV[1])
  else
    notify(KEYS[2], lease, publish, 'filled')
  end
end
local listeners = 0
local channel = ARGV[#KEYS + 1]
if channel then listeners = redis.call('PUBLISH', channel, ARGV[#KEYS + 2]) end
return 1 + listeners
`);

/**
 * After a revalidation: replace the head of a stored entry (its first #ARGV[1] bytes) by ARGV[2] and set
 * its TTL to ARGV[3] ms, only if it still starts with ARGV[1]; release the lease if ARGV[4] (token, '' for
 * none) still owns it, and tell its waiters (ARGV[5]: the publish command, or ''; ARGV[6] the longest a live
 * lease can have, ms). KEYS[1] entry, KEYS[2] lease. The body stays on the server. Returns 1 when replaced.
 */
export const REPLACE_HEAD = new LuaScript(`${READ_FUNCTION}${NOTIFY_FUNCTION}
local done = 0
local v = read(KEYS[1])
if v and string.sub(v, 1, #ARGV[1]) == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[2] .. string.sub(v, #ARGV[1] + 1), 'PX', ARGV[3])
  done = 1
end
if ARGV[4] ~= '' then
  local lease = release(KEYS[2], ARGV[4], ARGV[6])
  notify(KEYS[2], lease, ARGV[5], done == 1 and 'filled' or 'released')
end
return done
`);

/**
 * Soft eviction: mark stored entries stale, in place (the 16-byte stamp after their magic and version:
 * see `STAMP_OFFSET` in `entries/format.ts`), without moving them. KEYS: entries (of one slot); ARGV[1] the
 * time they go stale (ms since epoch), ARGV[2] the grace window (ms), ARGV[3] the magic and version an
 * entry starts with. An entry already marked keeps its earlier stale time and its earlier grace end; a key
 * that is not such an entry (absent, another type, another version) is left alone. Returns how many were
 * marked.
 */
export const MARK_STALE = new LuaScript(`
local marked = 0
local now = tonumber(ARGV[1])
local graceMs = tonumber(ARGV[2])
for i = 1, #KEYS do
  local head = redis.pcall('GETRANGE', KEYS[i], 0, 19)
  if type(head) == 'string' and #head == 20 and string.sub(head, 1, 4) == ARGV[3] then
    local hi, lo, g, c = struct.unpack('>I4I4I4i4', head, 5)
    local staleAt, graceEnd = now, now + graceMs
    if not (hi == 0 and lo == 0 and g == 0 and c == 0) and c == bit.bxor(hi, lo, g, 1515870810) then
      local before = hi * 4294967296 + lo
      if before < staleAt then staleAt = before end
      if before + g < graceEnd then graceEnd = before + g end
    end
    if graceEnd < staleAt then graceEnd = staleAt end
    local h = math.floor(staleAt / 4294967296)
    local l = staleAt - h * 4294967296
    local grace = graceEnd - staleAt
    redis.call('SETRANGE', KEYS[i], 4, struct.pack('>I4I4I4i4', h, l, grace, bit.bxor(h, l, grace, 1515870810)))
    marked = marked + 1
  end
end
return marked
`);

/** ACQUIRE_FUNCTION's lease arguments, as one argument. */
export function leaseArgs(token: string, ttlMs: number, longestMs: number, watch: boolean): string {
  return `${token} ${ttlMs} ${longestMs} ${watch ? '1' : '0'}`;
}
