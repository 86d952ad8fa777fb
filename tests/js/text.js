// Test action: strings crossing to the host as UTF-8 — ASCII, two-, three- and four-byte
// characters, the empty string, lone surrogates (which TextEncoder writes as U+FFFD, and
// JSON.stringify as escapes the host reads as U+FFFD) and strings of thousands of characters —
// through a method's arguments and through the cache, then read back. The event's `user.name`
// comes from the host and goes back as a claim.
const SAMPLES = {
  ascii: 'plain',
  latin: 'José Müller-Łukasiewicz',
  bmp: 'Kraków ☃ 東京',
  astral: '😀 𝄞',
  empty: '',
  long: 'é☃😀'.repeat(300),
  lone: 'a\ud800b\udc00c',
};

exports.onExecutePostLogin = async (event, api) => {
  for (const [name, value] of Object.entries(SAMPLES)) api.idToken.setCustomClaim(name, value);
  api.idToken.setCustomClaim('name', event.user.name);
  api.idToken.setCustomClaim('object', { ['k\udfff']: ['v\ud83d', '😀'] });
  const key = 'ключ-😀';
  const written = api.cache.set(key, `välue ☃ 😀 \ud800 ${'ü'.repeat(1000)}`);
  if (written.type !== 'success') throw new Error(`set failed: ${written.code}`);
  api.idToken.setCustomClaim('cached', api.cache.get(key)?.value ?? null);
};
