// `api` for credentials-exchange actions (Auth0's CredentialsExchangeAPI).

import * as wit from 'cachet:action/credentials-exchange-api@0.1.0';
import { cache, call, entry, json } from './common.js';

/** Auth0's denial codes and the WIT's. */
const DENY_CODES = {
  invalid_scope: 'invalid-scope',
  invalid_request: 'invalid-request',
  server_error: 'server-error',
};

function makeApi() {
  const api = {
    access: {
      deny(code, reason) {
        const witCode = DENY_CODES[code];
        if (witCode === undefined) {
          throw new TypeError(`api.access.deny: the code must be one of ${Object.keys(DENY_CODES).join(', ')}, not ${JSON.stringify(code)}`);
        }
        call('api.access.deny', wit.deny, witCode, String(reason ?? ''));
        return api;
      },
    },
    accessToken: {
      setCustomClaim(name, value) {
        call('api.accessToken.setCustomClaim', wit.setAccessTokenClaim, String(name), json('api.accessToken.setCustomClaim', value));
        return api;
      },
    },
    cache,
  };
  return api;
}

/** Runs an action module's `onExecuteCredentialsExchange(event, api)`. */
export function credentialsExchange(action) {
  return entry(action, 'onExecuteCredentialsExchange', makeApi);
}
