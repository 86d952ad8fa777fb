// `api` for post-login actions (Auth0's PostLoginAPI): every call is recorded by the host as a
// command and applied by the caller once the whole flow has run.

import * as wit from 'cachet:action/post-login-api@0.1.0';
import { cache, call, entry, json, unsupported } from './common.js';

function makeApi() {
  const api = {
    access: {
      deny(reason) {
        call('api.access.deny', wit.deny, String(reason ?? ''));
        return api;
      },
    },
    idToken: {
      setCustomClaim(name, value) {
        call('api.idToken.setCustomClaim', wit.setIdTokenClaim, String(name), json('api.idToken.setCustomClaim', value));
        return api;
      },
    },
    accessToken: {
      setCustomClaim(name, value) {
        call('api.accessToken.setCustomClaim', wit.setAccessTokenClaim, String(name), json('api.accessToken.setCustomClaim', value));
        return api;
      },
      addScope(scope) {
        call('api.accessToken.addScope', wit.addAccessTokenScope, String(scope));
        return api;
      },
      removeScope(scope) {
        call('api.accessToken.removeScope', wit.removeAccessTokenScope, String(scope));
        return api;
      },
    },
    user: {
      setAppMetadata(key, value) {
        call('api.user.setAppMetadata', wit.setAppMetadata, String(key), json('api.user.setAppMetadata', value));
        return api;
      },
      setUserMetadata(key, value) {
        call('api.user.setUserMetadata', wit.setUserMetadata, String(key), json('api.user.setUserMetadata', value));
        return api;
      },
    },
    cache,
    redirect: { sendUserTo: unsupported('api.redirect.sendUserTo'), encodeToken: unsupported('api.redirect.encodeToken'), validateToken: unsupported('api.redirect.validateToken') },
    multifactor: { enable: unsupported('api.multifactor.enable') },
    authentication: { challengeWith: unsupported('api.authentication.challengeWith'), recordMethod: unsupported('api.authentication.recordMethod') },
  };
  return api;
}

/** Runs an action module's `onExecutePostLogin(event, api)`. */
export function postLogin(action) {
  return entry(action, 'onExecutePostLogin', makeApi);
}
