// custom-phone-provider: deliver Auth0's SMS and voice messages through your own provider
// (logged here; a real action calls the provider with `fetch`). Voice is not offered: such a
// message is dropped with a reason.
exports.onExecuteCustomPhoneProvider = async (event, api) => {
  const m = event.notification;
  if (m.delivery_method === 'voice') {
    api.notification.drop('voice messages are not offered');
    return;
  }
  const seen = api.cache.get(`sent:${m.recipient}`);
  const n = seen ? Number(seen.value) + 1 : 1;
  api.cache.set(`sent:${m.recipient}`, String(n), { ttl: 10 * 60 * 1000 });
  console.log(`${m.message_type} ${n} to ${m.recipient}: ${m.as_text}`);
};
