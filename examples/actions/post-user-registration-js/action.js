// post-user-registration: note each new user (Auth0 runs this trigger asynchronously; its
// outcome does not change the sign-up) and keep a count of today's sign-ups in the cache.
exports.onExecutePostUserRegistration = async (event, api) => {
  const seen = api.cache.get('signups-today');
  const n = seen ? Number(seen.value) + 1 : 1;
  api.cache.set('signups-today', String(n), { ttl: 24 * 60 * 60 * 1000 });
  console.log(`welcome ${event.user.email}: sign-up ${n} today`);
};
