// Test action (credentials-exchange): adds a claim from the event and the cache, and denies with
// Auth0's code when the request body asks for it; `scopes: true` calls every target-scope method.
exports.onExecuteCredentialsExchange = async (event, api) => {
  const body = event.request?.body ?? {};
  if (body.scopes === true) {
    api.transaction.addTargetScope('read:a').transaction.removeTargetScope('read:b');
    api.transaction.setTargetScopes(['read:a', 'read:c']);
    api.transaction.clearTargetScopes();
    return;
  }
  if (body.deny) {
    api.access.deny(body.deny, `denied for ${event.client.client_id}`);
    return;
  }
  const seen = api.cache.get('m2m:count');
  const count = seen ? Number(seen.value) + 1 : 1;
  api.cache.set('m2m:count', String(count), { ttl: 60000 });
  api.accessToken.setCustomClaim('https://m2m/client', event.client.client_id);
  api.accessToken.setCustomClaim('https://m2m/count', count);
};
