// `api` for post-login actions (Auth0's PostLoginAPI): every method is one host call, checked
// as Auth0's is and recorded as a command the caller applies once the whole flow has run.
// `api.redirect.sendUserTo` pauses the flow after the action; `onContinuePostLogin` resumes it.

import { apiFactory, entry, invoke, running } from './common.js';

/** The methods the host's post-login table has (`host/runtime/src/interfaces/api/post_login.rs`). */
const METHODS = [
  'access.deny',
  'accessToken.setCustomClaim',
  'accessToken.addScope',
  'accessToken.removeScope',
  'authentication.challengeWith',
  'authentication.challengeWithAny',
  'authentication.enrollWith',
  'authentication.enrollWithAny',
  'authentication.recordMethod',
  'authentication.setPrimaryUser',
  'idToken.setCustomClaim',
  'multifactor.enable',
  'prompt.render',
  'redirect.canRedirect',
  'redirect.encodeToken',
  'redirect.sendUserTo',
  'redirect.validateToken',
  'refreshToken.revoke',
  'refreshToken.setExpiresAt',
  'refreshToken.setIdleExpiresAt',
  'refreshToken.setMetadata',
  'refreshToken.deleteMetadata',
  'refreshToken.evictMetadata',
  'rules.wasExecuted',
  ...[
    'Attribute',
    'Audience',
    'Recipient',
    'CreateUpnClaim',
    'PassthroughClaimsWithNoMapping',
    'MapUnknownClaimsAsIs',
    'MapIdentities',
    'SignatureAlgorithm',
    'DigestAlgorithm',
    'Destination',
    'LifetimeInSeconds',
    'SignResponse',
    'NameIdentifierFormat',
    'NameIdentifierProbes',
    'AuthnContextClassRef',
    'SigningCert',
    'IncludeAttributeNameFormat',
    'TypedAttributes',
    'EncryptionCert',
    'EncryptionPublicKey',
    'Cert',
    'Key',
    'RelayState',
    'Issuer',
    'EncryptionAlgorithm',
  ].map((setter) => `samlResponse.set${setter}`),
  'session.revoke',
  'session.setExpiresAt',
  'session.setIdleExpiresAt',
  'session.setCookieMode',
  'session.setMetadata',
  'session.deleteMetadata',
  'session.evictMetadata',
  'transaction.setMetadata',
  'transaction.addTargetScope',
  'transaction.removeTargetScope',
  'transaction.setTargetScopes',
  'transaction.clearTargetScopes',
  'user.setAppMetadata',
  'user.setUserMetadata',
  'validation.error',
];

/** `event.transaction`, made an object if it is not one. */
function tx(event) {
  if (event.transaction === null || typeof event.transaction !== 'object') event.transaction = {};
  return event.transaction;
}

/** `event.transaction.target_scopes`, made an array if it is not one. */
function scopes(event) {
  const t = tx(event);
  if (!Array.isArray(t.target_scopes)) t.target_scopes = [];
  return t.target_scopes;
}

/**
 * `api.transaction`'s methods also change `event.transaction` at once, as Auth0's do, so later
 * code in the action (and Auth0-style helpers) sees the new metadata and target scopes.
 */
const transaction = {
  setMetadata(key, value) {
    invoke('transaction.setMetadata', [key, value], false);
    const { api, event } = running();
    const t = tx(event);
    if (t.metadata === null || typeof t.metadata !== 'object') t.metadata = {};
    if (value === null || value === undefined) delete t.metadata[key];
    else t.metadata[key] = value;
    return api;
  },
  addTargetScope(scope) {
    invoke('transaction.addTargetScope', [scope], false);
    const { api, event } = running();
    if (!scopes(event).includes(scope)) scopes(event).push(scope);
    return api;
  },
  removeTargetScope(scope) {
    invoke('transaction.removeTargetScope', [scope], false);
    const { api, event } = running();
    tx(event).target_scopes = scopes(event).filter((s) => s !== scope);
    return api;
  },
  setTargetScopes(list) {
    invoke('transaction.setTargetScopes', [list], false);
    const { api, event } = running();
    tx(event).target_scopes = [...list];
    return api;
  },
  clearTargetScopes() {
    invoke('transaction.clearTargetScopes', [], false);
    const { api, event } = running();
    tx(event).target_scopes = [];
    return api;
  },
};

const makeApi = apiFactory(METHODS, {
  returning: ['rules.wasExecuted', 'redirect.canRedirect', 'redirect.encodeToken', 'redirect.validateToken'],
  groups: { transaction },
});

/** Runs an action module's `onExecutePostLogin(event, api)`. */
export function handle(action) {
  return entry(action, 'onExecutePostLogin', makeApi);
}

/**
 * Runs an action module's `onContinuePostLogin(event, api)`, when the user is back from a
 * redirect. An action that never redirects need not define it; one that redirects without it
 * fails when the flow is continued, saying so.
 */
export function onContinuePostLogin(action) {
  return entry(action, 'onContinuePostLogin', makeApi, { optional: true });
}
