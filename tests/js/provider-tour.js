// Test action for the provider, token-exchange and event-stream triggers: one module, one
// handler per trigger (each built for its own world), making the calls of the Rust guests
// `mail-relay`, `phone-relay`, `token-swap` and `stream-sink`.

const { count } = require('./count.js');

function fail(event, api, reasons) {
  const how = event.request?.query?.fail;
  if (how === 'drop') api.notification.drop(reasons.drop);
  if (how === 'retry') api.notification.retry(reasons.retry);
}

exports.onExecuteCustomEmailProvider = async (event, api) => {
  const n = count(api, 'emails');
  const m = event.notification;
  console.log(`${m.message_type} to ${m.to}: ${m.subject} (${n})`);
  fail(event, api, { drop: 'the address bounces', retry: 'the provider is down' });
};

exports.onExecuteCustomPhoneProvider = async (event, api) => {
  const n = count(api, 'texts');
  const m = event.notification;
  console.log(`${m.delivery_method} to ${m.recipient}: ${m.as_text} (${n})`);
  fail(event, api, { drop: 'the number is unreachable', retry: 'the provider is down' });
};

exports.onExecuteCustomTokenExchange = async (event, api) => {
  const token = event.transaction.subject_token;
  const auth = api.authentication;
  switch (event.request.query?.mode) {
    case 'reject':
      api.access.rejectInvalidSubjectToken('the subject token is not valid');
      return;
    case 'deny':
      api.access.deny('invalid_request', 'no such session');
      return;
    case 'connection':
      auth.setUserByConnection(
        'legacy-db',
        { user_id: `legacy|${token}`, email: 'ada@example.com' },
        { creationBehavior: 'create_if_not_exists', updateBehavior: 'none' },
      );
      break;
    case 'twice':
      auth.setUserById('auth0|one');
      auth.setUserById('auth0|two');
      break;
    default:
      auth.setUserById(`auth0|${token}`);
  }
  auth.setOrganization('org_acme').authentication.setActor({ sub: 'agent|1', act: { sub: 'agent|0' } });
  api.user.setAppMetadata('exchanged', true);
  api.user.setUserMetadata('via', 'token-exchange');
};

exports.onExecuteEventStream = async (event, api) => {
  const n = count(api, 'events');
  const m = event.message;
  console.log(`${m.type} ${m.id} from ${m.source} (${n})`);
};
