// `api` for post-change-password actions: Auth0's PostChangePasswordAPI has only `api.cache`.

import { apiFactory, entry } from './common.js';

const makeApi = apiFactory([]);

/** Runs an action module's `onExecutePostChangePassword(event, api)`. */
export function handle(action) {
  return entry(action, 'onExecutePostChangePassword', makeApi);
}
