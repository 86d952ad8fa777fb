// `api` for send-phone-message actions: Auth0's SendPhoneMessageAPI has only `api.cache`.

import { apiFactory, entry } from './common.js';

const makeApi = apiFactory([]);

/** Runs an action module's `onExecuteSendPhoneMessage(event, api)`. */
export function handle(action) {
  return entry(action, 'onExecuteSendPhoneMessage', makeApi);
}
