// npm packages real Auth0 actions use, as their authors write them (CommonJS `require`),
// built with Cachet's Node compatibility layer. Each check's result (or what it threw) goes
// into the ID-token claim `results`; tests/tests/integration/node_compat.rs compares them
// with what Node gives and verifies the tokens signed here on the host.
//
// Secrets: `jwksUrl` (the dev IdP's, on the allow-list), `deniedUrl` (a server that is not on
// it), `rsaPrivate`, `rsaPublic`, `ecPrivate`, `ecPublic` (test key pairs, PEM), `hsSecret`.
const axios = require('axios');
const fetch = require('node-fetch');
const jwt = require('jsonwebtoken');
const { jwtDecode } = require('jwt-decode');
const jwtDecodeV3 = require('jwt-decode-v3');
const { v4: uuidv4, v5: uuidv5, v7: uuidv7, validate: uuidValidate } = require('uuid');
const _ = require('lodash');
const dayjs = require('dayjs');
const qs = require('qs');
const CryptoJS = require('crypto-js');
const { check } = require('./check.js');

exports.onExecutePostLogin = async (event, api) => {
  const { jwksUrl, deniedUrl, rsaPrivate, rsaPublic, ecPrivate, ecPublic, hsSecret } = event.secrets;
  const r = {};
  await check(r, 'axios', async () => {
    const response = await axios.get(jwksUrl, { timeout: 5000 });
    return [response.status, response.data.keys.length > 0, typeof response.headers['content-type']];
  });
  await check(r, 'axios-denied', async () => {
    await axios.post(deniedUrl, 'grant_type=client_credentials', { timeout: 5000 });
    return 'reached';
  });
  await check(r, 'node-fetch', async () => {
    const response = await fetch(jwksUrl);
    return [response.status, (await response.json()).keys.length > 0];
  });
  await check(r, 'jsonwebtoken', () => {
    const hs = jwt.sign({ sub: 'auth0|hs', scope: 'read' }, hsSecret, { algorithm: 'HS256', expiresIn: '1h', issuer: 'cachet-test' });
    const rs = jwt.sign({ sub: 'auth0|rs' }, rsaPrivate, { algorithm: 'RS256', expiresIn: 3600, keyid: 'test-key' });
    const verifiedHs = jwt.verify(hs, hsSecret, { algorithms: ['HS256'], issuer: 'cachet-test' });
    const verifiedRs = jwt.verify(rs, rsaPublic, { algorithms: ['RS256'] });
    const failures = [];
    for (const [token, key, options] of [
      [hs, 'wrong secret', { algorithms: ['HS256'] }],
      [rs, rsaPublic, { algorithms: ['HS256'] }],
      [jwt.sign({ sub: 'x', exp: Math.floor(Date.now() / 1000) - 60 }, hsSecret), hsSecret, {}],
      // Algorithm confusion: an HS256 token "signed" with the public key as the secret.
      [jwt.sign({ sub: 'x' }, rsaPublic, { algorithm: 'HS256' }), rsaPublic, {}],
    ]) {
      try {
        jwt.verify(token, key, options);
        failures.push('verified');
      } catch (err) {
        failures.push(`${err.name}: ${err.message}`);
      }
    }
    api.idToken.setCustomClaim('hs256', hs);
    api.idToken.setCustomClaim('rs256', rs);
    return [verifiedHs.sub, verifiedHs.scope, verifiedRs.sub, jwt.decode(rs, { complete: true }).header.kid, failures];
  });
  // An ECDSA token: signed and verified by the host through the layer's createSign.
  await check(r, 'jsonwebtoken-es256', () => {
    const es = jwt.sign({ sub: 'auth0|es' }, ecPrivate, { algorithm: 'ES256' });
    api.idToken.setCustomClaim('es256', es);
    return [jwt.verify(es, ecPublic, { algorithms: ['ES256'] }).sub, jwt.decode(es, { complete: true }).header.alg];
  });
  await check(r, 'jwt-decode', () => {
    const token = jwt.sign({ sub: 'auth0|decode', n: 7 }, hsSecret);
    return [jwtDecode(token).sub, jwtDecodeV3(token).n, jwtDecode(token, { header: true }).alg];
  });
  await check(r, 'uuid', () => [
    uuidValidate(uuidv4()),
    uuidv5('cachet.example', uuidv5.DNS),
    uuidv7().charAt(14),
  ]);
  await check(r, 'lodash', () => [
    _.get({ a: [{ b: 'deep' }] }, 'a[0].b'),
    _.chunk([1, 2, 3, 4, 5], 2),
    _.merge({ a: { x: 1 } }, { a: { y: 2 } }),
    _.uniqBy([{ id: 1 }, { id: 1 }, { id: 2 }], 'id').length,
  ]);
  await check(r, 'dayjs', () => [
    dayjs('2024-01-15T10:00:00Z').add(1, 'day').toISOString(),
    dayjs('2024-03-01').diff(dayjs('2024-02-01'), 'day'),
  ]);
  await check(r, 'qs', () => [qs.stringify({ a: { b: [1, 2] } }), qs.parse('a[b]=c&d[]=1&d[]=2')]);
  await check(r, 'crypto-js', () => {
    const sealed = CryptoJS.AES.encrypt('secret message', 'passphrase').toString();
    return [
      CryptoJS.SHA256('abc').toString(),
      CryptoJS.HmacSHA256('The quick brown fox jumps over the lazy dog', 'key').toString(CryptoJS.enc.Hex),
      CryptoJS.AES.decrypt(sealed, 'passphrase').toString(CryptoJS.enc.Utf8),
      CryptoJS.enc.Base64.stringify(CryptoJS.enc.Utf8.parse('hi')),
    ];
  });
  api.idToken.setCustomClaim('results', r);
};
