-- Compare-and-set a record, moving its index entries with it (one slot: the catalog's).
-- KEYS[1] record. ARGV: expected version, version, updated_at, body, ttl ms (0: none),
-- index prefix ({P}:i:<kind>), member (the record's key), then (field, value) pairs.
-- Returns 1 when written, 0 when the version did not match.
local cur = redis.call('HGET', KEYS[1], 'v')
if (cur and tonumber(cur) or 0) ~= tonumber(ARGV[1]) then return 0 end
local prefix, member, at = ARGV[6], ARGV[7], ARGV[3]
if cur then
  local names = {'user_id', 'agent_id', 'session_id', 'status'}  -- contract.INDEX_FIELDS
  local old = redis.call('HMGET', KEYS[1], unpack(names))
  for i = 1, #names do
    if old[i] then redis.call('ZREM', prefix .. ':' .. names[i] .. ':' .. old[i], member) end
  end
  redis.call('DEL', KEYS[1])
end
local fields = {'v', ARGV[2], 'u', at, 'b', ARGV[4]}
redis.call('ZADD', prefix, at, member)
for i = 8, #ARGV, 2 do
  fields[#fields + 1] = ARGV[i]
  fields[#fields + 1] = ARGV[i + 1]
  redis.call('ZADD', prefix .. ':' .. ARGV[i] .. ':' .. ARGV[i + 1], at, member)
end
redis.call('HSET', KEYS[1], unpack(fields))
if tonumber(ARGV[5]) > 0 then redis.call('PEXPIRE', KEYS[1], ARGV[5]) end
return 1
