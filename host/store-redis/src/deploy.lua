-- Deployed actions (see deploy.rs). Every key shares one hash tag, so the script runs on one
-- node of a Cluster. Each change increments the generation key last, in the same script, so a
-- replica that sees the new generation sees the whole change.
--
-- KEYS: 1 generation, 2 deployed (hash), 3 bindings (hash), 4 versions list of the action,
--       5 metadata key of the version, 6 component key of the version
-- ARGV[1] is the operation:
--   put VERSION META COMPONENT           -> 1 stored, 0 already stored
--   deploy FIELD RECORD TENANT ACTION    -> 1 deployed, 0 no such version,
--                                           {mismatch, deployed trigger, bound trigger}
--   bind FIELD RECORD TENANT TRIGGER TAG ACTION...
--                                        -> 1 (an empty RECORD removes the binding),
--                                           {not-deployed, action}, {mismatch, action, trigger}
--   snapshot                             -> {generation, deployed pairs, binding pairs}
-- deploy and bind check, in the same step as their write, that every action of a flow is
-- deployed as an action of that flow trigger. Metadata keys bind reads are built here from
-- TAG: they share the hash tag, so they are in the slot of the declared keys.
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
  local meta = redis.call('GET', KEYS[5])
  if not meta then
    return 0
  end
  local trigger = cjson.decode(meta).trigger
  local tenant, action = ARGV[4], ARGV[5]
  local bindings = redis.call('HGETALL', KEYS[3])
  for i = 1, #bindings, 2 do
    local field = bindings[i]
    local slash = string.find(field, '/', 1, true)
    if slash and string.sub(field, 1, slash - 1) == tenant then
      local bound = string.sub(field, slash + 1)
      if bound ~= trigger then
        for _, a in ipairs(cjson.decode(bindings[i + 1]).actions) do
          if a == action then
            return {'mismatch', trigger, bound}
          end
        end
      end
    end
  end
  redis.call('HSET', KEYS[2], ARGV[2], ARGV[3])
  redis.call('INCR', KEYS[1])
  return 1
elseif op == 'bind' then
  local tenant, trigger, tag = ARGV[4], ARGV[5], ARGV[6]
  for i = 7, #ARGV do
    local action = ARGV[i]
    local deployed = redis.call('HGET', KEYS[2], tenant .. '/' .. action)
    if not deployed then
      return {'not-deployed', action}
    end
    local version = cjson.decode(deployed).version
    local meta = redis.call('GET', tag .. ':meta:' .. tenant .. '/' .. action .. '/' .. version)
    if not meta then
      return {'not-deployed', action}
    end
    local deployed_trigger = cjson.decode(meta).trigger
    if deployed_trigger ~= trigger then
      return {'mismatch', action, deployed_trigger}
    end
  end
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
