// pre-user-registration (Auth0's example shape): refuse sign-ups from disposable e-mail domains
// with a message for the user, and start everyone else on the trial plan. The blocked-domain
// list is cached for an hour, as an action would cache a list it fetched.
exports.onExecutePreUserRegistration = async (event, api) => {
  let blocked = api.cache.get('blocked-domains')?.value;
  if (blocked === undefined) {
    blocked = JSON.stringify(['mailinator.example', 'tempmail.example']);
    api.cache.set('blocked-domains', blocked, { ttl: 60 * 60 * 1000 });
  }
  const domain = (event.user.email ?? '').split('@')[1] ?? '';
  if (JSON.parse(blocked).includes(domain)) {
    api.access.deny(`disposable domain ${domain}`, 'Please sign up with your own e-mail address.');
    return;
  }
  api.user.setAppMetadata('plan', 'trial');
};
