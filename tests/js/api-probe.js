// Test action: makes the calls listed in `request.body.calls` (`[method, args]` pairs) through
// the JavaScript SDK's `api` and sets the ID-token claim `https://probe/answers` to what each
// did: `{ ok: value }` or `{ error: message }`, like the Rust `api-probe` guest (whose answers
// lack the SDK's `api.<method>: ` prefix). After each call, the event's transaction is
// recorded too, so tests see `api.transaction` change the event at once.
exports.onExecutePostLogin = async (event, api) => {
  const answers = [];
  for (const [method, args] of event.request.body.calls ?? []) {
    const [group, member] = method.split('.');
    try {
      const value = api[group][member](...args);
      // A copy: the transaction as it was right after this call.
      const transaction = JSON.parse(JSON.stringify(event.transaction ?? null));
      answers.push({ ok: value === api ? null : value, transaction });
    } catch (err) {
      answers.push({ error: err.message });
    }
  }
  api.idToken.setCustomClaim('https://probe/answers', answers);
};
