-- Delete a record and its index entries, and the keys that go with it (a session's log).
-- KEYS[1] record. ARGV: index prefix, member, then keys to delete with it.
-- Returns 1 when the record existed, else 0.
local names = {'user_id', 'agent_id', 'session_id', 'status'}  -- contract.INDEX_FIELDS
local old = redis.call('HMGET', KEYS[1], unpack(names))
for i = 1, #names do
  if old[i] then redis.call('ZREM', ARGV[1] .. ':' .. names[i] .. ':' .. old[i], ARGV[2]) end
end
redis.call('ZREM', ARGV[1], ARGV[2])
if #ARGV > 2 then redis.call('DEL', unpack(ARGV, 3)) end
return redis.call('DEL', KEYS[1])
