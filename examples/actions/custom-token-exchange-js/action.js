// custom-token-exchange: exchange a legacy session id for Auth0 tokens. Known sessions are
// cached (as an action would cache what a legacy API answered); an unknown one is rejected as
// an invalid subject token, which Auth0's attack protection counts.
const SESSIONS = { 'external-session-4f9a2c': 'legacy|1001' };

exports.onExecuteCustomTokenExchange = async (event, api) => {
  const token = event.transaction.subject_token;
  const key = `session:${token}`.slice(0, 64);
  let user = api.cache.get(key)?.value;
  if (user === undefined) {
    user = SESSIONS[token];
    if (user === undefined) {
      api.access.rejectInvalidSubjectToken('unknown legacy session');
      return;
    }
    api.cache.set(key, user, { ttl: 5 * 60 * 1000 });
  }
  api.authentication.setUserByConnection(
    'legacy-db',
    { user_id: user },
    { creationBehavior: 'create_if_not_exists', updateBehavior: 'none' },
  );
};
