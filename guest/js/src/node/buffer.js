// Node's `buffer` for actions: the `buffer` package (from node-stdlib-browser), with its two
// commonest conversions, UTF-8 and base64 between strings and bytes, done by the engine's
// native TextEncoder, TextDecoder, atob and btoa instead of the package's byte-at-a-time
// JavaScript, and Node's `base64url` (Node 15.7 and later; the package has none). In
// SpiderMonkey's interpreter the package took ~95 µs to turn an 80-byte base64
// cache value into text (BENCHMARKS.md, "Buffer's conversions in native code"); Node does it in
// native code too. Results are the package's (and Node's) for every input, except that
// malformed UTF-8 now decodes as Node decodes it (one U+FFFD per maximal invalid subsequence,
// as the Encoding Standard says) where the package wrote one per byte. Every other encoding
// and form of `Buffer.from` is the package's own code.
//
// One Buffer exists in a bundle: npm packages that require the `buffer` package directly get
// the same function, and these conversions once this module has run (it runs wherever the
// `Buffer` global, `buffer` or `crypto` is used).

import buffer from 'buffer/index.js';

const { Buffer } = buffer;

const encoder = new TextEncoder();
// Node keeps a leading byte-order mark as U+FEFF; a default TextDecoder would drop it.
const decoder = new TextDecoder('utf-8', { ignoreBOM: true });

const UTF8 = 1;
const BASE64 = 2;
const BASE64URL = 3;

/** UTF8, BASE64 or BASE64URL for the names Node gives them (in any case), else undefined. */
function fast(encoding) {
  switch (encoding) {
    case 'utf8':
    case 'utf-8':
      return UTF8;
    case 'base64':
      return BASE64;
    case 'base64url':
      return BASE64URL;
    default: {
      // As the package: matched again once, lower-cased.
      const lower = ('' + encoding).toLowerCase();
      return lower === encoding ? undefined : fast(lower);
    }
  }
}

/** The bytes as a binary string (one UTF-16 unit per byte), for btoa. */
function binary(bytes) {
  // Through apply, in chunks: an argument list per byte would overflow the stack on large
  // buffers.
  const CHUNK = 0x2000;
  if (bytes.length <= CHUNK) return String.fromCharCode.apply(null, bytes);
  let text = '';
  for (let i = 0; i < bytes.length; i += CHUNK) {
    const end = Math.min(i + CHUNK, bytes.length);
    text += String.fromCharCode.apply(null, new Uint8Array(bytes.buffer, bytes.byteOffset + i, end - i));
  }
  return text;
}

/** Characters the package's base64 decoder skips: all but the two alphabets'. */
const NOT_BASE64 = /[^+/0-9A-Za-z\-_]/g;

/**
 * Base64 (standard or URL-safe, padded or not, with anything else ignored) as bytes, read as
 * the package reads it: up to the first `=`, skipping other characters; a dangling last
 * character (one past a multiple of four) is dropped.
 */
function base64Bytes(text) {
  let bin;
  try {
    // Well-formed base64 (the usual case) decodes here, as the package would decode it; the
    // regular expressions below run in the engine's regexp interpreter, so they are kept for
    // the rest: URL-safe characters, stray characters, text after an `=`.
    bin = atob(text);
  } catch {
    let clean = text.split('=')[0].replace(NOT_BASE64, '');
    if (clean.length < 2) return new Uint8Array(0);
    if (clean.length % 4 === 1) clean = clean.slice(0, -1);
    bin = atob(clean.replace(/-/g, '+').replace(/_/g, '/'));
  }
  const bytes = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
  return bytes;
}

/** `bytes` as a Buffer, without a copy (what the package's own constructor does). */
function asBuffer(bytes) {
  Object.setPrototypeOf(bytes, Buffer.prototype);
  return bytes;
}

const packageFrom = Buffer.from;
const packageToString = Buffer.prototype.toString;

Buffer.from = function from(value, encodingOrOffset, length) {
  if (typeof value === 'string') {
    // As the package: an encoding that is not a non-empty string means UTF-8.
    const kind = typeof encodingOrOffset !== 'string' || encodingOrOffset === '' ? UTF8 : fast(encodingOrOffset);
    if (kind === UTF8) return asBuffer(encoder.encode(value));
    // Node reads either alphabet for either name.
    if (kind === BASE64 || kind === BASE64URL) return asBuffer(base64Bytes(value));
  }
  return packageFrom(value, encodingOrOffset, length);
};

const packageIsEncoding = Buffer.isEncoding;
Buffer.isEncoding = function isEncoding(encoding) {
  return (typeof encoding === 'string' && fast(encoding) === BASE64URL) || packageIsEncoding(encoding);
};

const packageByteLength = Buffer.byteLength;
Buffer.byteLength = function byteLength(string, encoding) {
  if (typeof string === 'string' && typeof encoding === 'string' && fast(encoding) === BASE64URL) {
    // Node's estimate, as for base64: three bytes per four characters, less trailing `=`.
    let length = string.length;
    if (length > 0 && string.charCodeAt(length - 1) === 0x3d) length--;
    if (length > 1 && string.charCodeAt(length - 1) === 0x3d) length--;
    return (length * 3) >>> 2;
  }
  return packageByteLength.apply(this, arguments);
};

Buffer.prototype.toString = function toString(encoding, start, end) {
  // The package's code reads any array-like by index; the native paths take bytes.
  if (!(this instanceof Uint8Array)) return packageToString.apply(this, arguments);
  const length = this.length;
  if (length === 0) return '';
  if (arguments.length === 0) return decoder.decode(this);
  // The package's bounds, step for step (before the encoding, as there): out-of-range values
  // clamp, NaN and the like are 0.
  if (start === undefined || start < 0) start = 0;
  if (start > length) return '';
  if (end === undefined || end > length) end = length;
  if (end <= 0) return '';
  end >>>= 0;
  start >>>= 0;
  if (end <= start) return '';
  const kind = encoding ? fast(encoding) : UTF8;
  if (kind === undefined) return packageToString.apply(this, arguments);
  const bytes = start === 0 && end === length ? this : new Uint8Array(this.buffer, this.byteOffset + start, end - start);
  if (kind === UTF8) return decoder.decode(bytes);
  const base64 = btoa(binary(bytes));
  return kind === BASE64 ? base64 : base64.replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
};
Buffer.prototype.toLocaleString = Buffer.prototype.toString;

export const { SlowBuffer, INSPECT_MAX_BYTES, kMaxLength } = buffer;
export { Buffer };
export default buffer;
