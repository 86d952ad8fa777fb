// `api` for password-reset-post-challenge actions (Auth0's PostChallengeAPI): deny the reset,
// challenge the user with a second factor, or redirect them and continue in
// `onContinuePostChallenge`. Every method is one host call, checked as post-login's method of
// the same name.

import { apiFactory, entry } from './common.js';

/** The methods the host's table has (`host/runtime/src/interfaces/api/password_reset.rs`). */
const METHODS = [
  'access.deny',
  'authentication.challengeWith',
  'authentication.challengeWithAny',
  'redirect.encodeToken',
  'redirect.sendUserTo',
  'redirect.validateToken',
];

const makeApi = apiFactory(METHODS, { returning: ['redirect.encodeToken', 'redirect.validateToken'] });

/** Runs an action module's `onExecutePostChallenge(event, api)`. */
export function handle(action) {
  return entry(action, 'onExecutePostChallenge', makeApi);
}

/** Runs an action module's `onContinuePostChallenge(event, api)`, after a redirect. */
export function onContinuePostChallenge(action) {
  return entry(action, 'onContinuePostChallenge', makeApi, { optional: true });
}
