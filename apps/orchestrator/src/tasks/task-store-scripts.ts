/**
 * The task store's Lua scripts. A task's keys all share the stem `<prefix>:task:<id>` (so one
 * Redis Cluster slot under a hash-tagged prefix), and each script touches one task only.
 *
 * Keys, in this order, for every script: the header hash (or, for a task written before
 * issue 15, the whole record as one JSON string), the message list, the turn hash, the ended
 * mark, the gathered mark.
 */

/**
 * Reads a task at once (one script, so never half of a write): `[ended, 'document', json]` for
 * the old layout, `[ended, 'entries', header, messages, turns, from]` otherwise, nil when there
 * is none. `ended` is the ended mark or ''. ARGV[1] 'header' reads the header only; 'from' reads
 * the messages from index ARGV[2] on (the reader holds those before), or all of them (`from` 0)
 * when the list is shorter than that.
 */
export const READ_SCRIPT = `
local kind = redis.call('TYPE', KEYS[1]).ok
if kind == 'none' then return false end
local ended = redis.call('GET', KEYS[4]) or ''
if kind == 'string' then return {ended, 'document', redis.call('GET', KEYS[1])} end
if ARGV[1] == 'header' then return {ended, 'entries', redis.call('HGETALL', KEYS[1])} end
local from = 0
if ARGV[1] == 'from' and redis.call('LLEN', KEYS[2]) >= tonumber(ARGV[2]) then from = tonumber(ARGV[2]) end
return {ended, 'entries', redis.call('HGETALL', KEYS[1]), redis.call('LRANGE', KEYS[2], from, -1), redis.call('HGETALL', KEYS[3]), from}
`;

/**
 * One write of a step: what changed since the step read the task, and nothing else. Refuses
 * (writing nothing) with 0 when the task has ended, -1 when the step's fence (KEYS[6], the step
 * job's lock, must hold ARGV[2]) is no longer its owner's, -2 when the message list is neither
 * as long as the step read it (ARGV[6]) nor that followed by this write's messages.
 *
 * The messages are appended only while the list is as long as the step read it: a step that
 * lost its task to another run cannot add to it. A list that already ends with exactly these
 * messages holds this very write (a command sent again after a lost connection took its reply,
 * which ioredis does): they are not appended twice, and the rest of the write, which only sets
 * fields, is done again. Anything else there was another run's: refused.
 *
 * A terminal write sets the ended mark in the same step, so nothing can write the task again;
 * a write that gathered a turn records it as gathered (ARGV[4]). Every key of the task gets the
 * TTL, counted from the last write. ARGV[5] '1' converts a task of the old layout: its document
 * goes, and this write (the whole record) replaces it.
 *
 * ARGV: ttl, token, ending, gathered turn, convert, messages read, then the counts of messages,
 * header fields set, header fields removed and turns set, then those in that order (set ones as
 * field, value pairs).
 */
export const PUT_SCRIPT = `
if redis.call('EXISTS', KEYS[4]) == 1 then return 0 end
if ARGV[2] ~= '' and redis.call('GET', KEYS[6]) ~= ARGV[2] then return -1 end
if ARGV[5] == '1' and redis.call('TYPE', KEYS[1]).ok == 'string' then redis.call('DEL', KEYS[1], KEYS[2], KEYS[3]) end
local read, appended = tonumber(ARGV[6]), tonumber(ARGV[7])
local length = redis.call('LLEN', KEYS[2])
local at = 11
if length == read then
  for i = at, at + appended - 1 do redis.call('RPUSH', KEYS[2], ARGV[i]) end
elseif length == read + appended then
  local held = redis.call('LRANGE', KEYS[2], read, -1)
  for i = 1, appended do
    if held[i] ~= ARGV[at + i - 1] then return -2 end
  end
else
  return -2
end
at = at + appended
for _ = 1, tonumber(ARGV[8]) do
  redis.call('HSET', KEYS[1], ARGV[at], ARGV[at + 1])
  at = at + 2
end
for _ = 1, tonumber(ARGV[9]) do
  redis.call('HDEL', KEYS[1], ARGV[at])
  at = at + 1
end
for _ = 1, tonumber(ARGV[10]) do
  redis.call('HSET', KEYS[3], ARGV[at], ARGV[at + 1])
  at = at + 2
end
if ARGV[4] ~= '' then redis.call('SET', KEYS[5], ARGV[4]) end
if ARGV[3] ~= '' then redis.call('SET', KEYS[4], ARGV[3]) end
for i = 1, 5 do redis.call('EXPIRE', KEYS[i], ARGV[1]) end
return 1
`;

/**
 * Ends a task from outside its steps (cancel, deadline): 1 when this call ended it, 0 if it had
 * ended or does not exist. Every key of the task then lives the TTL from now.
 */
export const END_SCRIPT = `
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
if redis.call('SET', KEYS[4], ARGV[1], 'NX') == false then return 0 end
for i = 1, 5 do redis.call('EXPIRE', KEYS[i], ARGV[2]) end
return 1
`;
