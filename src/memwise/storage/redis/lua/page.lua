-- A page of an index, newest first, with the records' hashes.
-- KEYS[1] index. ARGV: max score, min score, offset, count, record key prefix.
-- Returns member, score, record fields (empty when the record is gone), member, ...
local ids = redis.call('ZREVRANGEBYSCORE', KEYS[1], ARGV[1], ARGV[2], 'WITHSCORES', 'LIMIT', ARGV[3], ARGV[4])
local out = {}
for i = 1, #ids, 2 do
  out[#out + 1] = ids[i]
  out[#out + 1] = ids[i + 1]
  out[#out + 1] = redis.call('HGETALL', ARGV[5] .. ids[i])
end
return out
