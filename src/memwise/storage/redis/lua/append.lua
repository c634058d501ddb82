-- Append messages to a session's log, only while the session's record exists.
-- KEYS[1] log, KEYS[2] turns. ARGV: ttl ms (0: none), the session's record key ('': not
-- checked here), then (turn start '1'/'0', entry) pairs.
-- Returns the first assigned seq, or 0 (appending nothing) when the session record is missing.
local function push(key, items)
  for i = 1, #items, 1000 do
    redis.call('RPUSH', key, unpack(items, i, math.min(i + 999, #items)))
  end
end
if ARGV[2] ~= '' then
  if redis.call('EXISTS', ARGV[2]) == 0 then return 0 end
  if tonumber(ARGV[1]) > 0 then redis.call('PEXPIRE', ARGV[2], ARGV[1]) end
end
local first = redis.call('LLEN', KEYS[1]) + 1
local entries, turns = {}, {}
for i = 3, #ARGV, 2 do
  if ARGV[i] == '1' then turns[#turns + 1] = first + (i - 3) / 2 end
  entries[#entries + 1] = ARGV[i + 1]
end
push(KEYS[1], entries)
push(KEYS[2], turns)
if tonumber(ARGV[1]) > 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  redis.call('PEXPIRE', KEYS[2], ARGV[1])
end
return first
