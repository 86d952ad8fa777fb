// A Node author's RS256 token, for the benchmarks of the Node compatibility layer's signatures:
// a JWT signed with `crypto.createSign('RSA-SHA256')` (what jsonwebtoken's RS256 does) over the
// user's id, then verified with the public key, as an action minting a client assertion or a
// token for another service would. Secrets: `rsaPrivate`, `rsaPublic` (PEM).
const crypto = require('crypto');

const b64url = (value) => Buffer.from(JSON.stringify(value)).toString('base64url');

exports.onExecutePostLogin = async (event, api) => {
  const { rsaPrivate, rsaPublic } = event.secrets;
  const input = `${b64url({ alg: 'RS256', typ: 'JWT' })}.${b64url({ sub: event.user.user_id, iat: 1700000000 })}`;
  const signature = crypto.createSign('RSA-SHA256').update(input).sign(rsaPrivate, 'base64url');
  const valid = crypto.createVerify('RSA-SHA256').update(input).verify(rsaPublic, signature, 'base64url');
  if (!valid) throw new Error('the signature did not verify');
  api.idToken.setCustomClaim('https://cachet.example/assertion', `${input}.${signature}`);
};
