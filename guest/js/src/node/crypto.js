// Node's `crypto` for actions: crypto-browserify (hashes, HMAC, RSA and ECDSA signatures,
// ciphers, pbkdf2, random bytes), plus what it lacks and npm packages call: key objects
// (`createSecretKey`/`createPublicKey`/`createPrivateKey`, which jsonwebtoken 9 turns every key
// into before signing), `randomUUID`, `timingSafeEqual`, `webcrypto`. Key objects are accepted
// wherever crypto-browserify takes key material, as Node accepts them. `createHash` and
// `createHmac` with MD5, SHA-1 and SHA-2 are computed by the host (`cachet:action/crypto`):
// crypto-browserify's SHA-256 of a user id took ~220 µs in the interpreter. So are the
// signatures of `createSign` and `createVerify` with RSA (PKCS#1 v1.5 and PSS) and P-256/P-384
// keys in PEM: crypto-browserify's RSA-SHA256 signature took 5.5 s. So are the details of the
// key objects `createPrivateKey` and `createPublicKey` make of RSA, P-256 and P-384 PEM keys
// (parse-asn1 took 1.2 ms for them in the interpreter). (At build time, while the action's
// module loads, there is no host: hashes, signatures and keys made then are the polyfill's, as
// is every key, hash or padding the host refuses.)
import * as browserify from 'crypto-browserify';
import parseKeys from 'parse-asn1';
import asn1 from 'parse-asn1/asn1.js';
import CipherBase from 'cipher-base';
import toBuffer from 'to-buffer';
import { Buffer } from 'buffer';
import algorithms from 'browserify-sign/browser/algorithms.json';
import polyfillSign from 'browserify-sign/browser/sign.js';
import polyfillVerify from 'browserify-sign/browser/verify.js';
import {
  digest as hostDigest,
  hmac as hostHmac,
  inspectKey as hostInspectKey,
  sign as hostSign,
  verify as hostVerify,
} from 'cachet:action/crypto@0.1.0';
import { hostLive } from '../common.js';

const web = globalThis.crypto;
const KEY = Symbol('cachet.keyMaterial');

/** Node's names for the curves of the EC keys parse-asn1 reads (by OID). */
const CURVES = {
  '1.2.840.10045.3.1.7': 'prime256v1',
  '1.3.132.0.34': 'secp384r1',
  '1.3.132.0.35': 'secp521r1',
  '1.3.132.0.10': 'secp256k1',
};

function notKey(what) {
  const err = new TypeError(`crypto.${what}: the key must be a PEM string or Buffer (Cachet's crypto reads PEM keys; JWK and DER key objects are not supported)`);
  err.code = 'ERR_INVALID_ARG_TYPE';
  return err;
}

/** A key, as Node's `KeyObject`: its type and what jsonwebtoken and jwa read of it. */
export class KeyObject {
  constructor(type, material, details) {
    if (type !== 'secret' && type !== 'public' && type !== 'private') {
      throw new TypeError(`crypto.KeyObject: unknown key type ${type}`);
    }
    this.type = type;
    Object.defineProperty(this, KEY, { value: material });
    if (details) {
      this.asymmetricKeyType = details.asymmetricKeyType;
      this.asymmetricKeyDetails = details.asymmetricKeyDetails;
    }
  }

  get symmetricKeySize() {
    return this.type === 'secret' ? this[KEY].length : undefined;
  }

  export(options = {}) {
    if (this.type === 'secret') {
      if (options.format === 'jwk') {
        const k = this[KEY].toString('base64').replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
        return { kty: 'oct', k };
      }
      return Buffer.from(this[KEY]);
    }
    const pem = typeof this[KEY] === 'string' ? this[KEY] : this[KEY].toString();
    if (options.format && options.format !== 'pem') {
      throw new Error(`crypto.KeyObject.export: format ${options.format} is not supported in Cachet (only pem)`);
    }
    return pem;
  }

  equals(other) {
    return other instanceof KeyObject && other.type === this.type && Buffer.from(this.export()).equals(Buffer.from(other.export()));
  }
}

/** PEM text and passphrase of a key argument, as Node takes it. */
function pemOf(input, what) {
  let key = input;
  let passphrase;
  if (key instanceof KeyObject) return { key: key[KEY], passphrase: undefined, object: key };
  if (key && typeof key === 'object' && !Buffer.isBuffer(key) && !(key instanceof Uint8Array)) {
    if (key.format && key.format !== 'pem') throw notKey(what);
    passphrase = key.passphrase;
    key = key.key;
    if (key instanceof KeyObject) return { key: key[KEY], passphrase: undefined, object: key };
  }
  if (typeof key !== 'string' && !Buffer.isBuffer(key) && !(key instanceof Uint8Array)) throw notKey(what);
  const text = Buffer.from(key).toString();
  if (!text.includes('-----BEGIN ')) throw notKey(what);
  return { key: text, passphrase };
}

/** The SubjectPublicKeyInfo PEM of an RSA key parse-asn1 read (private or public). */
function rsaPublicPem(parsed) {
  const der = asn1.RSAPublicKey.encode({ modulus: parsed.modulus, publicExponent: parsed.publicExponent }, 'der');
  return asn1.PublicKey.encode(
    {
      algorithm: { algorithm: [1, 2, 840, 113549, 1, 1, 1], none: null },
      subjectPublicKey: { unused: 0, data: der },
    },
    'pem',
    { label: 'PUBLIC KEY' },
  );
}

/**
 * The host's reading of an unencrypted PEM key (`cachet:action/crypto`'s `inspect-key`: RSA,
 * P-256 and P-384, and with `publicHalf` a private key's public half), or undefined where the
 * host does not read it, or at build time (no host), when parse-asn1 reads it instead: in the
 * interpreter, it took ~1.2 ms for a 2048-bit RSA private key, which jsonwebtoken parses on
 * every `jwt.sign`.
 */
function inspected(pem, publicHalf) {
  if (!hostLive()) return undefined;
  try {
    return hostInspectKey(pem, publicHalf);
  } catch {
    return undefined;
  }
}

/** Node's `asymmetricKeyType` and `asymmetricKeyDetails` of a key the host read. */
function hostDetails(kind) {
  if (kind.tag === 'rsa') {
    const { modulusBits, publicExponent } = kind.val;
    return { asymmetricKeyType: 'rsa', asymmetricKeyDetails: { modulusLength: modulusBits, publicExponent } };
  }
  return { asymmetricKeyType: 'ec', asymmetricKeyDetails: { namedCurve: kind.val } };
}

function asymmetric(input, what, wanted) {
  const { key, passphrase, object } = pemOf(input, what);
  if (object) {
    if (object.type === 'secret' || (wanted === 'private' && object.type !== 'private')) {
      const err = new TypeError(`crypto.${what}: a ${object.type} key object cannot be a ${wanted} key`);
      err.code = 'ERR_CRYPTO_INVALID_KEY_OBJECT_TYPE';
      throw err;
    }
    if (wanted === 'public' && object.type === 'private') return asymmetric(object[KEY], what, wanted);
    return object;
  }
  const host = passphrase === undefined ? inspected(key, wanted === 'public') : undefined;
  if (host) {
    if (wanted === 'private' && !host.privateKey) throw notKey(what);
    // The public half of a private key: what it exports and verifies with.
    if (host.publicKey !== undefined) return new KeyObject(wanted, host.publicKey, hostDetails(host.kind));
    return new KeyObject(wanted, key, hostDetails(host.kind));
  }
  let parsed;
  try {
    parsed = parseKeys(passphrase === undefined ? key : { key, passphrase });
  } catch (err) {
    // A PEM key this polyfill cannot read (RSA-PSS, Ed25519, X25519, …) is still a key, never
    // a shared secret: jsonwebtoken would otherwise take the PEM text as an HMAC secret (the
    // algorithm-confusion attack). Using it for a signature fails; an HS* algorithm refuses it.
    return new KeyObject(wanted, passphrase === undefined ? key : { key, passphrase }, {
      asymmetricKeyType: `unsupported (${err.message})`,
      asymmetricKeyDetails: {},
    });
  }
  const isPrivate = parsed.privateExponent !== undefined || parsed.privateKey !== undefined;
  if (wanted === 'private' && !isPrivate) throw notKey(what);
  if (wanted === 'public' && isPrivate && parsed.modulus !== undefined) {
    // The public half of an RSA private key: what it exports and verifies with.
    return asymmetric(rsaPublicPem(parsed), what, wanted);
  }
  if (wanted === 'public' && isPrivate) {
    throw new TypeError(`crypto.${what}: deriving the public key of a private ${parsed.curve ? 'EC' : 'DSA'} key is not supported in Cachet; pass the public key`);
  }
  let details;
  if (parsed.modulus !== undefined) {
    details = {
      asymmetricKeyType: 'rsa',
      asymmetricKeyDetails: { modulusLength: parsed.modulus.bitLength(), publicExponent: BigInt(parsed.publicExponent.toString()) },
    };
  } else if (parsed.curve !== undefined || parsed.type === 'ec') {
    const oid = (parsed.curve ?? parsed.data?.algorithm?.curve ?? []).join('.');
    details = { asymmetricKeyType: 'ec', asymmetricKeyDetails: { namedCurve: CURVES[oid] ?? oid } };
  } else if (parsed.type === 'dsa') {
    details = { asymmetricKeyType: 'dsa', asymmetricKeyDetails: {} };
  }
  // Key material stays as given (with its passphrase): crypto-browserify reads it again.
  return new KeyObject(wanted, passphrase === undefined ? key : { key, passphrase }, details);
}

export function createSecretKey(key, encoding) {
  if (typeof key === 'string') return new KeyObject('secret', Buffer.from(key, encoding));
  if (Buffer.isBuffer(key) || key instanceof Uint8Array) return new KeyObject('secret', Buffer.from(key));
  throw new TypeError('crypto.createSecretKey: the key must be a string, Buffer or Uint8Array');
}

export function createPublicKey(key) {
  return asymmetric(key, 'createPublicKey', 'public');
}

export function createPrivateKey(key) {
  return asymmetric(key, 'createPrivateKey', 'private');
}

/**
 * Key material crypto-browserify understands, for a key object or anything else: an options
 * object keeps its options (`padding`, which the polyfill refuses when not PKCS#1 v1.5).
 */
function material(key) {
  if (key instanceof KeyObject) return key[KEY];
  if (key && typeof key === 'object' && key.key instanceof KeyObject) {
    const inner = key.key[KEY];
    // An encrypted key object holds `{ key, passphrase }`.
    return inner && typeof inner === 'object' && !ArrayBuffer.isView(inner) ? { ...key, ...inner } : { ...key, key: inner };
  }
  return key;
}

/** The algorithms the host computes, by Node's names (matched in any case, as Node does). */
const HOST_ALGORITHMS = new Set(['md5', 'sha1', 'sha224', 'sha256', 'sha384', 'sha512']);

/** The most bytes one host call takes (`MAX_INPUT_BYTES` in the host); more are hashed here. */
const HOST_MAX_BYTES = 4 * 1024 * 1024;

/**
 * A Hash or Hmac whose digest the host computes. Node's are Transform streams, and so is this
 * (crypto-browserify's CipherBase, which its own hashes use, is its prototype), but its stream
 * state, ~45 µs to build in the interpreter, is built on the first use of a stream method:
 * `update` and `digest` never need it. Updates are copied (the caller may reuse its buffer)
 * and hashed together in one host call.
 */
function HostHash(algorithm, key) {
  this._algorithm = algorithm;
  this._key = key;
  this._chunks = [];
  this._bytes = 0;
}
HostHash.prototype = Object.create(CipherBase.prototype, {
  constructor: { value: HostHash, writable: true, configurable: true },
});
// What the stream constructors set on each instance and stream helpers (`finished`) read
// before any state: Node's values, until the constructors set their own.
Object.assign(HostHash.prototype, { hashMode: true, readable: true, writable: true, allowHalfOpen: true });

/** Builds the stream state of `hash` (crypto-browserify's CipherBase extends Transform). */
function streamOf(hash) {
  if (!Object.hasOwn(hash, '_streaming')) {
    hash._streaming = true;
    CipherBase.super_.call(hash);
  }
}

// The stream's state, made when a stream method first reads it; the constructor's assignment
// (through the setter) makes it an own property.
for (const name of ['_readableState', '_writableState', '_transformState']) {
  Object.defineProperty(HostHash.prototype, name, {
    configurable: true,
    get() {
      if (this === HostHash.prototype) return undefined;
      streamOf(this);
      return Object.hasOwn(this, name) ? this[name] : undefined;
    },
    set(value) {
      if (this === HostHash.prototype) return;
      Object.defineProperty(this, name, { value, writable: true, configurable: true, enumerable: true });
    },
  });
}

/** Node's error for a Hash or Hmac used after its digest. */
function finalized() {
  const err = new Error('Digest already called');
  err.code = 'ERR_CRYPTO_HASH_FINALIZED';
  return err;
}

HostHash.prototype.update = function update(data, inputEncoding) {
  if (this._chunks === null || this._digested) throw finalized();
  // to-buffer checks the type as crypto-browserify does (a TypeError for anything but a
  // string, Buffer, TypedArray or DataView); the copy is ours to keep.
  const bytes = Buffer.from(toBuffer(data, inputEncoding));
  this._chunks.push(bytes);
  this._bytes += bytes.length;
  return this;
};

/** The digest as a Buffer, computed once: the stream's end and `digest` both ask for it. */
HostHash.prototype._digest = function () {
  if (this._out !== undefined) return this._out;
  const data = this._chunks.length === 1 ? this._chunks[0] : Buffer.concat(this._chunks, this._bytes);
  this._chunks = null;
  const key = this._key;
  if (this._bytes + (key === undefined ? 0 : key.length) > HOST_MAX_BYTES) {
    const hash = key === undefined ? browserify.createHash(this._algorithm) : browserify.createHmac(this._algorithm, key);
    this._out = hash.update(data).digest();
    return this._out;
  }
  let out;
  try {
    out = key === undefined ? hostDigest(this._algorithm, data) : hostHmac(this._algorithm, key, data);
  } catch (err) {
    throw new Error(`crypto: ${err?.payload ?? err}`);
  }
  this._out = Buffer.from(out.buffer, out.byteOffset, out.byteLength);
  return this._out;
};

/**
 * What the host signs or verifies for a Sign or Verify (`cachet:action/crypto`'s `signed`): the
 * data written, or their digest when they are more than one host call takes. The host's RSA
 * (`ring`) hashes the data itself. The data stay, as one chunk, for a later `digest`.
 */
HostHash.prototype._signed = function () {
  // Signing ends the hash as a digest does: a later update, sign or verify throws.
  if (this._digested) throw finalized();
  this._digested = true;
  if (this._out === undefined && this._bytes <= HOST_MAX_BYTES) {
    const data = this._chunks.length === 1 ? this._chunks[0] : Buffer.concat(this._chunks, this._bytes);
    this._chunks = [data];
    return { tag: 'data', val: data };
  }
  return { tag: 'digest', val: this._digest() };
};

/**
 * As Node's: a second `digest` throws for a Hash and gives an empty result for an Hmac; after
 * the stream has ended, the digest it pushed.
 */
HostHash.prototype.digest = function digest(outputEncoding) {
  if (this._digested) {
    if (this._key === undefined) throw finalized();
    return outputEncoding ? '' : Buffer.alloc(0);
  }
  this._digested = true;
  const out = this._digest();
  return outputEncoding ? out.toString(outputEncoding) : out;
};

// What CipherBase's stream methods call: `_transform` gives each written chunk to `_update`,
// `_flush` pushes what `__final` returns.
HostHash.prototype._update = function (data) {
  this.update(data);
};
HostHash.prototype.__final = function () {
  return this._digest();
};

export function createHash(algorithm, options) {
  const name = typeof algorithm === 'string' ? algorithm.toLowerCase() : algorithm;
  if (options === undefined && HOST_ALGORITHMS.has(name) && hostLive()) return new HostHash(name);
  return browserify.createHash(algorithm, options);
}

/** The bytes of an HMAC key as Node reads them (a string as UTF-8), or undefined. */
function secretBytes(key) {
  if (typeof key === 'string') return Buffer.from(key, 'utf8');
  if (key instanceof ArrayBuffer) return Buffer.from(new Uint8Array(key));
  if (ArrayBuffer.isView(key)) return Buffer.from(new Uint8Array(key.buffer, key.byteOffset, key.byteLength));
  return undefined;
}

export function createHmac(algorithm, key, options) {
  const object = key instanceof KeyObject ? key : key?.key instanceof KeyObject ? key.key : undefined;
  if (object !== undefined && object.type !== 'secret') {
    const err = new TypeError(`Invalid key object type ${object.type}, expected secret.`);
    err.code = 'ERR_CRYPTO_INVALID_KEY_OBJECT_TYPE';
    throw err;
  }
  const name = typeof algorithm === 'string' ? algorithm.toLowerCase() : algorithm;
  const k = material(key);
  if (options === undefined && HOST_ALGORITHMS.has(name) && hostLive()) {
    // Other key material (an object with a passphrase, say) goes to the polyfill.
    const bytes = secretBytes(k);
    if (bytes !== undefined) return new HostHash(name, bytes);
  }
  return browserify.createHmac(algorithm, k, options);
}

/** The hashes the host signs with (`SignatureHash` in `host/runtime/src/interfaces/crypto.rs`). */
const SIGNATURE_HASHES = new Set(['sha1', 'sha224', 'sha256', 'sha384', 'sha512']);

/** Node's `RSA_PKCS1_PSS_PADDING` and `RSA_PSS_SALTLEN_MAX_SIGN` / `RSA_PSS_SALTLEN_AUTO`. */
const PSS_PADDING = 6;
const PSS_SALT_MAX_OR_AUTO = -2;

/**
 * A signature algorithm's name as crypto-browserify's table has it: Node matches names in any
 * case (`SHA256`, `RSA-SHA256`), the table its own spelling or lower case.
 */
function signatureName(algorithm) {
  if (typeof algorithm !== 'string' || Object.hasOwn(algorithms, algorithm)) return algorithm;
  const lower = algorithm.toLowerCase();
  return Object.hasOwn(algorithms, lower) ? lower : algorithm;
}

/** Node's error for a key object of the wrong type (`wanted`: "private", "private or public"). */
function keyObjectType(input, wanted) {
  const object = input instanceof KeyObject ? input : input?.key instanceof KeyObject ? input.key : undefined;
  if (object !== undefined && !wanted.split(' or ').includes(object.type)) {
    const err = new TypeError(`Invalid key object type ${object.type}, expected ${wanted}.`);
    err.code = 'ERR_CRYPTO_INVALID_KEY_OBJECT_TYPE';
    throw err;
  }
}

/**
 * What the host needs of a `sign`/`verify` key argument (its PEM text and Node's options), or
 * undefined when the polyfill is to use it: an encrypted key, a padding other than PKCS#1 v1.5
 * and PSS, or key material that is not PEM.
 */
function hostKey(input) {
  let key = input;
  let options = {};
  if (key && typeof key === 'object' && !(key instanceof KeyObject) && !ArrayBuffer.isView(key)) {
    options = key;
    key = key.key;
  }
  let pssSalt;
  if (options.padding === PSS_PADDING) {
    pssSalt = options.saltLength ?? PSS_SALT_MAX_OR_AUTO;
    if (!Number.isInteger(pssSalt) || pssSalt < -2 || pssSalt > 2 ** 31 - 1) {
      const err = new TypeError(`The property 'options.saltLength' is invalid. Received ${String(options.saltLength)}`);
      err.code = 'ERR_INVALID_ARG_VALUE';
      throw err;
    }
  } else if (options.padding !== undefined && options.padding !== 1) {
    return undefined;
  }
  if (options.passphrase !== undefined) return undefined;
  if (key instanceof KeyObject) key = key[KEY];
  let pem;
  if (typeof key === 'string') pem = key;
  else if (key instanceof Uint8Array) pem = Buffer.from(key).toString();
  if (pem === undefined || !pem.includes('-----BEGIN ')) return undefined;
  const encoding = options.dsaEncoding ?? 'der';
  if (encoding !== 'der' && encoding !== 'ieee-p1363') return undefined;
  return { pem, options: { pssSalt, p1363: encoding === 'ieee-p1363' } };
}

/**
 * The polyfill signs and verifies RSA with PKCS#1 v1.5 and ECDSA in DER only: when the host
 * refused a key that PSS or IEEE P1363 was asked of, the polyfill cannot stand in, and
 * saying so beats a signature of another kind.
 */
function polyfillCannot(host, why) {
  if (host.options.pssSalt === undefined && !host.options.p1363) return;
  const asked = host.options.pssSalt === undefined ? "dsaEncoding 'ieee-p1363'" : 'PSS padding';
  throw new Error(`crypto: ${asked} is computed by Cachet's host, which refused this key or signature: ${why?.payload ?? why}`);
}

/** A host call's bytes as a Buffer without copying. */
function bufferOf(bytes) {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/**
 * Gives a crypto-browserify Sign or Verify a host-computed hash when the host can sign with
 * its algorithm, and says whether it did (then its digest is the host's to sign).
 */
function hostHashed(object, hashType) {
  if (!hostLive() || !SIGNATURE_HASHES.has(hashType)) return false;
  object._hash = new HostHash(hashType);
  return true;
}

export function createSign(algorithm, options) {
  const name = signatureName(algorithm);
  const signer = browserify.createSign(name, options);
  const hashType = algorithms[name].hash;
  const polyfill = signer.sign;
  const hosted = hostHashed(signer, hashType);
  signer.sign = function sign(key, encoding) {
    keyObjectType(key, 'private');
    const host = hosted ? hostKey(key) : undefined;
    if (host === undefined) return polyfill.call(this, material(key), encoding);
    this.end();
    // Outside the `try`: a used Sign throws here, as a used Hash does.
    const input = this._hash._signed();
    let signature;
    try {
      signature = bufferOf(hostSign(hashType, this._signType, host.pem, input, host.options));
    } catch (err) {
      // A key or scheme the host does not take: the polyfill signs, or throws as it did.
      polyfillCannot(host, err);
      signature = polyfillSign(this._hash._digest(), material(key), hashType, this._signType, this._tag);
    }
    return encoding ? signature.toString(encoding) : signature;
  };
  return signer;
}

export function createVerify(algorithm, options) {
  const name = signatureName(algorithm);
  const verifier = browserify.createVerify(name, options);
  const hashType = algorithms[name].hash;
  const polyfill = verifier.verify;
  const hosted = hostHashed(verifier, hashType);
  verifier.verify = function verify(key, signature, encoding) {
    keyObjectType(key, 'private or public');
    let bytes = typeof signature === 'string' ? Buffer.from(signature, encoding) : signature;
    // Node takes an ArrayBuffer too; the polyfill reads only views.
    if (bytes instanceof ArrayBuffer) bytes = Buffer.from(new Uint8Array(bytes));
    const host = hosted && ArrayBuffer.isView(bytes) ? hostKey(key) : undefined;
    if (host === undefined) return polyfill.call(this, material(key), bytes, encoding);
    this.end();
    const view = new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const input = this._hash._signed();
    try {
      return hostVerify(hashType, this._signType, host.pem, input, view, host.options);
    } catch (err) {
      polyfillCannot(host, err);
      return polyfillVerify(Buffer.from(view), this._hash._digest(), material(key), this._signType, this._tag);
    }
  };
  return verifier;
}

export function publicEncrypt(key, buffer) {
  return browserify.publicEncrypt(material(key), buffer);
}
export function privateDecrypt(key, buffer) {
  return browserify.privateDecrypt(material(key), buffer);
}
export function privateEncrypt(key, buffer) {
  return browserify.privateEncrypt(material(key), buffer);
}
export function publicDecrypt(key, buffer) {
  return browserify.publicDecrypt(material(key), buffer);
}

export function timingSafeEqual(a, b) {
  for (const v of [a, b]) {
    if (!(v instanceof ArrayBuffer) && !ArrayBuffer.isView(v)) {
      const err = new TypeError('crypto.timingSafeEqual: the arguments must be Buffers, TypedArrays, DataViews or ArrayBuffers');
      err.code = 'ERR_INVALID_ARG_TYPE';
      throw err;
    }
  }
  const x = a instanceof ArrayBuffer ? new Uint8Array(a) : new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
  const y = b instanceof ArrayBuffer ? new Uint8Array(b) : new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
  if (x.length !== y.length) {
    const err = new RangeError('Input buffers must have the same byte length');
    err.code = 'ERR_CRYPTO_TIMING_SAFE_EQUAL_LENGTH';
    throw err;
  }
  let diff = 0;
  for (let i = 0; i < x.length; i++) diff |= x[i] ^ y[i];
  return diff === 0;
}

export function randomUUID() {
  if (typeof web?.randomUUID === 'function') return web.randomUUID();
  const b = browserify.randomBytes(16);
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const h = b.toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

export function randomInt(min, max, callback) {
  if (max === undefined || typeof max === 'function') {
    callback = max;
    max = min;
    min = 0;
  }
  if (!Number.isSafeInteger(min) || !Number.isSafeInteger(max) || max <= min || max - min > 2 ** 48) {
    const err = new RangeError('crypto.randomInt: min and max must be safe integers with min < max and max - min <= 2^48');
    err.code = 'ERR_OUT_OF_RANGE';
    throw err;
  }
  const range = max - min;
  // Rejection sampling over 48 bits: no modulo bias.
  const limit = 2 ** 48 - (2 ** 48 % range);
  let n;
  do {
    n = browserify.randomBytes(6).readUIntBE(0, 6);
  } while (n >= limit);
  const value = min + (n % range);
  if (callback) {
    queueMicrotask(() => callback(null, value));
    return undefined;
  }
  return value;
}

export function getRandomValues(array) {
  return web.getRandomValues(array);
}

export const webcrypto = web;
export const subtle = web?.subtle;

export const {
  randomBytes,
  rng,
  pseudoRandomBytes,
  prng,
  Hash,
  Hmac,
  getHashes,
  pbkdf2,
  pbkdf2Sync,
  Cipher,
  createCipher,
  Cipheriv,
  createCipheriv,
  Decipher,
  createDecipher,
  Decipheriv,
  createDecipheriv,
  getCiphers,
  listCiphers,
  DiffieHellmanGroup,
  createDiffieHellmanGroup,
  getDiffieHellman,
  createDiffieHellman,
  DiffieHellman,
  Sign,
  Verify,
  createECDH,
  randomFill,
  randomFillSync,
} = browserify;

/** crypto-browserify's constants and the PSS salt lengths it lacks (jwa's PS256 reads them). */
export const constants = Object.freeze({
  ...browserify.constants,
  RSA_PSS_SALTLEN_DIGEST: -1,
  RSA_PSS_SALTLEN_MAX_SIGN: -2,
  RSA_PSS_SALTLEN_AUTO: -2,
});

export default {
  ...browserify,
  KeyObject,
  createHash,
  createSecretKey,
  createPublicKey,
  createPrivateKey,
  createHmac,
  createSign,
  createVerify,
  publicEncrypt,
  privateDecrypt,
  privateEncrypt,
  publicDecrypt,
  timingSafeEqual,
  randomUUID,
  randomInt,
  getRandomValues,
  webcrypto,
  subtle,
  constants,
};
