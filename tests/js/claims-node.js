// tests/js/claims.js written the way a Node author would, for the benchmarks of the Node
// compatibility layer: the cache key is a SHA-256 of the user id from Node's `crypto` (the
// crypto-browserify polyfill) and the value is base64 through `Buffer`. Same claims, same
// cache traffic; what differs is the layer in the bundle and its calls per execution.
const crypto = require('crypto');

const NS = 'https://cachet.example/';
const TTL_MS = 10 * 60 * 1000;

function computeClaims(event) {
  const meta = event.user.app_metadata ?? {};
  const plan = typeof meta.plan === 'string' ? meta.plan : 'free';
  const byPlan = {
    enterprise: ['sso', 'audit-log', 'support:priority', 'api:write', 'api:read'],
    pro: ['api:write', 'api:read'],
  };
  const entitlements = [...(byPlan[plan] ?? ['api:read'])];
  if (Array.isArray(meta.entitlements)) {
    entitlements.push(...meta.entitlements.filter((e) => typeof e === 'string'));
  }
  return { plan, entitlements: [...new Set(entitlements)].sort() };
}

exports.onExecutePostLogin = async (event, api) => {
  const digest = crypto.createHash('sha256').update(event.user.user_id).digest('base64');
  const key = `claims:${digest}`.slice(0, 64);
  const hit = api.cache.get(key);
  let claims;
  if (hit) {
    claims = JSON.parse(Buffer.from(hit.value, 'base64').toString('utf8'));
  } else {
    claims = computeClaims(event);
    const value = Buffer.from(JSON.stringify(claims), 'utf8').toString('base64');
    const written = api.cache.set(key, value, { ttl: TTL_MS });
    if (written.type === 'error') console.error(`claims: not cached (${written.code})`);
  }
  api.idToken.setCustomClaim(`${NS}plan`, claims.plan);
  api.accessToken.setCustomClaim(`${NS}entitlements`, claims.entitlements);
};
