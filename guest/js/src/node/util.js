// Node's `util` for actions: the `util` package (Node 8's util, maintained for bundlers), with
// what later Node added and packages use: `isDeepStrictEqual` (by `assert`'s comparison,
// loaded on first use), `TextEncoder`/`TextDecoder` (the engine's), `stripVTControlCharacters`,
// `toUSVString`. CommonJS, as the polyfill is.
const util = require('util/util.js');

util.isDeepStrictEqual ??= function isDeepStrictEqual(a, b) {
  try {
    require('assert').deepStrictEqual(a, b);
    return true;
  } catch {
    return false;
  }
};
util.TextEncoder ??= globalThis.TextEncoder;
util.TextDecoder ??= globalThis.TextDecoder;
util.stripVTControlCharacters ??= (text) =>
  // eslint-disable-next-line no-control-regex
  String(text).replace(/[\u001B\u009B][[\]()#;?]*(?:\d{1,4}(?:;\d{0,4})*)?[\dA-ORZcf-nqry=><]/g, '');
util.toUSVString ??= (text) => String(text).toWellFormed?.() ?? String(text);

module.exports = util;
