// send-phone-message: hand the one-time code to an SMS provider (here only logged; a real action
// POSTs `event.message_options` to its provider with `fetch`), at most 5 messages per recipient
// in 10 minutes.
exports.onExecuteSendPhoneMessage = async (event, api) => {
  const { recipient, text, message_type: type } = event.message_options;
  const key = `sent:${recipient}`;
  const seen = api.cache.get(key);
  const n = seen ? Number(seen.value) + 1 : 1;
  if (n > 5) throw new Error(`too many messages to ${recipient}; try again later`);
  api.cache.set(key, String(n), seen ? { expires_at: seen.expires_at } : { ttl: 10 * 60 * 1000 });
  console.log(`${type} ${n} to ${recipient}: ${text}`);
};
