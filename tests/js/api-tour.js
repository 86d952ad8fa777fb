// Test action (CommonJS, as Auth0 authors write): calls every post-login API once, like the
// Rust `api-tour` guest, so the same assertions hold; denies when `request.query.deny` is true.
exports.onExecutePostLogin = async (event, api) => {
  console.log(`tour for ${event.user.user_id}`);
  api.idToken.setCustomClaim('https://tour/name', event.user.name);
  api.accessToken.setCustomClaim('https://tour/tenant', event.tenant.id);
  api.accessToken.addScope('read:profile');
  api.accessToken.removeScope('write:everything');
  api.user.setAppMetadata('last_ip', event.request.ip);
  api.user.setUserMetadata('visits', event.stats.logins_count + 1);

  // Not ASCII, with a character outside the BMP: strings cross to the host as UTF-8.
  const written = api.cache.set('tour-ü', 'välue ☃ 😀', { ttl: 60000 });
  if (written.type !== 'success') throw new Error(`set failed: ${written.code}`);
  const got = api.cache.get('tour-ü');
  const read = got?.value;
  const deleted = api.cache.delete('tour-ü');
  if (deleted.type !== 'success') throw new Error(`delete failed: ${deleted.code}`);
  const gone = api.cache.get('tour-ü') === undefined;
  api.idToken.setCustomClaim('https://tour/cache', { expires_at: written.record.expires_at, read, read_expires_at: got?.expires_at, gone });
  api.idToken.setCustomClaim('https://tour/secret-names', Object.keys(event.secrets).sort());

  if (event.request.query.deny === true) {
    api.access.deny('denied by the tour');
  }
};
