-- Remove index entries whose record is gone or no longer has the indexed value.
-- KEYS[1] index. ARGV: record key prefix, field ('' for a kind index), value, members...
-- Returns how many entries were removed.
local removed = 0
for i = 4, #ARGV do
  local key = ARGV[1] .. ARGV[i]
  local stale
  if ARGV[2] == '' then stale = redis.call('EXISTS', key) == 0
  else stale = redis.call('HGET', key, ARGV[2]) ~= ARGV[3] end
  if stale then removed = removed + redis.call('ZREM', KEYS[1], ARGV[i]) end
end
return removed
