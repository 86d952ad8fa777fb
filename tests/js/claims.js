// The `claims` example in JavaScript, for the benchmarks (beside the same code in Node's
// `vm`): the user's plan and entitlements, cached per user for ten minutes.
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
  const key = `claims:${event.user.user_id}`.slice(0, 64);
  const hit = api.cache.get(key);
  let claims;
  if (hit) {
    claims = JSON.parse(hit.value);
  } else {
    claims = computeClaims(event);
    const written = api.cache.set(key, JSON.stringify(claims), { ttl: TTL_MS });
    if (written.type === 'error') console.error(`claims: not cached (${written.code})`);
  }
  api.idToken.setCustomClaim(`${NS}plan`, claims.plan);
  api.accessToken.setCustomClaim(`${NS}entitlements`, claims.entitlements);
};
