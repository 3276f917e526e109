/**
 * Lua for Volley's resource locks. Every script takes the key prefix of the lock space (the home
 * key space, see `KeySpaces`) as ARGV[1] and builds the keys it touches from it, so on Redis
 * Cluster they all live in one slot, whichever shard the calls come from.
 *
 * Model: each resource has a FIFO of tickets (a sorted set scored by one global sequence), a
 * mode per ticket ('r' or 'w'), and the current holders with their lease expiry. A ticket is
 * `<queue>|<job id>`. All tickets of one assistant message are enqueued by one script, in model
 * order, once every locking call of the message has declared its claims: so the order of
 * tickets is one global total order, every call waits only on earlier tickets, and no cycle
 * (deadlock) can form. A ticket is dropped once it is over: its job no longer exists or has
 * finished, and it holds no unexpired lease on that resource (a tool body still running past its
 * call's answer keeps its lease renewed, and so its place). A job lives in its own shard, which a
 * script here cannot read on Redis Cluster, so the caller finds which tickets' jobs are over
 * (`JobLiveness`) and names them to the script (`dead`): a job that is over never runs again, so
 * the script may drop on that word whenever it reads the line.
 *
 * Fencing tokens come from the same global sequence (`lock:seq`), so they grow per resource
 * without a counter per resource. Lines, modes and holders are deleted by Redis once empty, and
 * every script that touches a line refreshes its expiry (LINE_TTL_MS), so a line abandoned with
 * a ticket in it (its job gone for good, nobody else ever calling on the resource) goes too.
 */

const COMMON = `
local prefix = ARGV[1]
-- Far beyond any wait or hold: every call in line touches its lines at least every park interval.
local LINE_TTL_MS = 86400000
local function qkey(r) return prefix .. ':lock:q:' .. r end
local function mkey(r) return prefix .. ':lock:m:' .. r end
local function hkey(r) return prefix .. ':lock:h:' .. r end
local function seqkey() return prefix .. ':lock:seq' end
-- The tickets the caller found over (a JSON list), as a set.
local function deadSet(json)
  local set = {}
  for _, ticket in ipairs(cjson.decode(json)) do set[ticket] = true end
  return set
end
-- A holder entry is '<holder>|<lease expiry ms>'; holder ids may contain '|' (tickets do).
local function holding(held)
  local bar = string.find(held, '|[^|]*$')
  return string.sub(held, 1, bar - 1), tonumber(string.sub(held, bar + 1))
end
-- Whether this run (holder) still holds every resource named in ARGV from index 'from' on.
local function holdsAll(ticket, holder, from)
  for i = from, #ARGV do
    local held = redis.call('HGET', hkey(ARGV[i]), ticket)
    if not held or holding(held) ~= holder then return false end
  end
  return true
end
-- In line on r: its job is not known to be over, or it holds r under a lease that has not lapsed.
local function alive(r, ticket, now, dead)
  if not dead[ticket] then return true end
  local held = redis.call('HGET', hkey(r), ticket)
  if not held then return false end
  local _, expires = holding(held)
  return expires > now
end
local function drop(r, ticket)
  redis.call('ZREM', qkey(r), ticket)
  redis.call('HDEL', mkey(r), ticket)
  redis.call('HDEL', hkey(r), ticket)
end
local function keep(r)
  redis.call('PEXPIRE', qkey(r), LINE_TTL_MS)
  redis.call('PEXPIRE', mkey(r), LINE_TTL_MS)
  redis.call('PEXPIRE', hkey(r), LINE_TTL_MS)
end
-- Adds to wake the tickets of line r that may run now: the head (a writer) or its leading
-- readers, skipping (and dropping) the dead. A ticket 'own' still in line keeps those behind it
-- waiting. The live-looking writer that ends the look (not woken: someone is ahead of it) goes
-- to stoppers: if its job is over, those behind it may run.
local function wakeable(r, own, now, dead, wake, seen, stoppers)
  local first = true
  for _, other in ipairs(redis.call('ZRANGE', qkey(r), 0, -1)) do
    if other == own then
      if redis.call('HGET', mkey(r), other) == 'w' then return end
      first = false
    elseif not alive(r, other, now, dead) then
      drop(r, other)
    else
      local writer = redis.call('HGET', mkey(r), other) == 'w'
      local waiting = redis.call('HEXISTS', hkey(r), other) == 0 and not seen[other]
      if waiting and (first or not writer) then
        seen[other] = true
        wake[#wake + 1] = other
      elseif writer and not seen[other] then
        stoppers[#stoppers + 1] = other
      end
      if writer then return end
      first = false
    end
  end
end
`;

/**
 * Records one call's claims in its message's plan; when the plan is complete, enqueues every
 * ticket of the message in model order. Siblings whose jobs are gone count as claiming nothing.
 * ARGV: prefix, planKey, seqKey, rank, count, ticket, claims (JSON [[key, mode], …]), now,
 * siblings (JSON tickets in rank order), planTtlMs, dead (JSON tickets).
 * Returns {state, registeredAtMs, sibling}: state 0 while siblings have yet to declare (sibling:
 * the first of them not known dead, for the caller to look at), 1 once the message's tickets are
 * in line, 2 when this very call put them there (it wakes the others).
 */
export const REGISTER_SCRIPT = `${COMMON}
local plan, seq, rank, count = ARGV[2], ARGV[3], ARGV[4], tonumber(ARGV[5])
if redis.call('HEXISTS', plan, rank) == 0 then
  redis.call('HSET', plan, rank, cjson.encode({ ticket = ARGV[6], claims = cjson.decode(ARGV[7]), at = tonumber(ARGV[8]) }))
  redis.call('PEXPIRE', plan, tonumber(ARGV[10]))
end
local registeredAt = cjson.decode(redis.call('HGET', plan, rank)).at
if redis.call('HEXISTS', plan, 'enqueued') == 1 then return {1, registeredAt} end
local siblings, dead = cjson.decode(ARGV[9]), deadSet(ARGV[11])
local entries = {}
for i = 0, count - 1 do
  local body = redis.call('HGET', plan, tostring(i))
  if body then
    entries[#entries + 1] = cjson.decode(body)
  elseif not dead[siblings[i + 1]] then
    return {0, registeredAt, siblings[i + 1]}
  end
end
for _, entry in ipairs(entries) do
  for _, claim in ipairs(entry.claims) do
    redis.call('ZADD', qkey(claim[1]), redis.call('INCR', seq), entry.ticket)
    redis.call('HSET', mkey(claim[1]), entry.ticket, claim[2])
    keep(claim[1])
  end
end
redis.call('HSET', plan, 'enqueued', 1)
return {2, registeredAt}
`;

/**
 * Takes every claimed resource or none. A reader waits for earlier writers, a writer for every
 * earlier ticket. Each acquisition is one holder (ARGV holder id), recorded as
 * `<holder>|<lease expiry>`, with a fencing token per resource drawn from the global sequence.
 * The same ticket acquiring again — its job was redelivered after its worker stopped
 * answering — takes over once the old holder's lease has lapsed, with a new fencing token; the
 * old holder's renewals then fail, so it learns it lost the lock.
 * ARGV: prefix, ticket, holder, now, leaseMs, probeOnly ('1' checks without taking), dead
 * (JSON tickets), then key, mode pairs. Returns {1, fence…} (fences in claim order; none when
 * probing), {0, blockingTicket} or {0, ticket, msUntilLeaseEnds} while its own old lease runs.
 */
export const ACQUIRE_SCRIPT = `${COMMON}
local ticket, holder, now, lease, probe = ARGV[2], ARGV[3], tonumber(ARGV[4]), tonumber(ARGV[5]), ARGV[6] == '1'
local dead = deadSet(ARGV[7])
for i = 8, #ARGV, 2 do
  local r, mode = ARGV[i], ARGV[i + 1]
  if redis.call('ZSCORE', qkey(r), ticket) == false then return redis.error_reply('VOLLEY_NOT_ENQUEUED ' .. r) end
  keep(r)
  for _, other in ipairs(redis.call('ZRANGE', qkey(r), 0, -1)) do
    if other == ticket then break end
    if not alive(r, other, now, dead) then
      drop(r, other)
    elseif mode == 'w' or redis.call('HGET', mkey(r), other) == 'w' then
      return {0, other}
    end
  end
  local held = redis.call('HGET', hkey(r), ticket)
  if held then
    local who, expires = holding(held)
    if who ~= holder and expires > now then return {0, ticket, expires - now} end
  end
end
if probe then return {1} end
local result = {1}
for i = 8, #ARGV, 2 do
  local r = ARGV[i]
  redis.call('HSET', hkey(r), ticket, holder .. '|' .. (now + lease))
  result[#result + 1] = redis.call('INCR', seqkey())
end
return result
`;

/**
 * Extends a holder's lease. ARGV: prefix, ticket, holder, expiresAt, keys…. Returns 0 when this
 * holder no longer holds one of them (its lease lapsed and a redelivery took over).
 */
export const RENEW_SCRIPT = `${COMMON}
local ticket, holder = ARGV[2], ARGV[3]
if not holdsAll(ticket, holder, 5) then return 0 end
for i = 5, #ARGV do
  redis.call('HSET', hkey(ARGV[i]), ticket, holder .. '|' .. ARGV[4])
  keep(ARGV[i])
end
return 1
`;

/**
 * Records a call's result (under its idempotency key) only while this holder still holds every
 * claim: a run that lost its lease was taken over by a redelivery, which alone answers for the
 * call. ARGV: prefix, ticket, holder, resultKey, body, ttlSeconds, keys…. Returns 1 if recorded.
 */
export const RECORD_SCRIPT = `${COMMON}
local ticket, holder = ARGV[2], ARGV[3]
if not holdsAll(ticket, holder, 7) then return 0 end
redis.call('SET', ARGV[4], ARGV[5], 'EX', ARGV[6])
return 1
`;

/**
 * Lets go of the resources. With keepPlace '1' (the call will be retried) the ticket keeps its
 * place in line; otherwise it leaves. A holder that was taken over (its lease lapsed and a
 * redelivery of its call holds the lock now, or held and let go) lets go of nothing: only the
 * holder itself releases. Holder '*' lets go whoever holds, and is how a call that never
 * acquired (answered from its recorded result, or cancelled) leaves its lines.
 * Returns {wake, stoppers}: the tickets that may now be able to run (the head of each line, a
 * writer, or its leading readers), and the writers that keep those behind them waiting; the
 * caller checks both's jobs (see DROP_SCRIPT).
 * ARGV: prefix, ticket, holder, keepPlace, now, keys….
 */
export const RELEASE_SCRIPT = `${COMMON}
local ticket, holder, keepPlace, now = ARGV[2], ARGV[3], ARGV[4] == '1', tonumber(ARGV[5])
if holder ~= '*' and not holdsAll(ticket, holder, 6) then return {{}, {}} end
local wake, seen, dead, stoppers = {}, {}, {}, {}
for i = 6, #ARGV do
  local r = ARGV[i]
  redis.call('HDEL', hkey(r), ticket)
  if not keepPlace then
    redis.call('ZREM', qkey(r), ticket)
    redis.call('HDEL', mkey(r), ticket)
  end
  wakeable(r, ticket, now, dead, wake, seen, stoppers)
end
return {wake, stoppers}
`;

/**
 * Drops tickets whose jobs the caller found over (unless they hold an unexpired lease) from the
 * lines of resources, and returns who may run now, as RELEASE_SCRIPT does: a release woke a
 * ticket whose job was gone, and whoever stands behind it must not wait for it.
 * ARGV: prefix, ticket (the releasing one, which may keep its place), now, dead (JSON tickets), keys….
 */
export const DROP_SCRIPT = `${COMMON}
local ticket, now, dead = ARGV[2], tonumber(ARGV[3]), deadSet(ARGV[4])
local wake, seen, stoppers = {}, {}, {}
for i = 5, #ARGV do
  wakeable(ARGV[i], ticket, now, dead, wake, seen, stoppers)
end
return {wake, stoppers}

`;
