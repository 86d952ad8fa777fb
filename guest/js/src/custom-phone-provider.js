// `api` for custom-phone-provider actions (Auth0's CustomPhoneProviderAPI): fail the notification, with or without
// retries; each one host call (`host/runtime/src/interfaces/api/notification.rs`).

import { apiFactory, entry } from './common.js';

const METHODS = ['notification.drop', 'notification.retry'];

const makeApi = apiFactory(METHODS);

/** Runs an action module's `onExecuteCustomPhoneProvider(event, api)`. */
export function handle(action) {
  return entry(action, 'onExecuteCustomPhoneProvider', makeApi);
}
