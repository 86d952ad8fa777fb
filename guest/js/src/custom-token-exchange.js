// `api` for custom-token-exchange actions (Auth0's CustomTokenExchangeAPI, Early Access there):
// set the user the exchanged token is for, refuse the exchange, set metadata; each one host
// call (`host/runtime/src/interfaces/api/custom_token_exchange.rs`).

import { apiFactory, entry } from './common.js';

const METHODS = [
  'access.deny',
  'access.rejectInvalidSubjectToken',
  'authentication.setUserById',
  'authentication.setUserByConnection',
  'authentication.setOrganization',
  'authentication.setActor',
  'user.setAppMetadata',
  'user.setUserMetadata',
];

const makeApi = apiFactory(METHODS);

/** Runs an action module's `onExecuteCustomTokenExchange(event, api)`. */
export function handle(action) {
  return entry(action, 'onExecuteCustomTokenExchange', makeApi);
}
