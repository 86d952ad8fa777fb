// Test action: the `api` of a warm instance's executions. Each execution gets its own `api`
// object; the groups on it (`api.idToken`, …) are made once and shared by the instance's
// executions, and a method acts for the execution that calls it however it is reached:
// detached, chained, or through the `api` an earlier execution kept in a module global. Also:
// `undefined` in the arguments of a method, and (with `request.query.redirect`) a redirect from
// an action that exports no `onContinuePostLogin`.
let executions = 0;
let earlier;

exports.onExecutePostLogin = async (event, api) => {
  if (event.request?.query?.redirect) {
    api.redirect.sendUserTo('https://example.com/next');
    return;
  }
  executions += 1;
  const who = event.user.user_id;
  const { setCustomClaim } = api.idToken;
  setCustomClaim('detached', who);
  const returned = api.accessToken.setCustomClaim('chained', who);
  const { setMetadata } = api.transaction;
  setMetadata('who', who);
  // A group is an ordinary object, as in Auth0: an action may add to it (a warm instance keeps
  // what it added, as it keeps module globals). Replacing a group is for this execution only.
  const added = api.idToken.addedBy ?? null;
  api.idToken.addedBy = executions;
  const replaced = api.user === null;
  api.user = null;
  const newApi = earlier === undefined ? null : earlier !== api;
  if (earlier !== undefined) earlier.idToken.setCustomClaim('through-earlier', who);
  earlier = api;
  api.idToken.setCustomClaim('report', {
    execution: executions,
    newApi,
    returnsApi: returned === api,
    metadata: event.transaction?.metadata?.who ?? null,
    added,
    replaced,
  });
  // Arguments cross as JSON with `undefined` as `null`, as Auth0 sends them: in a list of
  // primitives (which the SDK stringifies without its replacer) and in objects alike.
  api.idToken.setCustomClaim('list', ['a', undefined, 1, null, true]);
  api.idToken.setCustomClaim('object', { a: undefined, b: [undefined, { c: undefined }] });
};
