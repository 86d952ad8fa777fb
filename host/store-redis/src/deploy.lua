-- Deployed actions (see deploy.rs). Every key shares one hash tag, so the script runs on one
-- node of a Cluster. Each change increments the generation key last, in the same script, so a
-- replica that sees the new generation sees the whole change.
--
-- KEYS: 1 generation, 2 deployed (hash), 3 bindings (hash), 4 versions list of the action,
--       5 metadata key of the version, 6 component key of the version
-- ARGV[1] is the operation:
--   put VERSION META COMPONENT      -> 1 stored, 0 already stored
--   deploy FIELD RECORD             -> 1 deployed, 0 no such version
--   bind FIELD ACTIONS_JSON         -> 1 (an empty ACTIONS_JSON removes the binding)
--   snapshot                        -> {generation, deployed pairs, binding pairs}
local op = ARGV[1]
if op == 'put' then
  if redis.call('EXISTS', KEYS[5]) == 1 then
    return 0
  end
  redis.call('SET', KEYS[6], ARGV[4])
  redis.call('SET', KEYS[5], ARGV[3])
  redis.call('RPUSH', KEYS[4], ARGV[2])
  redis.call('INCR', KEYS[1])
  return 1
elseif op == 'deploy' then
  if redis.call('EXISTS', KEYS[5]) == 0 then
    return 0
  end
  redis.call('HSET', KEYS[2], ARGV[2], ARGV[3])
  redis.call('INCR', KEYS[1])
  return 1
elseif op == 'bind' then
  if ARGV[3] == '' then
    redis.call('HDEL', KEYS[3], ARGV[2])
  else
    redis.call('HSET', KEYS[3], ARGV[2], ARGV[3])
  end
  redis.call('INCR', KEYS[1])
  return 1
elseif op == 'snapshot' then
  local generation = redis.call('GET', KEYS[1])
  if not generation then
    generation = '0'
  end
  return {generation, redis.call('HGETALL', KEYS[2]), redis.call('HGETALL', KEYS[3])}
end
return redis.error_reply('unknown operation ' .. tostring(op))
