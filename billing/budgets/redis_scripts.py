"""The Lua scripts of RedisStore: one per atomic step. MemoryStore mirrors each in Python.

Keys live under a namespace prefix (ARGV[1]): epoch, c:<counter> (hash sn st rn rt init al),
r:<request> (a reservation: list nanos, tokens, counters...), rx (zset of reservation expiries), d:<request>
(settled marker), pending (hash request -> JSON), rl:<bucket> (hash lv ts), rh:<request> (hash h n t:
the hold a reservation drew on and what it took).
Integers go to Redis through string.format('%d') because Lua's default number formatting
keeps only 14 significant digits. Time comes from Redis (TIME) so processes share one clock.
"""

PRELUDE = r"""
local ns = ARGV[1]
local function i(x) return string.format('%d', x) end
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local function ready_gen()
  local e = redis.call('GET', ns .. 'epoch')
  if e and string.sub(e, 1, 6) == 'ready:' then return string.sub(e, 7) end
  return nil
end
local function level_of(key, b, now)
  local v = redis.call('HMGET', key, 'lv', 'ts')
  if not v[1] then return b[2] end
  return math.min(b[2], tonumber(v[1]) + math.max(0, now - tonumber(v[2])) * b[3])
end
-- A reservation r:<request> is a list: nanos, tokens, counter ids...
local function release(rid)
  local rk = ns .. 'r:' .. rid
  local rec = redis.call('LRANGE', rk, 0, -1)
  if #rec > 0 then
    local n, t = i(-tonumber(rec[1])), i(-tonumber(rec[2]))
    for j = 3, #rec do
      local key = ns .. 'c:' .. rec[j]
      -- A counter evicted or lost on its own must not turn a later release into credit.
      if redis.call('HINCRBY', key, 'rn', n) < 0 then redis.call('HSET', key, 'rn', '0') end
      if redis.call('HINCRBY', key, 'rt', t) < 0 then redis.call('HSET', key, 'rt', '0') end
    end
    redis.call('DEL', rk)
  end
  redis.call('DEL', ns .. 'rh:' .. rid)
  redis.call('ZREM', ns .. 'rx', rid)
end
"""

FIELDS = r"""
-- Fields arrive as one string (ARGV[2]) split on the unit separator: far cheaper for the
-- client to send than a score of separate arguments. A[1] is the namespace, A[2].. the fields.
local A = {ns}
for field in string.gmatch(ARGV[2], '[^\31]+') do A[#A + 1] = field end
"""

# Fields: ns, request id, prompt nanos, prompt tokens, output nanos per token, output tokens,
# step, min clamp, tpm prompt tokens, ttl ms, then: #charges, (counter, limit nanos, limit
# tokens, clamp)*, #buckets, (bucket, capacity, per ms, kind)*, #alternatives, then per
# alternative: #buckets, (bucket, capacity, per ms, kind)*, and last (optional) the id of a
# hold to draw on. Flat fields: decoding JSON here cost more than everything else the script does.
ADMIT = PRELUDE + FIELDS + r"""
local rid = A[2]
local pn, pt, on, out = tonumber(A[3]), tonumber(A[4]), tonumber(A[5]), tonumber(A[6])
local step, minc, pr, ttl = tonumber(A[7]), tonumber(A[8]), tonumber(A[9]), tonumber(A[10])
local pos = 11
local function read_buckets()
  local count, list = tonumber(A[pos]), {}
  pos = pos + 1
  for b = 1, count do
    list[b] = {A[pos], tonumber(A[pos + 1]), tonumber(A[pos + 2]), A[pos + 3]}
    pos = pos + 4
  end
  return list
end
local cs = {}
for c = 1, tonumber(A[pos]) do
  cs[c] = {A[pos + 1], tonumber(A[pos + 2]), tonumber(A[pos + 3]), A[pos + 4]}
  pos = pos + 4
end
pos = pos + 1
local rl = read_buckets()
local alts, n_alts = {}, tonumber(A[pos])
pos = pos + 1
for a = 1, n_alts do alts[a] = read_buckets() end
local draw = A[pos]

local e = redis.call('GET', ns .. 'epoch')
if not e or string.sub(e, 1, 6) ~= 'ready:' then return {'EPOCH', e or ''} end
local gen = string.sub(e, 7)
local st, need = {}, {'INIT'}
for idx, c in ipairs(cs) do
  local v = redis.call('HMGET', ns .. 'c:' .. c[1], 'init', 'sn', 'st', 'rn', 'rt')
  if v[1] ~= '1' then need[#need + 1] = c[1] end
  st[idx] = {tonumber(v[2]) or 0, tonumber(v[3]) or 0, tonumber(v[4]) or 0, tonumber(v[5]) or 0}
end
if #need > 1 then return need end
-- A hold this request draws on: its remaining room is free for this request on its counters.
local hold, hn, ht = {}, 0, 0
if draw then
  hold = redis.call('LRANGE', ns .. 'r:' .. draw, 0, -1)
  if #hold > 0 then
    hn, ht = tonumber(hold[1]), tonumber(hold[2])
    local held = {}
    for j = 3, #hold do held[hold[j]] = true end
    for idx, c in ipairs(cs) do
      if held[c[1]] then
        st[idx][3] = st[idx][3] - hn
        st[idx][4] = st[idx][4] - ht
      end
    end
  end
end
local best, fail_any, fail_refuse = out, 0, 0
for idx, c in ipairs(cs) do
  local s, k = st[idx], out
  if c[2] >= 0 then
    local left = c[2] - s[1] - s[3]
    if on > 0 then
      k = math.min(k, math.floor((left - pn - 1) / on))
    elseif left < pn + 1 then
      k = -1
    end
  end
  if c[3] >= 0 then k = math.min(k, c[3] - s[2] - s[4] - pt) end
  if k < out then
    if fail_any == 0 then fail_any = idx end
    if c[4] ~= '1' and fail_refuse == 0 then fail_refuse = idx end
  end
  if k < best then best = k end
end
if best < out then
  local clamped = math.floor(best / step) * step
  if fail_refuse > 0 or clamped < minc or clamped <= 0 then
    local f = fail_refuse
    if f == 0 then f = fail_any end
    local s, c = st[f], cs[f]
    return {'BUDGET', f - 1, i(c[2] - s[1] - s[3]), i(c[3] - s[2] - s[4])}
  end
  out = clamped
end
local res_n = pn + math.ceil(out * on) + 1
local res_t = pt + out

local now = now_ms()
local tpm = pr + out
local taken = {}
local function try(b)
  local key = ns .. 'rl:' .. b[1]
  local level = level_of(key, b, now)
  local cost = 1
  if b[4] == 't' then cost = tpm end
  if level < cost then
    local retry = -1
    if cost <= b[2] then retry = math.ceil((cost - level) / b[3]) end
    return {'RATE', b[1], i(retry), i(math.floor(level)), i(math.ceil((b[2] - level) / b[3]))}
  end
  return {key, b, level, cost}
end
for _, b in ipairs(rl) do
  local x = try(b)
  if x[1] == 'RATE' then return x end
  taken[#taken + 1] = x
end
local alt, first_fail = -1, nil
for ai, group in ipairs(alts) do
  local trial = {}
  for _, b in ipairs(group) do
    local x = try(b)
    if x[1] == 'RATE' then
      if not first_fail then first_fail = x end
      trial = nil
      break
    end
    trial[#trial + 1] = x
  end
  if trial then
    alt = ai - 1
    for _, x in ipairs(trial) do taken[#taken + 1] = x end
    break
  end
end
if #alts > 0 and alt < 0 then return first_fail end

local reply = {'OK', gen, i(out), alt, i(res_n), i(res_t), ''}
for _, x in ipairs(taken) do
  local key, b, left = x[1], x[2], x[3] - x[4]
  local full = math.ceil((b[2] - left) / b[3])
  redis.call('HSET', key, 'lv', string.format('%.4f', left), 'ts', i(now))
  redis.call('PEXPIRE', key, i(full + 1000))
  reply[#reply + 1] = b[1]
  reply[#reply + 1] = i(math.floor(left))
  reply[#reply + 1] = i(full)
end
if #cs > 0 then
  if #hold > 0 then
    local take_n, take_t = math.min(res_n, hn), math.min(res_t, ht)
    local hk = ns .. 'r:' .. draw
    redis.call('LSET', hk, 0, i(hn - take_n))
    redis.call('LSET', hk, 1, i(ht - take_t))
    for j = 3, #hold do
      redis.call('HINCRBY', ns .. 'c:' .. hold[j], 'rn', i(-take_n))
      redis.call('HINCRBY', ns .. 'c:' .. hold[j], 'rt', i(-take_t))
    end
    if take_n > 0 or take_t > 0 then
      redis.call('HSET', ns .. 'rh:' .. rid, 'h', draw, 'n', i(take_n), 't', i(take_t))
    end
  end
  local n, t, min_left = i(res_n), i(res_t), nil
  local rec = {n, t}
  for idx, c in ipairs(cs) do
    local key = ns .. 'c:' .. c[1]
    local reserved = redis.call('HINCRBY', key, 'rn', n)
    redis.call('HINCRBY', key, 'rt', t)
    rec[idx + 2] = c[1]
    if c[2] >= 0 then
      local left = c[2] - st[idx][1] - reserved
      if min_left == nil or left < min_left then min_left = left end
    end
  end
  if min_left then reply[7] = i(min_left) end
  redis.call('RPUSH', ns .. 'r:' .. rid, unpack(rec))
  redis.call('ZADD', ns .. 'rx', i(now + ttl), rid)
end
return reply
"""

# Fields: ns, request id, nanos, tokens, token estimate, marker ttl s, #charges,
# (counter, soft nanos, soft tokens)*, #token buckets, (bucket, capacity, per ms)*.
SETTLE = PRELUDE + FIELDS + r"""
local rid, n, t = A[2], tonumber(A[3]), tonumber(A[4])
if not redis.call('SET', ns .. 'd:' .. rid, '1', 'NX', 'EX', A[6]) then return {'DUP'} end
local drawn = redis.call('HMGET', ns .. 'rh:' .. rid, 'h', 'n', 't')
release(rid)
-- A call that spent nothing (refused upstream, to be retried) gives its draw back to its hold.
if drawn[1] and n == 0 and t == 0 then
  local hk = ns .. 'r:' .. drawn[1]
  local hold = redis.call('LRANGE', hk, 0, -1)
  if #hold > 0 then
    local bn, bt = tonumber(drawn[2]), tonumber(drawn[3])
    redis.call('LSET', hk, 0, i(tonumber(hold[1]) + bn))
    redis.call('LSET', hk, 1, i(tonumber(hold[2]) + bt))
    for j = 3, #hold do
      redis.call('HINCRBY', ns .. 'c:' .. hold[j], 'rn', i(bn))
      redis.call('HINCRBY', ns .. 'c:' .. hold[j], 'rt', i(bt))
    end
  end
end
local nc = tonumber(A[7])
local pos = 8 + 3 * nc
local refund = tonumber(A[5]) - t
if refund > 0 and tonumber(A[pos]) > 0 then
  local now = now_ms()
  for b = 1, tonumber(A[pos]) do
    local j = pos + 1 + 3 * (b - 1)
    local bucket = {A[j], tonumber(A[j + 1]), tonumber(A[j + 2])}
    local key = ns .. 'rl:' .. bucket[1]
    if redis.call('EXISTS', key) == 1 then
      local level = math.min(bucket[2], level_of(key, bucket, now) + refund)
      redis.call('HSET', key, 'lv', string.format('%.4f', level), 'ts', i(now))
    end
  end
end
if not ready_gen() then
  if (n > 0 or t > 0) and nc > 0 then
    local cids = {}
    for c = 1, nc do cids[c] = A[5 + 3 * c] end
    redis.call('HSET', ns .. 'pending', rid, cjson.encode({k = cids, n = i(n), t = i(t)}))
  end
  return {'PENDING'}
end
local reply = {'OK'}
local ns_, ts_ = i(n), i(t)
for c = 1, nc do
  local j = 5 + 3 * c
  local key = ns .. 'c:' .. A[j]
  local sn = redis.call('HINCRBY', key, 'sn', ns_)
  local stk = redis.call('HINCRBY', key, 'st', ts_)
  local soft_n, soft_t = tonumber(A[j + 1]), tonumber(A[j + 2])
  if (soft_n >= 0 and sn >= soft_n) or (soft_t >= 0 and stk >= soft_t) then
    if redis.call('HSETNX', key, 'al', '1') == 1 then
      reply[#reply + 1] = c - 1
      reply[#reply + 1] = i(sn)
      reply[#reply + 1] = i(stk)
    end
  end
end
return reply
"""

HEARTBEAT = PRELUDE + r"""
local a = cjson.decode(ARGV[2])
local gen = ready_gen()
local now, recreated = now_ms(), 0
for _, h in ipairs(a.h) do
  local rk = ns .. 'r:' .. h[1]
  if redis.call('EXISTS', rk) == 1 then
    redis.call('ZADD', ns .. 'rx', i(now + a.ttl), h[1])
  elseif redis.call('EXISTS', ns .. 'd:' .. h[1]) == 0 then
    local rec = {i(h[2]), i(h[3])}
    for _, cid in ipairs(h[4]) do
      redis.call('HINCRBY', ns .. 'c:' .. cid, 'rn', rec[1])
      redis.call('HINCRBY', ns .. 'c:' .. cid, 'rt', rec[2])
      rec[#rec + 1] = cid
    end
    redis.call('RPUSH', rk, unpack(rec))
    redis.call('ZADD', ns .. 'rx', i(now + a.ttl), h[1])
    recreated = recreated + 1
  end
end
return {gen or '', recreated}
"""

REAP = PRELUDE + r"""
local ids = redis.call('ZRANGEBYSCORE', ns .. 'rx', '-inf', i(now_ms()), 'LIMIT', 0, tonumber(ARGV[2]))
for _, rid in ipairs(ids) do release(rid) end
return #ids
"""

INIT = PRELUDE + r"""
if not ready_gen() then return 0 end
for _, s in ipairs(cjson.decode(ARGV[2])) do
  local key = ns .. 'c:' .. s[1]
  if redis.call('HGET', key, 'init') ~= '1' then
    redis.call('HSET', key, 'sn', i(s[2]), 'st', i(s[3]), 'init', '1')
    if s[4] > 0 then redis.call('EXPIRE', key, i(s[4])) end
  end
end
return 1
"""

BEGIN_REBUILD = PRELUDE + r"""
local e = redis.call('GET', ns .. 'epoch')
if e then return e end
redis.call('SET', ns .. 'epoch', 'rebuilding:' .. ARGV[2], 'EX', ARGV[3])
return 'mine'
"""

ABANDON_REBUILD = PRELUDE + r"""
if redis.call('GET', ns .. 'epoch') == 'rebuilding:' .. ARGV[2] then redis.call('DEL', ns .. 'epoch') end
return 1
"""

FINISH_REBUILD = PRELUDE + r"""
if redis.call('GET', ns .. 'epoch') ~= 'rebuilding:' .. ARGV[2] then return 0 end
local totals = {}
for _, s in ipairs(cjson.decode(ARGV[3])) do totals[s[1]] = {s[2], s[3], s[4]} end
local p = redis.call('HGETALL', ns .. 'pending')
for j = 1, #p, 2 do
  local r = cjson.decode(p[j + 1])
  for _, cid in ipairs(r.k) do
    local t = totals[cid]
    if not t then
      t = {0, 0, 0}
      totals[cid] = t
    end
    t[1] = t[1] + tonumber(r.n)
    t[2] = t[2] + tonumber(r.t)
  end
end
for cid, t in pairs(totals) do
  local key = ns .. 'c:' .. cid
  redis.call('HSET', key, 'sn', i(t[1]), 'st', i(t[2]), 'init', '1')
  if t[3] > 0 then redis.call('EXPIRE', key, i(t[3])) end
end
redis.call('DEL', ns .. 'pending')
redis.call('SET', ns .. 'epoch', 'ready:' .. ARGV[2])
return 1
"""
