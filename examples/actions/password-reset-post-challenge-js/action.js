// A password reset, after the user followed the e-mailed link: a locked account is refused;
// a reset from a country the account does not live in is sent to an identity check first
// (continuing in onContinuePostChallenge); administrators must pass OTP (or a security key),
// anyone else one of the factors they enrolled.
//
// Secrets: IDV_SECRET, shared with the identity-check page.

const IDV_PAGE = 'https://idv.example.com/check';

function challenge(event, api) {
  if (event.authorization?.roles?.includes('admin')) {
    api.authentication.challengeWith({ type: 'otp' }, { additionalFactors: [{ type: 'webauthn-roaming' }] });
  } else if (event.user.enrolledFactors?.length) {
    api.authentication.challengeWithAny(event.user.enrolledFactors.map((f) => ({ type: f.type })));
  }
}

exports.onExecutePostChallenge = async (event, api) => {
  if (event.user.app_metadata?.locked === true) {
    api.access.deny('this account is locked; contact support');
    return;
  }
  const country = event.request.geoip?.countryCode;
  const home = event.user.app_metadata?.home_country;
  if (country && home && country !== home) {
    api.cache.set(`reset:${event.user.user_id}`, country);
    const token = api.redirect.encodeToken({
      secret: event.secrets.IDV_SECRET,
      expiresInSeconds: 600,
      payload: { country },
    });
    api.redirect.sendUserTo(IDV_PAGE, { query: { session_token: token } });
    return;
  }
  challenge(event, api);
};

exports.onContinuePostChallenge = async (event, api) => {
  // The identity check's signed answer (it must name this reset's state).
  const answer = api.redirect.validateToken({ secret: event.secrets.IDV_SECRET });
  if (answer.verified !== true) {
    api.access.deny('identity verification failed');
    return;
  }
  challenge(event, api);
};
