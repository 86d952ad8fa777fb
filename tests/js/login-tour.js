// Test action: calls every method of post-login's `api` once, the same calls in the same order
// as the Rust `login-tour` guest, so both must record the same commands. `request.query.end`
// names the method that ends the flow: deny, validation, session or refresh.
exports.onExecutePostLogin = async (event, api) => {
  api.accessToken.setCustomClaim('https://tour/plan', 'gold').accessToken.addScope('read:tour');
  api.accessToken.removeScope('write:tour');
  const otp = { type: 'otp' };
  const phone = { type: 'phone', options: { preferredMethod: 'sms' } };
  api.authentication.challengeWith(otp, { additionalFactors: [phone] });
  api.authentication.challengeWithAny([otp, { type: 'email' }]);
  api.authentication.enrollWith({ type: 'webauthn-platform' }, { additionalFactors: [] });
  api.authentication.enrollWithAny([{ type: 'push-notification' }, { type: 'recovery-code' }]);
  api.authentication.setPrimaryUser('auth0|primary');
  api.idToken.setCustomClaim('https://tour/id', 1);
  api.multifactor.enable('duo', {
    allowRememberBrowser: true,
    providerOptions: { host: 'api-1.duo.example', ikey: 'DI1', skey: 'k' },
  });
  api.prompt.render('form-1', { fields: { name: 'Ada' }, vars: { step: 2 } });
  api.refreshToken.setExpiresAt(1800000000000);
  api.refreshToken.setIdleExpiresAt(1700100000000);
  api.refreshToken.setMetadata('device', 'laptop');
  api.refreshToken.deleteMetadata('old');
  api.refreshToken.evictMetadata();
  api.idToken.setCustomClaim('https://tour/rule-ran', api.rules.wasExecuted('rul_1'));
  const saml = api.samlResponse;
  saml.setAttribute('http://schemas.example/role', ['admin', 'dev']);
  saml.setAudience('urn:audience');
  saml.setRecipient('https://sp.example/acs');
  saml.setCreateUpnClaim(false);
  saml.setPassthroughClaimsWithNoMapping(false);
  saml.setMapUnknownClaimsAsIs(true);
  saml.setMapIdentities(false);
  saml.setSignatureAlgorithm('rsa-sha256');
  saml.setDigestAlgorithm('sha256');
  saml.setDestination('https://sp.example/dest');
  saml.setLifetimeInSeconds(600);
  saml.setSignResponse(true);
  saml.setNameIdentifierFormat('urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress');
  saml.setNameIdentifierProbes(['http://schemas.example/email']);
  saml.setAuthnContextClassRef('urn:oasis:names:tc:SAML:2.0:ac:classes:Password');
  saml.setSigningCert('-----BEGIN CERTIFICATE-----signing');
  saml.setIncludeAttributeNameFormat(false);
  saml.setTypedAttributes(false);
  saml.setEncryptionCert('-----BEGIN CERTIFICATE-----enc');
  saml.setEncryptionPublicKey('-----BEGIN PUBLIC KEY-----enc');
  saml.setCert('-----BEGIN CERTIFICATE-----own');
  saml.setKey('-----BEGIN PRIVATE KEY-----own');
  saml.setRelayState('relay');
  saml.setIssuer('urn:tour');
  saml.setEncryptionAlgorithm('aes256-gcm');
  api.session.setExpiresAt(1800000000000);
  api.session.setIdleExpiresAt(1700100000000);
  api.session.setCookieMode('non-persistent');
  api.session.setMetadata('seen', 'yes');
  api.session.setMetadata('gone', null);
  api.session.deleteMetadata('old');
  api.session.evictMetadata();
  api.transaction.setMetadata('step', 2);
  api.transaction.addTargetScope('read:a');
  api.transaction.removeTargetScope('read:b');
  api.transaction.setTargetScopes(['read:a', 'read:c']);
  api.transaction.clearTargetScopes();
  api.user.setAppMetadata('plan', 'gold');
  api.user.setUserMetadata('theme', null);

  switch (event.request.query.end) {
    case 'deny':
      api.access.deny('denied by the tour');
      break;
    case 'validation':
      api.validation.error('E_TOUR', 'invalid by the tour');
      break;
    case 'session':
      api.session.revoke('revoked by the tour', { preserveRefreshTokens: true });
      break;
    case 'refresh':
      api.refreshToken.revoke('refresh revoked by the tour');
      break;
    default:
  }
};
