// Terms of service, the Auth0 way: a user who has not accepted them is sent to a consent page
// with a signed session token; when they come back (`onContinuePostLogin`), the page's own
// signed answer (`session_token`, naming the login's state) is checked, the consent recorded
// and the login goes on.
//
// The action notes in api.cache when it sent the user away: on Cachet the continuation can run
// on any replica sharing the store, and it reads the same cache (Auth0 does not promise that).
//
// Secrets: CONSENT_SECRET, shared with the consent page.

const CONSENT_PAGE = 'https://consent.example.com/terms';

const noteKey = (event) => `consent:${event.user.user_id}`;

function sendToConsent(event, api) {
  const token = api.redirect.encodeToken({
    secret: event.secrets.CONSENT_SECRET,
    expiresInSeconds: 300,
    payload: { email: event.user.email },
  });
  api.redirect.sendUserTo(CONSENT_PAGE, { query: { session_token: token } });
}

exports.onExecutePostLogin = async (event, api) => {
  if (event.user.app_metadata?.terms_accepted === true) return;
  const written = api.cache.set(noteKey(event), 'sent-to-consent');
  if (written.type !== 'success') throw new Error(`could not note the redirect: ${written.code}`);
  sendToConsent(event, api);
};

exports.onContinuePostLogin = async (event, api) => {
  // The page's answer, signed by it: throws if the token is missing, altered, expired, made for
  // another login, or the one this action gave the page sent back as it was.
  const payload = api.redirect.validateToken({ secret: event.secrets.CONSENT_SECRET });
  if (payload.accepted !== true) {
    api.access.deny('the terms were not accepted');
    return;
  }
  const note = api.cache.get(noteKey(event))?.value ?? null;
  api.user.setAppMetadata('terms_accepted', true);
  api.idToken.setCustomClaim('https://example.com/consent', { note, email: payload.email ?? null });
  if (payload.again === true) sendToConsent(event, api);
};
