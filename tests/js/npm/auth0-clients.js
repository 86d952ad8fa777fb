// node-auth0, both majors Auth0 actions use, built with Cachet's Node compatibility layer and
// run against the dev IdP standing in for a tenant (its HOST:PORT is the domain; Cachet
// sends the clients' https:// requests to it over plain HTTP): 4.x's AuthenticationClient
// (the client-credentials grant) and ManagementClient with that token; the current major's
// ManagementClient getting its own token and with a given one. Results go into the ID-token
// claim `results` (tests/tests/integration/node_compat.rs).
//
// Secrets: `domain`, `clientId`, `clientSecret`.
const auth0v4 = require('auth0-v4');
const { ManagementClient } = require('auth0');
const { check } = require('./check.js');

exports.onExecutePostLogin = async (event, api) => {
  const { domain, clientId, clientSecret } = event.secrets;
  const id = event.user.user_id;
  const r = {};
  await check(r, 'auth0-4', async () => {
    const auth = new auth0v4.AuthenticationClient({ domain, clientId, clientSecret });
    const { data } = await auth.oauth.clientCredentialsGrant({ audience: `https://${domain}/api/v2/` });
    const management = new auth0v4.ManagementClient({ domain, token: data.access_token });
    const { data: user } = await management.users.get({ id });
    return [data.token_type, typeof data.access_token, user.user_id, user.app_metadata.plan];
  });
  await check(r, 'auth0-current', async () => {
    const management = new ManagementClient({ domain, clientId, clientSecret });
    const user = await management.users.get(id);
    return [user.user_id, user.app_metadata.plan];
  });
  await check(r, 'auth0-current-token', async () => {
    const management = new ManagementClient({ domain, token: 'not-a-token' });
    await management.users.get(id);
    return 'accepted';
  });
  api.idToken.setCustomClaim('results', r);
};
