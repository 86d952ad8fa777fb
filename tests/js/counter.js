// Test action: counts its executions in a module global (kept by a warm instance, as Auth0's
// warm Node runtime keeps them), optionally after a fetch to `request.query.url`.
let executions = 0;

exports.onExecutePostLogin = async (event, api) => {
  executions += 1;
  const url = event.request?.query?.url;
  if (url) {
    const response = await fetch(url);
    await response.text();
  }
  api.idToken.setCustomClaim('executions', executions);
};
