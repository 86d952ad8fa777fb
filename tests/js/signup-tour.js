// Test action for the registration, password and phone triggers: one module, one handler per
// trigger (each built for its own world), making every API call its trigger has, like the
// Rust guests `signup-gate`, `signup-welcome`, `password-notice` and `sms-sender`.
// `request.body.end` ends a pre-user-registration: `deny` or `validation`.

const { count } = require('./count.js');

exports.onExecutePreUserRegistration = async (event, api) => {
  const n = count(api, 'signups');
  api.user.setAppMetadata('plan', 'trial').user.setUserMetadata('signup_number', n);
  switch (event.request.body?.end) {
    case 'deny':
      api.access.deny(`blocked ${event.user.email}`, 'Sign-ups from this domain are not allowed');
      break;
    case 'validation':
      api.validation.error('E_SIGNUP', 'invalid sign-up');
      break;
    default:
  }
};

exports.onExecutePostUserRegistration = async (event, api) => {
  console.log(`registered ${event.user.user_id} (${count(api, 'registered')})`);
};

exports.onExecutePostChangePassword = async (event, api) => {
  console.log(`password changed for ${event.user.user_id} (${count(api, 'changes')})`);
};

exports.onExecuteSendPhoneMessage = async (event, api) => {
  const m = event.message_options;
  console.log(`${m.message_type} to ${m.recipient} (${m.action}): ${m.text} (${count(api, 'messages')})`);
};
