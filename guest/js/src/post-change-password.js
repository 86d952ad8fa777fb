// `api` for post-change-password actions: Auth0's PostChangePasswordAPI has only `api.cache`.

import { buildApi, cache, entry } from './common.js';

/** Runs an action module's `onExecutePostChangePassword(event, api)`. */
export function handle(action) {
  return entry(action, 'onExecutePostChangePassword', () => buildApi([], { extra: { cache } }));
}
