// event-stream: react to Auth0's events (CloudEvents), here counting user creations per hour
// in the cache; a thrown error would ask Auth0 to deliver the event again.
exports.onExecuteEventStream = async (event, api) => {
  if (event.message.type !== 'user.created') return;
  const seen = api.cache.get('created-this-hour');
  const n = seen ? Number(seen.value) + 1 : 1;
  api.cache.set('created-this-hour', String(n), seen ? { expires_at: seen.expires_at } : { ttl: 60 * 60 * 1000 });
  console.log(`user ${event.message.data?.object?.user_id} created (${n} this hour)`);
};
