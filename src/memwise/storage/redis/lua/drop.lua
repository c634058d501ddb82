-- Delete a session's log and its turn index.
-- KEYS[1] log, KEYS[2] turns. Returns how many messages were deleted.
local n = redis.call('LLEN', KEYS[1])
redis.call('DEL', KEYS[1], KEYS[2])
return n
