// `api` for event-stream actions: Auth0's EventStreamAPI has only `api.cache` (a thrown error
// asks for a retry).

import { apiFactory, entry } from './common.js';

const makeApi = apiFactory([]);

/** Runs an action module's `onExecuteEventStream(event, api)`. */
export function handle(action) {
  return entry(action, 'onExecuteEventStream', makeApi);
}
