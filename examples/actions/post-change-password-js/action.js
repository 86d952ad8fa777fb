// post-change-password: remember who changed a password in the last hour (say, to send one
// notice per user however often they change it).
exports.onExecutePostChangePassword = async (event, api) => {
  const key = `changed:${event.user.user_id}`.slice(0, 64);
  if (api.cache.get(key) !== undefined) {
    console.log(`${event.user.user_id}: notice already sent this hour`);
    return;
  }
  api.cache.set(key, '1', { ttl: 60 * 60 * 1000 });
  console.log(`${event.user.user_id}: send a password-change notice to ${event.user.email}`);
};
