// `api` for post-user-registration actions: Auth0's PostUserRegistrationAPI has only `api.cache`.

import { buildApi, cache, entry } from './common.js';

/** Runs an action module's `onExecutePostUserRegistration(event, api)`. */
export function handle(action) {
  return entry(action, 'onExecutePostUserRegistration', () => buildApi([], { extra: { cache } }));
}
