-- Read a session's messages from the start of its last turns, as one snapshot.
-- KEYS[1] log, KEYS[2] turns. ARGV: after_seq, -last_turns, limit (0: no limit).
-- Returns {index of the first returned message, entries}.
local start = tonumber(ARGV[1])
local turn = redis.call('LINDEX', KEYS[2], ARGV[2])
if turn and tonumber(turn) - 1 > start then start = tonumber(turn) - 1 end
local stop = -1
if tonumber(ARGV[3]) > 0 then stop = start + tonumber(ARGV[3]) - 1 end
return {start, redis.call('LRANGE', KEYS[1], start, stop)}
