// `api` for credentials-exchange actions (Auth0's CredentialsExchangeAPI): each method one host
// call, checked as Auth0's is (`host/runtime/src/interfaces/api/credentials_exchange.rs`).

import { apiFactory, entry } from './common.js';

const METHODS = [
  'access.deny',
  'accessToken.setCustomClaim',
  'transaction.addTargetScope',
  'transaction.removeTargetScope',
  'transaction.setTargetScopes',
  'transaction.clearTargetScopes',
];

const makeApi = apiFactory(METHODS);

/** Runs an action module's `onExecuteCredentialsExchange(event, api)`. */
export function handle(action) {
  return entry(action, 'onExecuteCredentialsExchange', makeApi);
}
