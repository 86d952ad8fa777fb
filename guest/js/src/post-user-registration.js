// `api` for post-user-registration actions: Auth0's PostUserRegistrationAPI has only `api.cache`.

import { apiFactory, entry } from './common.js';

const makeApi = apiFactory([]);

/** Runs an action module's `onExecutePostUserRegistration(event, api)`. */
export function handle(action) {
  return entry(action, 'onExecutePostUserRegistration', makeApi);
}
