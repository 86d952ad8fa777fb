// `api` for custom-email-provider actions (Auth0's CustomEmailProviderAPI): fail the notification, with or without
// retries; each one host call (`host/runtime/src/interfaces/api/notification.rs`).

import { apiFactory, entry } from './common.js';

const METHODS = ['notification.drop', 'notification.retry'];

const makeApi = apiFactory(METHODS);

/** Runs an action module's `onExecuteCustomEmailProvider(event, api)`. */
export function handle(action) {
  return entry(action, 'onExecuteCustomEmailProvider', makeApi);
}
