/**
 * The Management-API token pattern from Auth0's knowledge base ("How can I use the Management
 * API in Actions?"), as an Auth0 author writes it: keep the client-credentials token in
 * `api.cache`, check its expiry with `jwtDecode`, and fetch a new one only when needed.
 *
 * One change from the article: the token comes from `fetch` instead of node-auth0's
 * `AuthenticationClient` (which needs Node built-ins). Cachet runs it unchanged otherwise.
 *
 * Secrets: `domain` (the tenant's domain, e.g. `tenant.eu.auth0.com`; a full `http://host:port`
 * URL for a local server such as `cachet dev-idp`), `clientId`, `clientSecret`. The domain's
 * host must be on the action's allow-list.
 */
const { jwtDecode } = require('jwt-decode');

const CACHE_KEY = 'management-api-token';
/** Refresh a little before expiry, so a token never expires mid-call. */
const EXPIRY_MARGIN_MS = 60 * 1000;

/** `https://domain`, or the domain itself when it already names a scheme (local testing). */
function baseUrl(domain) {
  return domain.includes('://') ? domain.replace(/\/+$/, '') : `https://${domain}`;
}

function isFresh(token) {
  try {
    const { exp } = jwtDecode(token);
    return typeof exp === 'number' && Date.now() < exp * 1000 - EXPIRY_MARGIN_MS;
  } catch (err) {
    console.log('cached token is not a JWT, fetching a new one');
    return false;
  }
}

async function getManagementToken(event, api) {
  const cached = api.cache.get(CACHE_KEY);
  if (cached && isFresh(cached.value)) {
    return cached.value;
  }

  const base = baseUrl(event.secrets.domain);
  // The only change: node-auth0's `clientCredentialsGrant` becomes a plain fetch.
  const response = await fetch(`${base}/oauth/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      grant_type: 'client_credentials',
      client_id: event.secrets.clientId,
      client_secret: event.secrets.clientSecret,
      audience: `${base}/api/v2/`,
    }),
  });
  if (!response.ok) {
    throw new Error(`the token endpoint answered HTTP ${response.status}`);
  }
  const data = await response.json();
  const token = data.access_token;
  if (!token) {
    throw new Error('the token endpoint answered without an access_token');
  }
  console.log('cache MISS: fetched a new management API token');

  const result = api.cache.set(CACHE_KEY, token, { ttl: data.expires_in * 1000 });
  if (result.type === 'error') {
    console.log('failed to set the token in the cache with error code', result.code);
  }
  return token;
}

exports.onExecutePostLogin = async (event, api) => {
  const token = await getManagementToken(event, api);

  const base = baseUrl(event.secrets.domain);
  const response = await fetch(`${base}/api/v2/users/${encodeURIComponent(event.user.user_id)}`, {
    headers: { authorization: `Bearer ${token}`, accept: 'application/json' },
  });
  if (!response.ok) {
    throw new Error(`the management API answered HTTP ${response.status}`);
  }
  const user = await response.json();
  api.idToken.setCustomClaim('https://cachet.example/email_verified', user.email_verified);
  api.accessToken.setCustomClaim('https://cachet.example/plan', user.app_metadata?.plan ?? null);
};
