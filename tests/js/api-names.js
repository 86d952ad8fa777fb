// Test action, one module for every trigger (built for each world): for each name in
// `request.body.names` ("group.member"), whether this trigger's `api` has it as a function and
// what calling it with no arguments does: "ok", or the thrown error's class and message. Logged
// as one JSON line, so `tests/tests/integration/api_names.rs` can check that no Auth0 method is
// missing or a `TypeError` on `undefined`.
function probe(event, api) {
  const report = {};
  for (const name of event.request?.body?.names ?? []) {
    const [group, member] = name.split('.');
    const fn = api[group]?.[member];
    if (typeof fn !== 'function') {
      report[name] = 'missing';
      continue;
    }
    try {
      fn.call(api[group]);
      report[name] = 'ok';
    } catch (err) {
      report[name] = `${err?.constructor?.name ?? typeof err}: ${err?.message ?? err}`;
    }
  }
  console.log(JSON.stringify(report));
}

exports.onExecutePostLogin = probe;
exports.onExecuteCredentialsExchange = probe;
exports.onExecutePreUserRegistration = probe;
exports.onExecutePostUserRegistration = probe;
exports.onExecutePostChangePassword = probe;
exports.onExecuteSendPhoneMessage = probe;
exports.onExecuteCustomEmailProvider = probe;
exports.onExecuteCustomPhoneProvider = probe;
exports.onExecuteCustomTokenExchange = probe;
exports.onExecuteEventStream = probe;
exports.onExecutePostChallenge = probe;
