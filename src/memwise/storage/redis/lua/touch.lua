-- Refresh the TTL of keys (a session's log, which slides with its session).
-- KEYS: keys whose TTL to refresh. ARGV[1]: ttl ms.
for i = 1, #KEYS do redis.call('PEXPIRE', KEYS[i], ARGV[1]) end
return 1
