// `api` for pre-user-registration actions (Auth0's PreUserRegistrationAPI): deny the signup,
// set the new user's metadata, refuse with a validation error; each method one host call
// (`host/runtime/src/interfaces/api/pre_user_registration.rs`).

import { apiFactory, entry } from './common.js';

const METHODS = ['access.deny', 'user.setAppMetadata', 'user.setUserMetadata', 'validation.error'];

const makeApi = apiFactory(METHODS);

/** Runs an action module's `onExecutePreUserRegistration(event, api)`. */
export function handle(action) {
  return entry(action, 'onExecutePreUserRegistration', makeApi);
}
