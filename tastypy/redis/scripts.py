"""The Lua scripts of the Redis host: each operation that changes data, in one atomic step.

No script decodes a stored value (Redis's ``cjson`` would alter it). A
tracker record's special fields are always its first three, in this order
(``{"_done":false,"_tries":0,"_aborted":false,...``): records are written
as ``{**DEFAULTS, **fields}`` and their special fields can never be deleted,
so the scripts read and rewrite that prefix as text, and keep the counters
from it in the same step as every change.

Every script gets the first ``KEYS[name]`` keys of ``connect.redis_keys(name)``
(those it uses: fewer arguments to send on the hot paths) and, first in
ARGV, the kind (``pod`` or ``tracker``) of the caller.
"""

from __future__ import annotations

import hashlib

from tastypy.redis.ops import LUA_ENGINE

_COMMON = r"""
local V, M, C, W, O, R, L, D, TRACKER, call

-- Each script starts here: the keys and kind of this call, then the kind
-- check. A read-only script (no-writes) leaves a new name's kind unset.
local function begin(keys, argv, readonly)
  V, M, C, W, O, R, L, D = keys[1], keys[2], keys[3], keys[4], keys[5], keys[6], keys[7], keys[8]
  TRACKER = argv[1] == 'tracker'
  call = redis.call  -- not there while a function library loads
  local kind = call('HGET', M, 'kind')
  if not kind then
    -- values without their meta hash: counters and order would restart
    if call('EXISTS', V) == 1 then return redis.error_reply('TASTYPY-NOMETA') end
    if not readonly then call('HSET', M, 'kind', argv[1]) end
  elseif kind ~= argv[1] then
    return redis.error_reply('TASTYPY-KIND ' .. kind)
  end
end

-- the key k's record cannot be read: the caller names it (length first: a key text may hold spaces)
local function damaged(k)
  error({err = 'TASTYPY-DAMAGED ' .. #k .. ' ' .. k})
end

-- done, tries, aborted and the rest of a record's text: its first three
-- fields as tastypy writes them, else (another tool wrote it) wherever
-- they are. Given k, a record that has not got them is refused by name.
local function fields(text, k)
  if text then
    local d, t, a, rest = string.match(text, '^{"_done":(%a+),"_tries":(%d+),"_aborted":(%a+)([,}].*)$')
    if (d == 'true' or d == 'false') and (a == 'true' or a == 'false') and (t == '0' or string.byte(t) ~= 48)
      and not (string.find(rest, '"_done":', 1, true) or string.find(rest, '"_tries":', 1, true)
        or string.find(rest, '"_aborted":', 1, true)) then
      return d, t, a, rest
    end
    if not tastypy_record_fields then tastypy_load() end
    local ok, d2, t2, a2, rest2 = pcall(tastypy_record_fields, text)
    if ok and d2 then return d2, t2, a2, rest2 end
  end
  if k then damaged(k) end
end

local function bits(d, t, a)
  return d == 'true' and 1 or 0, t ~= '0' and 1 or 0, a == 'true' and 1 or 0
end

local function flags(text)
  if not TRACKER or not text then return 0, 0, 0 end
  local d, t, a = fields(text)
  if not d then return 0, 0, 0 end
  return bits(d, t, a)
end

-- the counters follow every change of a record, in the same step
local function count(d0, t0, a0, d1, t1, a1)
  if d1 ~= d0 then call('HINCRBY', M, 'done', d1 - d0) end
  if t1 ~= t0 then call('HINCRBY', M, 'tried', t1 - t0) end
  if a1 ~= a0 then call('HINCRBY', M, 'aborted', a1 - a0) end
end

local function recount(old, new)
  if not TRACKER then return end
  local d0, t0, a0 = flags(old)
  count(d0, t0, a0, flags(new))
end

local function release(k)
  if call('HDEL', W, k) == 1 then call('ZREM', C, k) end
end

-- the due index (a failure's backoff, a revisit) follows a record's
-- top-level _retry_at (in ms), whatever wrote it; a deleted key leaves it
local function undue(k)
  if D then call('ZREM', D, k) end
end

local function due(k, text)
  if not D then return end
  local at = string.find(text, '"_retry_at":', 1, true)
    and string.match(text, '[{,]"_retry_at":(%-?%d+%.?%d*[eE]?[%+%-]?%d*)[,}]')
  if at and tonumber(at) then
    call('ZADD', D, math.floor(tonumber(at) * 1000 + 0.5), k)
  else
    call('ZREM', D, k)
  end
end

local function put(k, text)
  local old = call('HGET', V, k)
  if not old then
    call('ZADD', O, call('HINCRBY', M, 'next', 1), k)
  end
  call('HSET', V, k, text)
  recount(old, text)
  due(k, text)
end

local function del(k)
  local old = call('HGET', V, k)
  if not old then return false end
  call('HDEL', V, k)
  call('ZREM', O, k)
  call('ZREM', R, k)
  release(k)
  recount(old, nil)
  undue(k)
  return old
end

-- tries are digit strings: exact at any size
local function inc(t)
  local i = #t
  while i > 0 and string.sub(t, i, i) == '9' do i = i - 1 end
  if i == 0 then return '1' .. string.rep('0', #t) end
  return string.sub(t, 1, i - 1) .. string.char(string.byte(t, i) + 1) .. string.rep('0', #t - i)
end

local function dec(t)
  local i = #t
  while string.sub(t, i, i) == '0' do i = i - 1 end
  local s = string.sub(t, 1, i - 1) .. string.char(string.byte(t, i) - 1) .. string.rep('9', #t - i)
  s = (string.gsub(s, '^0+', ''))
  if s == '' then return '0' end
  return s
end

local function less(t, m)
  return #t < #m or (#t == #m and t < m)
end

local function todo(text, allow, max, k)
  local d, t, a = fields(text, k)
  return d == 'false' and (allow or a == 'false') and (max == '0' or less(t, max))
end

local function record(d, t, a, rest)
  return '{"_done":' .. d .. ',"_tries":' .. t .. ',"_aborted":' .. a .. rest
end

-- whether the caller may be handed text as a value (else Python decodes it
-- first, and deletes it only if it is one: a pop must not lose what it
-- cannot return)
local function readable(text)
  if not tastypy_json then tastypy_load() end
  local ok, json = pcall(tastypy_json, text)
  return ok and json and (not TRACKER or fields(text) ~= nil)
end

local function now()
  local t = call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

local function num(n)
  return string.format('%.0f', n)
end

-- milliseconds as the JSON number of seconds Python writes (its repr)
local function secs(ms)
  local s = string.format('%d.%03d', math.floor(ms / 1000), ms % 1000)
  s = string.gsub(s, '0+$', '')
  if string.sub(s, -1) == '.' then s = s .. '0' end
  return s
end

-- one Op of the engine on a record's text (the field setters and pops of
-- failures and due times); a record the engine cannot change is refused by name
local function change(text, k, argv)
  if not tastypy_apply then tastypy_load() end
  local new = tastypy_apply(text, argv, 1)
  if not new then damaged(k) end
  return new
end

local function field_set(text, k, name, value)
  return change(text, k, {'__setitem__', '0', '2', name, value, '0'})
end

local function field_pop(text, k, name)
  if not string.find(text, name .. ':', 1, true) then return text end
  return change(text, k, {'pop', '0', '2', name, 'null', '0'})
end
"""

#: ARGV: kind, key, text.
SET = "put(ARGV[2], ARGV[3])"

#: ARGV: kind, key, check ('1': pop, which returns the value). Returns {1,
#: old text} (deleted), {0, old text} (not deleted: Python must read it
#: first), or nil when absent.
DELETE = """
local old = call('HGET', V, ARGV[2])
if not old then return false end
if ARGV[3] == '1' and not readable(old) then return {0, old} end
del(ARGV[2])
return {1, old}
"""

#: ARGV: kind. Returns {1, key, text} of the last key (deleted), {0, key,
#: text} (not deleted, as for DELETE), or nil when empty.
POPITEM = """
local last = call('ZRANGE', O, -1, -1)[1]
if not last then return false end
local old = call('HGET', V, last)
if not old or not readable(old) then return {0, last, old or ''} end
del(last)
return {1, last, old}
"""

#: ARGV: kind, key, text. Returns the text now stored.
SETDEFAULT = """
local old = call('HGET', V, ARGV[2])
if old then return old end
put(ARGV[2], ARGV[3])
return ARGV[3]
"""

#: ARGV: kind, key, then the Op as ``ops.op_args`` gives it. Applies the Op
#: to the key's text with the Lua engine. Returns {1, result text}, {2} when
#: the key is absent, or {0, kind, detail}: an error, or 'fallback' when
#: Python must apply it (also when a record would lose its special fields'
#: places or kinds: the Python path gives the Tracker's error).
APPLY = """
if not tastypy_apply then tastypy_load() end
local k = ARGV[2]
local old = call('HGET', V, k)
if not old then return {2} end
-- text another client wrote (spaces, trailing bytes, not JSON): Python decides
local ok, compact = pcall(tastypy_compact, old)
if not (ok and compact) then return {0, 'fallback', ''} end
local done, new, result, detail = pcall(tastypy_apply, old, ARGV, 3)
if not done then return {0, 'fallback', ''} end
if not new then return {0, result, detail} end
if new == old then return {1, result} end
if TRACKER and not fields(new) then return {0, 'fallback', ''} end
call('HSET', V, k, new)
recount(old, new)
return {1, result}
"""

#: ARGV: kind, key1, text1, key2, text2, ...
PUT_MANY = """
for i = 2, #ARGV, 2 do put(ARGV[i], ARGV[i + 1]) end
"""

#: ARGV: kind. Deletes every key and claim; the insertion counter goes on.
CLEAR = """
call('DEL', V, O, C, W, L, R, D)
call('HSET', M, 'done', 0, 'tried', 0, 'aborted', 0)
"""

#: ARGV: kind, then (key, expected text or '' for absent, new text or '' to
#: delete) triples. Returns 0, changing nothing, when a text is not the expected.
CAS = """
for i = 2, #ARGV, 3 do
  if (call('HGET', V, ARGV[i]) or '') ~= ARGV[i + 1] then return 0 end
end
for i = 2, #ARGV, 3 do
  if ARGV[i + 2] == '' then del(ARGV[i]) else put(ARGV[i], ARGV[i + 2]) end
end
return 1
"""

#: ARGV: kind, 'strict' or 'absent', keys... The new keys get the default
#: record. strict: nothing added when one is present, returns {0, that key}
#: or {1}; absent: adds the absent ones, returns {how many}.
ADD = """
local fresh = '{"_done":false,"_tries":0,"_aborted":false}'
if ARGV[2] == 'strict' then
  for i = 3, #ARGV do
    if call('HEXISTS', V, ARGV[i]) == 1 then return {0, ARGV[i]} end
  end
  for i = 3, #ARGV do put(ARGV[i], fresh) end
  return {1}
end
local added = 0
for i = 3, #ARGV do
  if call('HEXISTS', V, ARGV[i]) == 0 then
    put(ARGV[i], fresh)
    added = added + 1
  end
end
return {added}
"""

#: ARGV: kind, key, what (done, not_done, abort, unabort, inc, dec, reset,
#: give_back, retry), for done: a revisit delay (ms) or ''. Returns nil when
#: the key is absent, 0 when there is no try to take back.
FIELD = """
local k, what = ARGV[2], ARGV[3]
local old = call('HGET', V, k)
if not old then return false end
local d0, t0, a0, rest = fields(old, k)
local d, t, a = d0, t0, a0
if what == 'done' then d = 'true'
elseif what == 'not_done' then d = 'false'
elseif what == 'abort' then a = 'true'
elseif what == 'unabort' then a = 'false'
elseif what == 'inc' then t = inc(t)
elseif what == 'reset' then t = '0'
elseif what == 'retry' then t, a = '0', 'false'
elseif what == 'give_back' then if t ~= '0' then t = dec(t) end
elseif t == '0' then return 0
else t = dec(t) end
local new = record(d, t, a, rest)
local due
if what == 'done' or what == 'retry' then
  -- done: its last error goes, and it comes due again only for a revisit
  if what == 'done' then new = field_pop(new, k, '"_error"') end
  new = field_pop(new, k, '"_retry_at"')
  if (ARGV[4] or '') ~= '' then
    due = now() + tonumber(ARGV[4])
    new = field_set(new, k, '"_retry_at"', secs(due))
  end
end
if new ~= old then
  -- the record first: a server at maxmemory refuses a script at its first
  -- growing write (Redis 6, EVAL), before anything changed
  call('HSET', V, k, new)
  local x, y, z = bits(d0, t0, a0)
  count(x, y, z, bits(d, t, a))  -- from the fields read once
end
if what == 'done' or what == 'retry' then
  if due then call('ZADD', D, due, k) else call('ZREM', D, k) end
end
if what == 'done' or what == 'abort' or what == 'give_back' then release(k) end
return 1
"""

#: ARGV: kind, key, wait (ms), max_tries, then the JSON texts of the error's
#: type, message and traceback. The last try of key failed: its _error
#: (with the server's time), then aborted at max_tries, else due after wait.
#: Returns nil when the key is absent.
FAIL = """
local k, wait, max = ARGV[2], tonumber(ARGV[3]), ARGV[4]
local old = call('HGET', V, k)
if not old then return false end
local at = now()
local err = '{"type":' .. ARGV[5] .. ',"message":' .. ARGV[6] .. ',"at":' .. secs(at)
  .. ',"traceback":' .. ARGV[7] .. '}'
local new = field_pop(field_set(old, k, '"_error"', err), k, '"_retry_at"')
local d, t, a, rest = fields(new, k)
local aborted = max ~= '0' and not less(t, max)
if aborted then
  new = record(d, t, 'true', rest)
elseif wait > 0 then
  new = field_set(new, k, '"_retry_at"', secs(at + wait))
end
call('HSET', V, k, new)  -- first: see FIELD
recount(old, new)
release(k)  -- the try is over: due, it goes to whichever loop asks
if not aborted and wait > 0 then call('ZADD', D, at + wait, k) else call('ZREM', D, k) end
return 1
"""

#: ARGV: kind, max_tries. Read-only: how many keys to do wait for their
#: _retry_at, and the first due time (ms) of any key, or ''.
WAITING = """
local time, max = now(), ARGV[2]
local n = 0
for _, k in ipairs(call('ZRANGEBYSCORE', D, '(' .. time, '+inf')) do
  local text = call('HGET', V, k)
  if text and todo(text, false, max, k) then n = n + 1 end
end
local first = call('ZRANGE', D, 0, 0, 'WITHSCORES')
return {n, first[2] or ''}
"""

#: ARGV: kind, key, allow_aborted ('1' or ''), max_tries, add ('1' or ''),
#: count a try ('1' or ''). Returns nil when absent (and not added), else 0 or 1.
SHOULD = """
local k, allow, max = ARGV[2], ARGV[3] == '1', ARGV[4]
local old = call('HGET', V, k)
if not old then
  if ARGV[5] ~= '1' then return false end
  old = '{"_done":false,"_tries":0,"_aborted":false}'
  put(k, old)
end
if not todo(old, allow, max, k) then return 0 end
if ARGV[6] == '1' then
  local d, t, a, rest = fields(old, k)
  local new = record(d, inc(t), a, rest)
  call('HSET', V, k, new)
  recount(old, new)
end
return 1
"""

#: ARGV: kind, key, allow_aborted ('1' or ''), max_tries. Read-only
#: ``should_do()``: nil when absent, else 0 or 1.
PEEK = """
local old = call('HGET', V, ARGV[2])
if not old then return false end
return todo(old, ARGV[3] == '1', ARGV[4], ARGV[2]) and 1 or 0
"""

#: ARGV: kind, start position, count, test ('todo' or 'aborted'),
#: allow_aborted, max_tries, values ('1' or ''). Returns {next start, end
#: ('1' or ''), key1, text1 or '', ...}.
SCAN = """
local count, test, allow, max, values = tonumber(ARGV[3]), ARGV[4], ARGV[5] == '1', ARGV[6], ARGV[7] == '1'
local got = call('ZRANGEBYSCORE', O, ARGV[2], '+inf', 'WITHSCORES', 'LIMIT', 0, count)
local out = {ARGV[2], #got < 2 * count and '1' or ''}
if #got > 0 then out[1] = num(tonumber(got[#got]) + 1) end
for i = 1, #got, 2 do
  local text = call('HGET', V, got[i])
  local keep
  if test == 'todo' then keep = todo(text, allow, max, got[i]) else keep = select(3, fields(text, got[i])) == 'true' end
  if keep then
    out[#out + 1] = got[i]
    out[#out + 1] = values and text or ''
  end
end
return out
"""

#: ARGV: kind, loop id, start position, allow_aborted, max_tries, values,
#: lease (ms), how many keys to look at, how many keys to claim, how many
#: keys to release, the keys to release (handed to the loop earlier and not
#: finished: freed if the loop still holds them), then keys the scan passes
#: over (orphans this loop had ahead of it). Turns expired claims into
#: orphans, then claims (and counts a try of) up to the number asked: first
#: orphans, then keys from ``start``, that are to do and not claimed, each
#: with a lease of its own. Returns {'keys', key, next start, text or '',
#: the position of an orphan or '', ...}, {'more', next start} when nothing
#: was found within the budget, or {'end'}.
NEXT = """
local loop, start, allow, max = ARGV[2], ARGV[3], ARGV[4] == '1', ARGV[5]
local values, lease, budget, want = ARGV[6] == '1', tonumber(ARGV[7]), tonumber(ARGV[8]), tonumber(ARGV[9])
local time = now()
local releases = tonumber(ARGV[10])
for i = 11, 10 + releases do
  if call('HGET', W, ARGV[i]) == loop then release(ARGV[i]) end
end
local skip = {}
for i = 11 + releases, #ARGV do skip[ARGV[i]] = true end

for _, k in ipairs(call('ZRANGEBYSCORE', C, '-inf', time, 'LIMIT', 0, budget)) do
  release(k)
  local position = call('ZSCORE', O, k)
  if position then call('ZADD', R, position, k) end
end

local out = {'keys'}

local function after(k)
  return num(tonumber(call('ZSCORE', O, k)) + 1)
end

local function hand(k, old, next, orphan)
  local d, t, a, rest = fields(old, k)
  local new = record(d, inc(t), a, rest)
  call('HSET', V, k, new)
  if t == '0' then call('HINCRBY', M, 'tried', 1) end  -- only the try changes
  call('HSET', W, k, loop)
  call('ZADD', C, time + lease, k)
  skip[k] = true
  local n = #out
  out[n + 1], out[n + 2], out[n + 3], out[n + 4] = k, next, values and new or '', orphan or ''
  return n + 4 >= 1 + 4 * want
end

for _, k in ipairs(call('ZRANGE', R, 0, budget - 1)) do
  call('ZREM', R, k)
  local text = call('HGET', V, k)
  if text and call('HEXISTS', W, k) == 0 and todo(text, allow, max, k) then
    if hand(k, text, start, num(call('ZSCORE', O, k))) then return out end
  end
end

-- keys whose _retry_at came, handed out ahead of the scan like orphans;
-- a done one (a revisit) becomes a new task: not done, no tries
for _, k in ipairs(call('ZRANGEBYSCORE', D, '-inf', time, 'LIMIT', 0, budget)) do
  if not skip[k] and call('HEXISTS', W, k) == 0 then
    call('ZREM', D, k)
    local old = call('HGET', V, k)
    if old then
      local d, t, a, rest = fields(old, k)
      if d == 'true' then d, t = 'false', '0' end
      local new = field_pop(record(d, t, a, rest), k, '"_retry_at"')
      if new ~= old then
        call('HSET', V, k, new)
        recount(old, new)
      end
      if todo(new, allow, max, k) then
        if hand(k, new, start, num(call('ZSCORE', O, k))) then return out end
      end
    end
  end
end

-- a key whose _retry_at is later: not yet
local function waiting(k)
  local due = call('ZSCORE', D, k)
  return due and tonumber(due) > time
end

-- in small batches, without scores (only a key handed out needs its
-- position): the key is most often among the first few
local from, seen, batch = start, 0, math.max(8, want)
while seen < budget do
  local got = call('ZRANGEBYSCORE', O, from, '+inf', 'LIMIT', 0, batch)
  for i, k in ipairs(got) do
    if not skip[k] and call('HEXISTS', W, k) == 0 and not waiting(k) then
      local text = call('HGET', V, k)
      if todo(text, allow, max, k) then
        if hand(k, text, after(k)) then return out end
      end
    end
  end
  if #got < batch then
    if #out > 1 then return out end
    local first = call('ZRANGE', D, 0, 0, 'WITHSCORES')
    if first[2] then return {'wait', num(math.max(0, tonumber(first[2]) - time))} end
    return {'end'}
  end
  from = after(got[#got])
  seen = seen + batch
  batch = math.min(4 * batch, 256)
  if #out > 1 then
    -- the last key's next start already lies past what was handed
    return out
  end
end
if #out > 1 then return out end
return {'more', from}
"""

#: ARGV: kind, loop id, how many keys to release, those keys, then keys to
#: give back. The loop ended: the keys it was handed and did not finish
#: are free; those it claimed and never started are free with their try
#: taken back.
DROP = """
local loop, releases = ARGV[2], tonumber(ARGV[3])
for i = 4, #ARGV do
  local k = ARGV[i]
  if call('HGET', W, k) == loop then
    release(k)
    local old = i > 3 + releases and call('HGET', V, k)
    if old then
      local d, t, a, rest = fields(old)
      if d and t ~= '0' then
        local new = record(d, dec(t), a, rest)
        call('HSET', V, k, new)
        recount(old, new)
      end
    end
  end
end
"""

#: ARGV: kind, lease (ms), then (loop id, key) pairs. Extends the claims
#: these loops still hold.
RENEW = """
local expiry = now() + tonumber(ARGV[2])
for i = 3, #ARGV, 2 do
  if call('HGET', W, ARGV[i + 1]) == ARGV[i] then call('ZADD', C, 'XX', expiry, ARGV[i + 1]) end
end
"""

#: KEYS: the lock; ARGV: token, lease (ms). Extends the lock if the token holds it.
LOCK_RENEW = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
"""

#: KEYS: the lock; ARGV: token. Frees the lock if the token holds it.
LOCK_FREE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""


#: How many of the name's keys each operation's script gets (see ``connect.PARTS``).
KEYS = {
    "APPLY": 2,
    "FIELD": 8,
    "FAIL": 8,
    "WAITING": 8,
    "SET": 8,
    "SETDEFAULT": 8,
    "PUT_MANY": 8,
    "ADD": 8,
    "SHOULD": 5,
    "PEEK": 2,
    "SCAN": 5,
    "DELETE": 8,
    "POPITEM": 8,
    "CAS": 8,
    "CLEAR": 8,
    "NEXT": 8,
    "DROP": 7,
    "RENEW": 7,
}

_BODIES = {name: globals()[name] for name in KEYS}
_LOCK_BODIES = {"LOCK_RENEW": LOCK_RENEW, "LOCK_FREE": LOCK_FREE}

#: Redis 7 function flags. ``no-writes``: a read, run at ``maxmemory`` too
#: (and never writes). ``allow-oom``: frees memory, so it runs at
#: ``maxmemory`` too. Any other function is refused whole at ``maxmemory``
#: before it starts (all or nothing). ``EVAL`` scripts carry no flags (Redis
#: 6 has none): Redis 7 then refuses only a script's first growing write.
FLAGS = {
    "SCAN": "no-writes",
    "WAITING": "no-writes",
    "PEEK": "no-writes",
    "DELETE": "allow-oom",
    "POPITEM": "allow-oom",
    "CLEAR": "allow-oom",
    "DROP": "allow-oom",
    "LOCK_FREE": "allow-oom",
}


def _function(name: str) -> str:
    if name in _LOCK_BODIES:
        return f"function(KEYS, ARGV)\n{_LOCK_BODIES[name]}end"
    readonly = "true" if FLAGS.get(name) == "no-writes" else "false"
    begin = f"local bad = begin(KEYS, ARGV, {readonly})\nif bad then return bad end\n"
    return f"function(KEYS, ARGV)\n{begin}{_BODIES[name]}end"


def _register(name: str) -> str:
    flags = f"{{'{FLAGS[name]}'}}" if name in FLAGS else "{}"
    return (
        f"redis.register_function{{function_name='{FUNCTIONS[name]}', "
        f"callback={_function(name)}, flags={flags}}}\n"
    )


#: Each script as ``EVAL`` runs it: the helpers (each call defines them again), then its body.
SCRIPTS = {
    name: LUA_ENGINE + _COMMON + f"return ({_function(name)})(KEYS, ARGV)\n"
    for name in [*_BODIES, *_LOCK_BODIES]
}

#: Names the scripts' version: a server holds each version's library side by side.
VERSION = hashlib.sha1("".join(SCRIPTS.values()).encode()).hexdigest()[:12]

#: Each script's Redis 7 function (``FCALL``), in ``LIBRARY``.
FUNCTIONS = {name: f"tastypy_{VERSION}_{name.lower()}" for name in SCRIPTS}

#: Every script as one Redis 7 function library (``FUNCTION LOAD``): the
#: helpers and the Op engine are set up once, when the server loads it.
LIBRARY = (
    f"#!lua name=tastypy_{VERSION}\n"
    + LUA_ENGINE
    + _COMMON
    + "".join(_register(name) for name in SCRIPTS)
)
