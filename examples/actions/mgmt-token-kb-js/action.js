/**
 * Auth0's knowledge-base action "How can I use the Management API in Actions?", as written
 * there, with the one change node-auth0 4.x requires: `ManagementClient#getAccessToken` is
 * gone, so a new token comes from `AuthenticationClient#oauth.clientCredentialsGrant`. The
 * packages are the real ones (`auth0` 4.x, `jwt-decode` 3), built with Cachet's Node
 * compatibility layer.
 *
 * Secrets: `domain` (the tenant's domain, `tenant.eu.auth0.com`), `clientID`, `clientSecret`.
 * The domain must be on the action's allow-list. Locally, `cachet test` gives the dev IdP's
 * `HOST:PORT` as the domain (it serves node-auth0's `https://` requests over plain HTTP).
 */
const ManagementClient = require('auth0').ManagementClient;
const AuthenticationClient = require('auth0').AuthenticationClient;
const jwtDecode = require('jwt-decode');

export const onExecutePostLogin = async (event, api) => {
  const { domain, clientID, clientSecret } = event.secrets;
  const cacheKey = 'management-api-token';

  const getManagementClient = (token) =>
    new ManagementClient({
      token,
      domain,
    });

  const isTokenValid = (token) => {
    if (!token) return false;
    const decoded = jwtDecode(token);
    return decoded.exp > Date.now() / 1000;
  };

  const getCachedToken = () => {
    const record = api.cache.get(cacheKey);
    return record?.value;
  };

  const setTokenInCache = async (token) => {
    const result = await api.cache.set(cacheKey, token);
    if (result.type === 'error') {
      console.log(`Failed to set the token in the cache with error code: ${result.code}`);
    } else {
      console.log('Successfully set access token in cache');
    }
  };

  // node-auth0 4.x: the client-credentials grant (the article's `getAccessToken`).
  const getNewToken = async () => {
    const authentication = new AuthenticationClient({
      domain,
      clientId: clientID,
      clientSecret,
    });
    const { data } = await authentication.oauth.clientCredentialsGrant({
      audience: `https://${domain}/api/v2/`,
    });
    return data.access_token;
  };

  let token = getCachedToken();
  if (!isTokenValid(token)) {
    token = await getNewToken();
    await setTokenInCache(token);
  }

  const management = getManagementClient(token);
  // Call Management API here
  const { data: user } = await management.users.get({ id: event.user.user_id });
  api.idToken.setCustomClaim('https://cachet.example/plan', user.app_metadata?.plan ?? null);
};
