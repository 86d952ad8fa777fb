// `api` for send-phone-message actions: Auth0's SendPhoneMessageAPI has only `api.cache`.

import { buildApi, cache, entry } from './common.js';

/** Runs an action module's `onExecuteSendPhoneMessage(event, api)`. */
export function handle(action) {
  return entry(action, 'onExecuteSendPhoneMessage', () => buildApi([], { extra: { cache } }));
}
