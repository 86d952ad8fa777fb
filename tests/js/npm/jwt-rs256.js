// jsonwebtoken's RS256, as an action author writes it, for the benchmarks of the Node
// compatibility layer: a token for another service signed per login and verified with the
// public key (jsonwebtoken 9 turns each PEM string into a key object with `createPrivateKey` /
// `createPublicKey` on every call, then signs with `createSign`). Secrets: `rsaPrivate`,
// `rsaPublic` (PEM).
const jwt = require('jsonwebtoken');

exports.onExecutePostLogin = async (event, api) => {
  const { rsaPrivate, rsaPublic } = event.secrets;
  const token = jwt.sign({ sub: event.user.user_id }, rsaPrivate, {
    algorithm: 'RS256',
    expiresIn: 60,
    audience: 'https://service.example',
  });
  const claims = jwt.verify(token, rsaPublic, { algorithms: ['RS256'], audience: 'https://service.example' });
  if (claims.sub !== event.user.user_id) throw new Error('the token did not verify');
  api.idToken.setCustomClaim('https://cachet.example/assertion', token);
};
