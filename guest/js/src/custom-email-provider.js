// `api` for custom-email-provider actions (Auth0's CustomEmailProviderAPI): fail the notification, with or without
// retries; each one host call (`host/runtime/src/interfaces/api/notification.rs`).

import { buildApi, cache, entry } from './common.js';

const METHODS = ['notification.drop', 'notification.retry'];

/** Runs an action module's `onExecuteCustomEmailProvider(event, api)`. */
export function handle(action) {
  return entry(action, 'onExecuteCustomEmailProvider', () => buildApi(METHODS, { extra: { cache } }));
}
