// custom-email-provider: deliver Auth0's e-mails through your own provider. Here the provider
// is not called (a real action POSTs `event.notification` with `fetch` to an allow-listed
// host); an address that bounced in the last day is dropped instead of retried forever.
exports.onExecuteCustomEmailProvider = async (event, api) => {
  const { to, subject, message_type: type } = event.notification;
  if (api.cache.get(`bounced:${to}`.slice(0, 64)) !== undefined) {
    api.notification.drop(`${to} bounced in the last day`);
    return;
  }
  console.log(`${type} to ${to}: ${subject}`);
  if (to.endsWith('@bounce.example')) {
    api.cache.set(`bounced:${to}`.slice(0, 64), '1', { ttl: 24 * 60 * 60 * 1000 });
    api.notification.retry(`${to} did not accept the message`);
  }
};
