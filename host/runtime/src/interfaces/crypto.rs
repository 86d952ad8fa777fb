//! The `crypto` interface: hashes, HMACs, signatures and key details computed natively, for
//! the JavaScript SDK's Node `crypto` (`createHash`, `createHmac`, `createSign`,
//! `createVerify`, `createPrivateKey`, `createPublicKey`).
//!
//! Why in the host: an action's JavaScript runs in SpiderMonkey's interpreter, where the
//! polyfill's SHA-256 of a user id took ~220 µs of a ~300 µs warm execution and its RSA-SHA256
//! signature with a 2048-bit key 5.5 s (BENCHMARKS.md, "Node's hashes in the host" and "RSA and
//! ECDSA signatures in the host"); here each is one host call. Stateless: no execution's data
//! outlives the call. Each call's work is bounded ([`MAX_INPUT_BYTES`] of data to hash, keys of
//! at most [`MAX_KEY_BYTES`] and RSA moduli of at most [`MAX_RSA_BITS`]), so one call never
//! holds the host, outside the epoch deadline's reach, for more than a few milliseconds; the
//! SDK leaves anything larger, and every key or scheme the host refuses, to the polyfill.
//!
//! RSA signatures of the common kinds (PKCS#1 v1.5, and PSS with the digest's salt length, with
//! SHA-2 and keys of 2048 to 4096 bits) are `ring`'s, already in the build through rustls:
//! constant-time, and 4 times the `rsa` crate's speed for a signature, 10 times for a
//! verification (BENCHMARKS.md, "`ring`'s RSA and key objects in the host"). `ring` signs data,
//! not digests, so the SDK sends the data when they fit one call. Every other kind, and every
//! digest, uses the RustCrypto crates jsonwebtoken already brings (`rsa`, `p256`, `p384`); the
//! `rsa` crate's private-key operations are blinded (`sign_with_rng`), as it is not constant-time
//! (RUSTSEC-2023-0071). Key details (`inspect_key`) are read from the key's ASN.1 structure
//! without using the key: parse-asn1 took ~1.2 ms for it in the interpreter.

use hmac::{Hmac, Mac};
use p256::ecdsa::signature::hazmat::{PrehashSigner, PrehashVerifier};
use rsa::pkcs1::DecodeRsaPublicKey;
use rsa::pkcs8::{DecodePrivateKey, DecodePublicKey};
use rsa::traits::PublicKeyParts;
use rsa::{Pkcs1v15Sign, Pss, RsaPrivateKey, RsaPublicKey};
use sha2::Digest;
use wasmtime::component::{HasData, Linker};

use crate::bindings::crypto as wit;

/// The most bytes `digest` or `hmac` takes in one call (data and key together): SHA-512 of
/// 4 MiB is ~10 ms on these machines.
pub(crate) const MAX_INPUT_BYTES: usize = 4 * 1024 * 1024;

/// The interface's host: it keeps no state.
pub(crate) struct CryptoHost;

struct HasCrypto;

impl HasData for HasCrypto {
    type Data<'a> = CryptoHost;
}

/// Adds `cachet:action/crypto` to `linker`.
pub(crate) fn add_to_linker<T: Send + 'static>(linker: &mut Linker<T>) -> wasmtime::Result<()> {
    wit::add_to_linker::<T, HasCrypto>(linker, |_| CryptoHost)
}

/// The algorithms, by Node's names (lower case, as Node matches them case-insensitively).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Algorithm {
    Md5,
    Sha1,
    Sha224,
    Sha256,
    Sha384,
    Sha512,
}

impl Algorithm {
    fn parse(name: &str) -> Result<Self, String> {
        Ok(match name.to_ascii_lowercase().as_str() {
            "md5" => Self::Md5,
            "sha1" => Self::Sha1,
            "sha224" => Self::Sha224,
            "sha256" => Self::Sha256,
            "sha384" => Self::Sha384,
            "sha512" => Self::Sha512,
            _ => {
                return Err(format!(
                    "unsupported hash algorithm {name:?} (the host computes md5, sha1, sha224, \
                     sha256, sha384 and sha512)"
                ));
            }
        })
    }

    /// The digest of `data` with this algorithm.
    fn hash(self, data: &[u8]) -> Vec<u8> {
        match self {
            Self::Md5 => digest_with::<md5::Md5>(data),
            Self::Sha1 => digest_with::<sha1::Sha1>(data),
            Self::Sha224 => digest_with::<sha2::Sha224>(data),
            Self::Sha256 => digest_with::<sha2::Sha256>(data),
            Self::Sha384 => digest_with::<sha2::Sha384>(data),
            Self::Sha512 => digest_with::<sha2::Sha512>(data),
        }
    }
}

fn check_size(bytes: usize) -> Result<(), String> {
    if bytes > MAX_INPUT_BYTES {
        return Err(format!(
            "{bytes} bytes is more than the {MAX_INPUT_BYTES} one call takes: hash in parts"
        ));
    }
    Ok(())
}

fn digest_with<D: Digest>(data: &[u8]) -> Vec<u8> {
    D::digest(data).to_vec()
}

/// HMAC with the hash `$hash` (a macro: `Hmac`'s bounds on a generic hash are long).
macro_rules! hmac_with {
    ($hash:ty, $key:expr, $data:expr) => {{
        // HMAC takes a key of any length (longer ones are hashed first): this cannot fail.
        let mut mac = <Hmac<$hash> as Mac>::new_from_slice($key)
            .unwrap_or_else(|_| unreachable!("HMAC accepts keys of every length"));
        mac.update($data);
        mac.finalize().into_bytes().to_vec()
    }};
}

/// The digest of `data`, or why there is none.
pub(crate) fn digest(algorithm: &str, data: &[u8]) -> Result<Vec<u8>, String> {
    let algorithm = Algorithm::parse(algorithm)?;
    check_size(data.len())?;
    Ok(algorithm.hash(data))
}

/// The HMAC of `data` under `key`, or why there is none.
pub(crate) fn hmac(algorithm: &str, key: &[u8], data: &[u8]) -> Result<Vec<u8>, String> {
    let algorithm = Algorithm::parse(algorithm)?;
    check_size(key.len().saturating_add(data.len()))?;
    Ok(match algorithm {
        Algorithm::Md5 => hmac_with!(md5::Md5, key, data),
        Algorithm::Sha1 => hmac_with!(sha1::Sha1, key, data),
        Algorithm::Sha224 => hmac_with!(sha2::Sha224, key, data),
        Algorithm::Sha256 => hmac_with!(sha2::Sha256, key, data),
        Algorithm::Sha384 => hmac_with!(sha2::Sha384, key, data),
        Algorithm::Sha512 => hmac_with!(sha2::Sha512, key, data),
    })
}

/// The most bytes of PEM text a key given to `sign` or `verify` may have: room for a 4096-bit
/// RSA private key (~3.3 kB) several times over, and little enough that a key crafted with a
/// huge modulus is cheap to refuse.
pub(crate) const MAX_KEY_BYTES: usize = 16 * 1024;

/// The largest RSA modulus the host signs or verifies with, in bits (the `rsa` crate's limit
/// for public keys). A 4096-bit signature takes ~15 ms here; larger keys are the polyfill's,
/// whose time the epoch deadline bounds.
pub(crate) const MAX_RSA_BITS: usize = 4096;

/// A private key the host signs with.
enum PrivateKey {
    /// Its PKCS#1 DER, read when it signs: by `ring` where it can, else the `rsa` crate.
    Rsa(Vec<u8>),
    P256(p256::SecretKey),
    P384(p384::SecretKey),
}

/// A public key the host verifies with.
enum PublicKey {
    /// With its PKCS#1 DER, which `ring` verifies with.
    Rsa(RsaPublicKey, Vec<u8>),
    P256(p256::ecdsa::VerifyingKey),
    P384(p384::ecdsa::VerifyingKey),
}

/// The PEM labels of the keys the host reads.
const KEY_LABELS: &[&str] = &[
    "PRIVATE KEY",
    "RSA PRIVATE KEY",
    "EC PRIVATE KEY",
    "PUBLIC KEY",
    "RSA PUBLIC KEY",
    "ENCRYPTED PRIVATE KEY",
];

/// The first key block of `text` (OpenSSL writes an `EC PARAMETERS` block before some EC keys),
/// refused when encrypted or oversized.
fn pem_block(text: &str) -> Result<pem::Pem, String> {
    if text.len() > MAX_KEY_BYTES {
        return Err(format!(
            "a key of {} bytes is more than the {MAX_KEY_BYTES} the host reads",
            text.len()
        ));
    }
    let block = pem::parse_many(text)
        .map_err(|e| format!("not a PEM key: {e}"))?
        .into_iter()
        .find(|block| KEY_LABELS.contains(&block.tag()))
        .ok_or("no PEM key block the host reads (certificates are the polyfill's)")?;
    if block.tag() == "ENCRYPTED PRIVATE KEY" || block.headers().get("Proc-Type").is_some() {
        return Err("the host does not read encrypted keys".into());
    }
    Ok(block)
}

fn rsa_size(bits: usize) -> Result<(), String> {
    if bits > MAX_RSA_BITS {
        return Err(format!(
            "an RSA key of {bits} bits is larger than the {MAX_RSA_BITS} the host signs with"
        ));
    }
    Ok(())
}

/// The length in bits of the number `n`.
fn bits_of(n: rsa::pkcs1::UintRef<'_>) -> usize {
    let bytes = n.as_bytes();
    (bytes.len() * 8).saturating_sub(bytes.first().map_or(0, |b| b.leading_zeros() as usize))
}

/// The modulus length of the RSA private key in PKCS#1 DER, read from its structure and
/// refused when larger than the host signs with: checked before `ring` or the `rsa` crate
/// validate the key and compute with it (work that grows with the modulus, whatever the key's
/// size claims).
fn rsa_private_bits(pkcs1_der: &[u8]) -> Result<usize, String> {
    let parsed = rsa::pkcs1::RsaPrivateKey::try_from(pkcs1_der)
        .map_err(|e| format!("a malformed RSA key: {e}"))?;
    let bits = bits_of(parsed.modulus);
    rsa_size(bits)?;
    Ok(bits)
}

/// The RSA private key in PKCS#1 DER, its size checked first (see [`rsa_private_bits`]).
fn rsa_private(pkcs1_der: &[u8]) -> Result<RsaPrivateKey, String> {
    rsa_private_bits(pkcs1_der)?;
    let info = rsa::pkcs8::PrivateKeyInfo::new(rsa::pkcs1::ALGORITHM_ID, pkcs1_der);
    RsaPrivateKey::try_from(info).map_err(|e| format!("a malformed RSA key: {e}"))
}

/// The private key in PEM `text`.
fn private_key(text: &str) -> Result<PrivateKey, String> {
    private_key_in(&pem_block(text)?)
}

/// The private key in the PEM block `block` (an RSA key's DER only copied: nothing is computed
/// with it until it signs).
fn private_key_in(block: &pem::Pem) -> Result<PrivateKey, String> {
    let der = block.contents();
    Ok(match block.tag() {
        "PRIVATE KEY" => {
            let info = rsa::pkcs8::PrivateKeyInfo::try_from(der)
                .map_err(|e| format!("a malformed PKCS#8 key: {e}"))?;
            if info.algorithm.oid == rsa::pkcs1::ALGORITHM_OID {
                PrivateKey::Rsa(info.private_key.to_vec())
            } else {
                p256::SecretKey::from_pkcs8_der(der)
                    .map(PrivateKey::P256)
                    .or_else(|_| p384::SecretKey::from_pkcs8_der(der).map(PrivateKey::P384))
                    .map_err(
                        |_| "a PKCS#8 key the host does not read (RSA, P-256 and P-384 only)",
                    )?
            }
        }
        "RSA PRIVATE KEY" => PrivateKey::Rsa(der.to_vec()),
        "EC PRIVATE KEY" => p256::SecretKey::from_sec1_der(der)
            .map(PrivateKey::P256)
            .or_else(|_| p384::SecretKey::from_sec1_der(der).map(PrivateKey::P384))
            .map_err(|_| "an EC key the host does not read (P-256 and P-384 only)")?,
        other => return Err(format!("a {other} is not a private key")),
    })
}

/// The RSA public key in PKCS#1 DER (the `rsa` crate refuses moduli over 4096 bits before any
/// arithmetic), kept with its DER for `ring`.
fn rsa_public(pkcs1_der: Vec<u8>) -> Result<PublicKey, String> {
    RsaPublicKey::from_pkcs1_der(&pkcs1_der)
        .map(|key| PublicKey::Rsa(key, pkcs1_der))
        .map_err(|e| format!("an RSA public key the host does not read: {e}"))
}

/// The public key in PEM `text` (a private key's public half).
fn public_key(text: &str) -> Result<PublicKey, String> {
    let block = pem_block(text)?;
    let der = block.contents();
    match block.tag() {
        "PUBLIC KEY" => {
            let info = rsa::pkcs8::SubjectPublicKeyInfoRef::try_from(der)
                .map_err(|e| format!("a malformed public key: {e}"))?;
            if info.algorithm.oid == rsa::pkcs1::ALGORITHM_OID {
                return rsa_public(info.subject_public_key.raw_bytes().to_vec());
            }
            p256::ecdsa::VerifyingKey::from_public_key_der(der)
                .map(PublicKey::P256)
                .or_else(|_| {
                    p384::ecdsa::VerifyingKey::from_public_key_der(der).map(PublicKey::P384)
                })
                .map_err(|_| "a public key the host does not read (RSA, P-256, P-384)".into())
        }
        "RSA PUBLIC KEY" => rsa_public(der.to_vec()),
        _ => match private_key_in(&block)? {
            // Its modulus and exponent, as the structure holds them (as OpenSSL verifies with a
            // private key): nothing is computed with the private numbers.
            PrivateKey::Rsa(der) => {
                let key = rsa::pkcs1::RsaPrivateKey::try_from(der.as_slice())
                    .map_err(|e| format!("a malformed RSA key: {e}"))?;
                rsa_public(rsa_public_der(key.modulus, key.public_exponent)?)
            }
            PrivateKey::P256(key) => Ok(PublicKey::P256(key.public_key().into())),
            PrivateKey::P384(key) => Ok(PublicKey::P384(key.public_key().into())),
        },
    }
}

/// The hashes the host signs digests of (MD5 and RIPEMD-160 stay the polyfill's).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SignatureHash {
    Sha1,
    Sha224,
    Sha256,
    Sha384,
    Sha512,
}

impl SignatureHash {
    /// The hash `name` names.
    fn named(name: &str) -> Result<Self, String> {
        Ok(match Algorithm::parse(name)? {
            Algorithm::Md5 => return Err("the host does not sign MD5 digests".into()),
            Algorithm::Sha1 => Self::Sha1,
            Algorithm::Sha224 => Self::Sha224,
            Algorithm::Sha256 => Self::Sha256,
            Algorithm::Sha384 => Self::Sha384,
            Algorithm::Sha512 => Self::Sha512,
        })
    }

    /// The hash `name` names, checked against the length of `digest`.
    fn parse(name: &str, digest: &[u8]) -> Result<Self, String> {
        let hash = Self::named(name)?;
        let size = hash.len();
        if digest.len() != size {
            return Err(format!(
                "a {name} digest is {size} bytes, not {}",
                digest.len()
            ));
        }
        Ok(hash)
    }

    /// The digest's length in bytes.
    fn len(self) -> usize {
        match self {
            Self::Sha1 => 20,
            Self::Sha224 => 28,
            Self::Sha256 => 32,
            Self::Sha384 => 48,
            Self::Sha512 => 64,
        }
    }

    /// The digest of `data`.
    fn digest(self, data: &[u8]) -> Vec<u8> {
        let algorithm = match self {
            Self::Sha1 => Algorithm::Sha1,
            Self::Sha224 => Algorithm::Sha224,
            Self::Sha256 => Algorithm::Sha256,
            Self::Sha384 => Algorithm::Sha384,
            Self::Sha512 => Algorithm::Sha512,
        };
        algorithm.hash(data)
    }

    /// PKCS#1 v1.5 padding with this hash's DigestInfo prefix.
    fn pkcs1v15(self) -> Pkcs1v15Sign {
        match self {
            Self::Sha1 => Pkcs1v15Sign::new::<sha1::Sha1>(),
            Self::Sha224 => Pkcs1v15Sign::new::<sha2::Sha224>(),
            Self::Sha256 => Pkcs1v15Sign::new::<sha2::Sha256>(),
            Self::Sha384 => Pkcs1v15Sign::new::<sha2::Sha384>(),
            Self::Sha512 => Pkcs1v15Sign::new::<sha2::Sha512>(),
        }
    }

    /// PSS padding with this hash (and MGF1 with it) and a salt of `salt` bytes.
    fn pss(self, salt: usize) -> Pss {
        match self {
            Self::Sha1 => Pss::new_with_salt::<sha1::Sha1>(salt),
            Self::Sha224 => Pss::new_with_salt::<sha2::Sha224>(salt),
            Self::Sha256 => Pss::new_with_salt::<sha2::Sha256>(salt),
            Self::Sha384 => Pss::new_with_salt::<sha2::Sha384>(salt),
            Self::Sha512 => Pss::new_with_salt::<sha2::Sha512>(salt),
        }
    }
}

/// Whether `scheme` (Node's: `rsa`, `ecdsa`, `ecdsa/rsa`) allows an RSA or an EC key.
fn allows(scheme: &str, rsa: bool) -> Result<(), String> {
    let allowed = match scheme {
        "rsa" => rsa,
        "ecdsa" => !rsa,
        "ecdsa/rsa" => true,
        other => return Err(format!("the host does not sign with the {other:?} scheme")),
    };
    if allowed {
        Ok(())
    } else {
        Err(format!(
            "an {} key cannot make a {scheme} signature",
            if rsa { "RSA" } else { "EC" }
        ))
    }
}

/// The longest PSS salt an RSA key of `bits` fits with a `digest_len`-byte hash (RFC 8017
/// 9.1.1: emLen - hLen - 2), which Node's `RSA_PSS_SALTLEN_MAX_SIGN` asks for.
fn max_salt(bits: usize, digest_len: usize) -> usize {
    bits.saturating_sub(1)
        .div_ceil(8)
        .saturating_sub(digest_len + 2)
}

/// The salt length a PSS signature is made with: an explicit length that fits the key, or
/// Node's `-1` (the digest's) or `-2` (the longest).
fn signing_salt(option: i32, bits: usize, digest_len: usize) -> Result<usize, String> {
    let longest = max_salt(bits, digest_len);
    let salt = match option {
        -1 => digest_len,
        -2 => longest,
        // Refused before the `rsa` crate allocates the salt: a guest's length is unbounded.
        n => usize::try_from(n)
            .map_err(|_| format!("a PSS salt length of {n} is not one Node takes"))?,
    };
    if salt > longest {
        return Err(format!(
            "a PSS salt of {salt} bytes does not fit a {bits}-bit key with a {digest_len}-byte \
             digest (at most {longest})"
        ));
    }
    Ok(salt)
}

/// The salt length a PSS signature is checked with: an explicit length (none when it cannot
/// fit, so such a signature does not verify), the digest's for Node's `-1`, or for `-2`
/// (`RSA_PSS_SALTLEN_AUTO`) the length the signature itself encodes, as OpenSSL reads it.
fn verifying_salt(
    option: i32,
    key: &RsaPublicKey,
    hash: SignatureHash,
    signature: &[u8],
) -> Option<usize> {
    let longest = max_salt(key.n().bits(), hash.len());
    match option {
        -1 => Some(hash.len()),
        -2 => encoded_salt(key, hash, signature),
        n => usize::try_from(n).ok().filter(|&salt| salt <= longest),
    }
}

/// The salt length the PSS signature `signature` encodes under `key` (RFC 8017 9.1.2, steps
/// 4 to 10: the public operation, MGF1's mask off the data block, the `0x01` before the salt),
/// or none when it is no PSS encoding. Only a length: the `rsa` crate then verifies the
/// signature with it, so one public operation finds what trying every length would (~40 ms
/// for a 2048-bit signature that does not verify, 320 ms at 4096 bits).
fn encoded_salt(key: &RsaPublicKey, hash: SignatureHash, signature: &[u8]) -> Option<usize> {
    if signature.len() != key.size() {
        return None;
    }
    let s = rsa::BigUint::from_bytes_be(signature);
    if &s >= key.n() {
        return None;
    }
    let m = rsa::hazmat::rsa_encrypt(key, &s).ok()?.to_bytes_be();
    let em_bits = key.n().bits().checked_sub(1)?;
    let em_len = em_bits.div_ceil(8);
    let h_len = hash.len();
    if m.len() > em_len || em_len < h_len + 2 {
        return None;
    }
    let mut em = vec![0; em_len - m.len()];
    em.extend_from_slice(&m);
    if em[em_len - 1] != 0xbc {
        return None;
    }
    let (masked, rest) = em.split_at(em_len - h_len - 1);
    let seed = &rest[..h_len];
    // MGF1: the hash of the seed and a 4-byte counter, concatenated to the data block's size.
    let mut mask = Vec::with_capacity(masked.len() + h_len);
    for counter in 0u32.. {
        if mask.len() >= masked.len() {
            break;
        }
        mask.extend(hash.digest(&[seed, &counter.to_be_bytes()].concat()));
    }
    let mut db: Vec<u8> = masked.iter().zip(mask).map(|(m, k)| m ^ k).collect();
    db[0] &= 0xff >> (8 * em_len - em_bits);
    let one = db.iter().position(|&b| b != 0)?;
    (db[one] == 0x01).then(|| db.len() - one - 1)
}

/// `digest` as a prehash of a curve with `field`-byte scalars: a digest shorter than the
/// scalar is the same integer left-padded with zeros (how OpenSSL reads it, and what the
/// `ecdsa` crate needs: it refuses prehashes under half the field, such as SHA-1's on P-384);
/// a longer one is truncated by the crate, as OpenSSL truncates it.
fn prehash(digest: &[u8], field: usize) -> std::borrow::Cow<'_, [u8]> {
    if digest.len() >= field {
        return std::borrow::Cow::Borrowed(digest);
    }
    let mut padded = vec![0; field - digest.len()];
    padded.extend_from_slice(digest);
    std::borrow::Cow::Owned(padded)
}

/// The ECDSA signature of `$digest` with `$secret`, a `$curve` secret key.
macro_rules! ecdsa_sign {
    ($curve:ident, $secret:expr, $digest:expr, $p1363:expr, $field:expr) => {{
        let signature: $curve::ecdsa::Signature = $curve::ecdsa::SigningKey::from($secret)
            .sign_prehash(&prehash($digest, $field))
            .map_err(|e| format!("signing failed: {e}"))?;
        if $p1363 {
            signature.to_bytes().to_vec()
        } else {
            signature.to_der().as_bytes().to_vec()
        }
    }};
}

/// Whether `$signature` is `$key`'s (a `$curve` verifying key) on `$digest`.
macro_rules! ecdsa_verify {
    ($curve:ident, $key:expr, $digest:expr, $signature:expr, $p1363:expr, $field:expr) => {{
        let parsed = if $p1363 {
            $curve::ecdsa::Signature::from_slice($signature).ok()
        } else {
            $curve::ecdsa::Signature::from_der($signature).ok()
        };
        // A signature that does not parse is one that does not verify, as in Node.
        parsed.is_some_and(|s| $key.verify_prehash(&prehash($digest, $field), &s).is_ok())
    }};
}

/// What `sign` and `verify` are given, with the hash that makes (or made) the digest: the
/// data when the SDK sent them (`ring` hashes them itself and takes no digest), else the digest.
struct Signed<'a> {
    hash: SignatureHash,
    input: &'a wit::Signed,
}

impl<'a> Signed<'a> {
    fn new(hash: &str, input: &'a wit::Signed) -> Result<Self, String> {
        let hash = match input {
            wit::Signed::Digest(digest) => SignatureHash::parse(hash, digest)?,
            wit::Signed::Data(data) => {
                check_size(data.len())?;
                SignatureHash::named(hash)?
            }
        };
        Ok(Self { hash, input })
    }

    /// The data, when the SDK sent them.
    fn data(&self) -> Option<&'a [u8]> {
        match self.input {
            wit::Signed::Data(data) => Some(data),
            wit::Signed::Digest(_) => None,
        }
    }

    /// The digest: given, or computed here, only on the paths that need one (hashing 4 MiB
    /// twice would double the call's time).
    fn digest(&self) -> std::borrow::Cow<'a, [u8]> {
        match self.input {
            wit::Signed::Digest(digest) => std::borrow::Cow::Borrowed(digest),
            wit::Signed::Data(data) => std::borrow::Cow::Owned(self.hash.digest(data)),
        }
    }
}

/// `ring`'s padding to sign with and parameters to verify with for an RSA signature with
/// `hash` and a PSS salt of `salt` bytes (PKCS#1 v1.5 when none), where `ring` makes or checks
/// that kind: PKCS#1 v1.5, or PSS with the digest's salt length (what JWT's PS256 uses), with
/// SHA-256, -384 or -512; PKCS#1 v1.5 with SHA-1 it only verifies.
fn ring_kind(
    hash: SignatureHash,
    salt: Option<usize>,
) -> Option<(
    Option<&'static dyn ring::signature::RsaEncoding>,
    &'static ring::signature::RsaParameters,
)> {
    use ring::signature as rs;
    Some(match (hash, salt) {
        (SignatureHash::Sha1, None) => (None, &rs::RSA_PKCS1_2048_8192_SHA1_FOR_LEGACY_USE_ONLY),
        (SignatureHash::Sha256, None) => {
            (Some(&rs::RSA_PKCS1_SHA256), &rs::RSA_PKCS1_2048_8192_SHA256)
        }
        (SignatureHash::Sha384, None) => {
            (Some(&rs::RSA_PKCS1_SHA384), &rs::RSA_PKCS1_2048_8192_SHA384)
        }
        (SignatureHash::Sha512, None) => {
            (Some(&rs::RSA_PKCS1_SHA512), &rs::RSA_PKCS1_2048_8192_SHA512)
        }
        (SignatureHash::Sha256, Some(32)) => {
            (Some(&rs::RSA_PSS_SHA256), &rs::RSA_PSS_2048_8192_SHA256)
        }
        (SignatureHash::Sha384, Some(48)) => {
            (Some(&rs::RSA_PSS_SHA384), &rs::RSA_PSS_2048_8192_SHA384)
        }
        (SignatureHash::Sha512, Some(64)) => {
            (Some(&rs::RSA_PSS_SHA512), &rs::RSA_PSS_2048_8192_SHA512)
        }
        _ => return None,
    })
}

/// `data`'s signature with the PKCS#1 RSA key `der`, made by `ring` where it signs that kind
/// (see [`ring_kind`]) with a key of 2048 to 4096 bits. `ring`'s private-key operation is
/// constant-time and ~4 times the `rsa` crate's speed (BENCHMARKS.md). None where it does not
/// sign: the `rsa` crate signs then.
fn ring_sign(der: &[u8], hash: SignatureHash, salt: Option<usize>, data: &[u8]) -> Option<Vec<u8>> {
    let padding = ring_kind(hash, salt)?.0?;
    let key = ring::rsa::KeyPair::from_der(der).ok()?;
    let mut signature = vec![0; key.public().modulus_len()];
    let random = ring::rand::SystemRandom::new();
    key.sign(padding, &random, data, &mut signature).ok()?;
    Some(signature)
}

/// Whether `ring` finds `signature` the PKCS#1 RSA public key `der`'s on `data`, for the kinds
/// it verifies (see [`ring_kind`]; keys of 2048 bits or more). False means only that `ring`
/// did not verify it: the caller asks the `rsa` crate then, which decides.
fn ring_verifies(
    der: &[u8],
    hash: SignatureHash,
    salt: Option<usize>,
    data: &[u8],
    signature: &[u8],
) -> bool {
    ring_kind(hash, salt).is_some_and(|(_, parameters)| {
        ring::signature::UnparsedPublicKey::new(parameters, der)
            .verify(data, signature)
            .is_ok()
    })
}

/// The signature of what `input` holds under the PEM private key `key` (see the WIT's `sign`).
pub(crate) fn sign(
    hash: &str,
    scheme: &str,
    key: &str,
    input: &wit::Signed,
    options: &wit::SignatureOptions,
) -> Result<Vec<u8>, String> {
    let signed = Signed::new(hash, input)?;
    let hash = signed.hash;
    let key = private_key(key)?;
    allows(scheme, matches!(key, PrivateKey::Rsa(_)))?;
    Ok(match key {
        PrivateKey::Rsa(der) => {
            let bits = rsa_private_bits(&der)?;
            let salt = match options.pss_salt {
                None => None,
                Some(option) => Some(signing_salt(option, bits, hash.len())?),
            };
            if let Some(signature) = signed
                .data()
                .and_then(|data| ring_sign(&der, hash, salt, data))
            {
                return Ok(signature);
            }
            let key = rsa_private(&der)?;
            let digest = signed.digest();
            // Blinded: the private-key operation's timing does not follow the key.
            let mut rng = rand::rngs::OsRng;
            match salt {
                None => key.sign_with_rng(&mut rng, hash.pkcs1v15(), &digest),
                Some(salt) => key.sign_with_rng(&mut rng, hash.pss(salt), &digest),
            }
            .map_err(|e| format!("signing failed: {e}"))?
        }
        PrivateKey::P256(key) => ecdsa_sign!(p256, &key, &signed.digest(), options.p1363, 32),
        PrivateKey::P384(key) => ecdsa_sign!(p384, &key, &signed.digest(), options.p1363, 48),
    })
}

/// Whether `signature` is the PEM key `key`'s on what `input` holds (see the WIT's `verify`).
pub(crate) fn verify(
    hash: &str,
    scheme: &str,
    key: &str,
    input: &wit::Signed,
    signature: &[u8],
    options: &wit::SignatureOptions,
) -> Result<bool, String> {
    let signed = Signed::new(hash, input)?;
    let hash = signed.hash;
    let key = public_key(key)?;
    allows(scheme, matches!(key, PublicKey::Rsa(..)))?;
    Ok(match key {
        PublicKey::Rsa(key, der) => {
            // `ring` first, with the digest's salt length for Node's `-1` and automatic `-2`
            // (what a PS256 token has); where it does not verify, the `rsa` crate decides.
            let ring_salt = match options.pss_salt {
                None => None,
                Some(-1 | -2) => Some(hash.len()),
                Some(n) => Some(usize::try_from(n).unwrap_or(usize::MAX)),
            };
            if signed
                .data()
                .is_some_and(|data| ring_verifies(&der, hash, ring_salt, data, signature))
            {
                return Ok(true);
            }
            let digest = signed.digest();
            match options.pss_salt {
                None => key.verify(hash.pkcs1v15(), &digest, signature).is_ok(),
                Some(option) => verifying_salt(option, &key, hash, signature)
                    .is_some_and(|salt| key.verify(hash.pss(salt), &digest, signature).is_ok()),
            }
        }
        PublicKey::P256(key) => {
            ecdsa_verify!(p256, key, &signed.digest(), signature, options.p1363, 32)
        }
        PublicKey::P384(key) => {
            ecdsa_verify!(p384, key, &signed.digest(), signature, options.p1363, 48)
        }
    })
}

/// An RSA key's numbers, as its PKCS#1 structure holds them.
fn rsa_kind(
    modulus: rsa::pkcs1::UintRef<'_>,
    exponent: rsa::pkcs1::UintRef<'_>,
) -> Result<wit::KeyKind, String> {
    let bits = bits_of(modulus);
    let e = exponent.as_bytes();
    if e.len() > 8 {
        return Err("an RSA public exponent over 64 bits is the polyfill's".into());
    }
    let public_exponent = e.iter().fold(0u64, |acc, b| (acc << 8) | u64::from(*b));
    Ok(wit::KeyKind::Rsa(wit::RsaKeyDetails {
        modulus_bits: u32::try_from(bits).map_err(|_| "an RSA modulus too long to measure")?,
        public_exponent,
    }))
}

/// SubjectPublicKeyInfo PEM, with Node's line endings.
fn spki_pem(der: &[u8]) -> String {
    pem::encode_config(
        &pem::Pem::new("PUBLIC KEY", der),
        pem::EncodeConfig::new().set_line_ending(pem::LineEnding::LF),
    )
}

/// The SubjectPublicKeyInfo of an RSA key with these numbers.
fn rsa_spki(
    modulus: rsa::pkcs1::UintRef<'_>,
    exponent: rsa::pkcs1::UintRef<'_>,
) -> Result<String, String> {
    use rsa::pkcs1::der::Encode;
    let pkcs1 = rsa_public_der(modulus, exponent)?;
    let spki = rsa::pkcs8::der::asn1::BitStringRef::new(0, &pkcs1).and_then(|key| {
        rsa::pkcs8::SubjectPublicKeyInfoRef {
            algorithm: rsa::pkcs1::ALGORITHM_ID,
            subject_public_key: key,
        }
        .to_der()
    });
    Ok(spki_pem(&spki.map_err(public_half_error)?))
}

/// The PKCS#1 DER of the RSA public key with these numbers.
fn rsa_public_der(
    modulus: rsa::pkcs1::UintRef<'_>,
    exponent: rsa::pkcs1::UintRef<'_>,
) -> Result<Vec<u8>, String> {
    let public = rsa::pkcs1::RsaPublicKey {
        modulus,
        public_exponent: exponent,
    };
    rsa::pkcs1::der::Encode::to_der(&public).map_err(public_half_error)
}

fn public_half_error(e: rsa::pkcs1::der::Error) -> String {
    format!("the RSA key's public half could not be encoded: {e}")
}

/// Details of a PKCS#1 RSA private key: read from its structure, no arithmetic (what Node's
/// `createPrivateKey` reports needs none, and signing validates the key when it is used).
fn rsa_private_details(pkcs1_der: &[u8], public_half: bool) -> Result<wit::KeyDetails, String> {
    let key = rsa::pkcs1::RsaPrivateKey::try_from(pkcs1_der)
        .map_err(|e| format!("a malformed RSA key: {e}"))?;
    Ok(wit::KeyDetails {
        kind: rsa_kind(key.modulus, key.public_exponent)?,
        private_key: true,
        public_key: public_half
            .then(|| rsa_spki(key.modulus, key.public_exponent))
            .transpose()?,
    })
}

/// Details of an EC private key on `curve` (Node's name), its public half derived when asked.
fn ec_private_details(
    curve: &str,
    public: impl FnOnce() -> Result<String, String>,
    public_half: bool,
) -> Result<wit::KeyDetails, String> {
    Ok(wit::KeyDetails {
        kind: wit::KeyKind::Ec(curve.to_string()),
        private_key: true,
        public_key: public_half.then(public).transpose()?,
    })
}

/// What Node's `KeyObject` reports of the PEM key `text` (see the WIT's `inspect-key`).
pub(crate) fn inspect_key(text: &str, public_half: bool) -> Result<wit::KeyDetails, String> {
    use p256::pkcs8::{EncodePublicKey, LineEnding};
    let block = pem_block(text)?;
    let der = block.contents();
    let ec_public = |key: Result<String, p256::pkcs8::spki::Error>| {
        key.map_err(|e| format!("the EC key's public half could not be encoded: {e}"))
    };
    let public_details = |kind| wit::KeyDetails {
        kind,
        private_key: false,
        public_key: None,
    };
    match block.tag() {
        "PRIVATE KEY" | "RSA PRIVATE KEY" | "EC PRIVATE KEY" => match private_key_in(&block)? {
            PrivateKey::Rsa(der) => rsa_private_details(&der, public_half),
            PrivateKey::P256(key) => ec_private_details(
                "prime256v1",
                || ec_public(key.public_key().to_public_key_pem(LineEnding::LF)),
                public_half,
            ),
            PrivateKey::P384(key) => ec_private_details(
                "secp384r1",
                || ec_public(key.public_key().to_public_key_pem(LineEnding::LF)),
                public_half,
            ),
        },
        "PUBLIC KEY" => {
            let info = rsa::pkcs8::SubjectPublicKeyInfoRef::try_from(der)
                .map_err(|e| format!("a malformed public key: {e}"))?;
            if info.algorithm.oid == rsa::pkcs1::ALGORITHM_OID {
                let key = rsa::pkcs1::RsaPublicKey::try_from(info.subject_public_key.raw_bytes())
                    .map_err(|e| format!("a malformed RSA public key: {e}"))?;
                Ok(public_details(rsa_kind(key.modulus, key.public_exponent)?))
            } else if p256::PublicKey::from_public_key_der(der).is_ok() {
                Ok(public_details(wit::KeyKind::Ec("prime256v1".into())))
            } else if p384::PublicKey::from_public_key_der(der).is_ok() {
                Ok(public_details(wit::KeyKind::Ec("secp384r1".into())))
            } else {
                Err("a public key the host does not read (RSA, P-256 and P-384 only)".into())
            }
        }
        "RSA PUBLIC KEY" => {
            let key = rsa::pkcs1::RsaPublicKey::try_from(der)
                .map_err(|e| format!("a malformed RSA public key: {e}"))?;
            Ok(public_details(rsa_kind(key.modulus, key.public_exponent)?))
        }
        other => Err(format!("a {other} the host does not read")),
    }
}

impl wit::Host for CryptoHost {
    fn digest(&mut self, algorithm: String, data: Vec<u8>) -> Result<Vec<u8>, String> {
        digest(&algorithm, &data)
    }

    fn hmac(&mut self, algorithm: String, key: Vec<u8>, data: Vec<u8>) -> Result<Vec<u8>, String> {
        hmac(&algorithm, &key, &data)
    }

    fn sign(
        &mut self,
        hash: String,
        scheme: String,
        key: String,
        input: wit::Signed,
        options: wit::SignatureOptions,
    ) -> Result<Vec<u8>, String> {
        sign(&hash, &scheme, &key, &input, &options)
    }

    fn verify(
        &mut self,
        hash: String,
        scheme: String,
        key: String,
        input: wit::Signed,
        signature: Vec<u8>,
        options: wit::SignatureOptions,
    ) -> Result<bool, String> {
        verify(&hash, &scheme, &key, &input, &signature, &options)
    }

    fn inspect_key(&mut self, key: String, public_half: bool) -> Result<wit::KeyDetails, String> {
        inspect_key(&key, public_half)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// [`super::sign`] given a digest, as the SDK sends data over 4 MiB.
    fn sign(
        hash: &str,
        scheme: &str,
        key: &str,
        digest: &[u8],
        options: &wit::SignatureOptions,
    ) -> Result<Vec<u8>, String> {
        super::sign(
            hash,
            scheme,
            key,
            &wit::Signed::Digest(digest.to_vec()),
            options,
        )
    }

    /// [`super::verify`] given a digest.
    fn verify(
        hash: &str,
        scheme: &str,
        key: &str,
        digest: &[u8],
        signature: &[u8],
        options: &wit::SignatureOptions,
    ) -> Result<bool, String> {
        let input = wit::Signed::Digest(digest.to_vec());
        super::verify(hash, scheme, key, &input, signature, options)
    }

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    #[test]
    fn digests_are_the_standard_ones_for_every_algorithm_named_in_any_case() {
        // FIPS 180 and RFC 1321 test vectors for "abc".
        let cases = [
            ("md5", "900150983cd24fb0d6963f7d28e17f72"),
            ("SHA1", "a9993e364706816aba3e25717850c26c9cd0d89d"),
            (
                "sha224",
                "23097d223405d8228642a477bda255b32aadbce4bda0b3f7e36c9da7",
            ),
            (
                "Sha256",
                "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
            ),
            (
                "sha384",
                "cb00753f45a35e8bb5a03d699ac65007272c32ab0eded1631a8b605a43ff5bed8086072ba1e7cc2358baeca134c825a7",
            ),
            (
                "sha512",
                "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f",
            ),
        ];
        for (algorithm, want) in cases {
            assert_eq!(
                hex(&digest(algorithm, b"abc").unwrap()),
                want,
                "{algorithm}"
            );
        }
    }

    #[test]
    fn hmacs_are_rfc_4231s_for_keys_shorter_and_longer_than_a_block() {
        // RFC 4231 test cases 2 ("Jefe") and 6 (a 131-byte key, hashed first).
        assert_eq!(
            hex(&hmac("sha256", b"Jefe", b"what do ya want for nothing?").unwrap()),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        assert_eq!(
            hex(&hmac(
                "sha256",
                &[0xaa; 131],
                b"Test Using Larger Than Block-Size Key - Hash Key First"
            )
            .unwrap()),
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"
        );
    }

    #[test]
    fn an_unknown_algorithm_or_an_oversized_input_is_an_error_saying_what_to_do() {
        let e = digest("ripemd160", b"x").unwrap_err();
        assert!(e.contains("\"ripemd160\"") && e.contains("sha256"), "{e}");
        let big = vec![0; MAX_INPUT_BYTES + 1];
        let e = digest("sha256", &big).unwrap_err();
        assert!(e.contains("hash in parts"), "{e}");
        // Key and data count together.
        assert!(
            hmac("sha256", &big[..8], &big[9..]).is_ok(),
            "exactly the limit is taken"
        );
        assert!(hmac("sha256", &big[..9], &big[9..]).is_err());
    }

    fn options(pss_salt: Option<i32>, p1363: bool) -> wit::SignatureOptions {
        wit::SignatureOptions { pss_salt, p1363 }
    }

    /// A 1024-bit RSA key (small: generated per test run) as PKCS#8 and PKCS#1 PEM, and its
    /// public half as SubjectPublicKeyInfo PEM.
    /// A 12 000-bit PKCS#1 "RSA PRIVATE KEY" whose numbers are not a key at all.
    fn oversized_rsa_key() -> String {
        use rsa::pkcs1::UintRef;
        use rsa::pkcs1::der::Encode;
        let big = [0xff; 1500];
        let one = [1];
        let key = rsa::pkcs1::RsaPrivateKey {
            modulus: UintRef::new(&big).unwrap(),
            public_exponent: UintRef::new(&[1, 0, 1]).unwrap(),
            private_exponent: UintRef::new(&big).unwrap(),
            prime1: UintRef::new(&big[..750]).unwrap(),
            prime2: UintRef::new(&big[..750]).unwrap(),
            exponent1: UintRef::new(&one).unwrap(),
            exponent2: UintRef::new(&one).unwrap(),
            coefficient: UintRef::new(&one).unwrap(),
            other_prime_infos: None,
        };
        pem::encode(&pem::Pem::new("RSA PRIVATE KEY", key.to_der().unwrap()))
    }

    /// A new P-256 and a new P-384 key: Node's curve name, PKCS#8 and SEC1 private PEM, and
    /// the public key's PEM.
    fn ec_pems() -> [(&'static str, String, String, String); 2] {
        use p256::pkcs8::{EncodePrivateKey, EncodePublicKey, LineEnding};
        let p256_key = p256::SecretKey::random(&mut rand::rngs::OsRng);
        let p384_key = p384::SecretKey::random(&mut rand::rngs::OsRng);
        [
            (
                "prime256v1",
                p256_key.to_pkcs8_pem(LineEnding::LF).unwrap().to_string(),
                p256_key.to_sec1_pem(LineEnding::LF).unwrap().to_string(),
                p256_key
                    .public_key()
                    .to_public_key_pem(LineEnding::LF)
                    .unwrap(),
            ),
            (
                "secp384r1",
                p384_key.to_pkcs8_pem(LineEnding::LF).unwrap().to_string(),
                p384_key.to_sec1_pem(LineEnding::LF).unwrap().to_string(),
                p384_key
                    .public_key()
                    .to_public_key_pem(LineEnding::LF)
                    .unwrap(),
            ),
        ]
    }

    fn rsa_pems() -> (String, String, String) {
        use rsa::pkcs1::EncodeRsaPrivateKey;
        use rsa::pkcs8::{EncodePrivateKey, EncodePublicKey, LineEnding};
        let key = RsaPrivateKey::new(&mut rand::rngs::OsRng, 1024).unwrap();
        (
            key.to_pkcs8_pem(LineEnding::LF).unwrap().to_string(),
            key.to_pkcs1_pem(LineEnding::LF).unwrap().to_string(),
            key.to_public_key()
                .to_public_key_pem(LineEnding::LF)
                .unwrap(),
        )
    }

    #[test]
    fn rsa_signatures_verify_with_the_public_key_and_fail_for_other_data() {
        let (pkcs8, pkcs1, public) = rsa_pems();
        let digest = sha2::Sha256::digest(b"signed text").to_vec();
        let other = sha2::Sha256::digest(b"other text").to_vec();
        let plain = options(None, false);
        let a = sign("sha256", "ecdsa/rsa", &pkcs8, &digest, &plain).unwrap();
        // PKCS#1 v1.5 is deterministic: both encodings of the key give the same signature.
        assert_eq!(a, sign("SHA256", "rsa", &pkcs1, &digest, &plain).unwrap());
        assert_eq!(a.len(), 128);
        assert_eq!(
            verify("sha256", "rsa", &public, &digest, &a, &plain),
            Ok(true)
        );
        assert_eq!(
            verify("sha256", "rsa", &public, &other, &a, &plain),
            Ok(false)
        );
        // Not a PSS signature, whatever salt length is looked for.
        for salt in [-2, -1, 0] {
            let pss = options(Some(salt), false);
            assert_eq!(
                verify("sha256", "rsa", &public, &digest, &a, &pss),
                Ok(false)
            );
        }
        // Nor are bytes of another length or a number over the modulus.
        let auto = options(Some(-2), false);
        assert_eq!(
            verify("sha256", "rsa", &public, &digest, &a[1..], &auto),
            Ok(false)
        );
        assert_eq!(
            verify("sha256", "rsa", &public, &digest, &[0xff; 128], &auto),
            Ok(false)
        );
        // A private key verifies with its public half.
        assert_eq!(
            verify("sha256", "rsa", &pkcs1, &digest, &a, &plain),
            Ok(true)
        );
        // The hash is part of the signature.
        let sha512 = sha2::Sha512::digest(b"signed text").to_vec();
        let b = sign("sha512", "rsa", &pkcs8, &sha512, &plain).unwrap();
        assert_eq!(
            verify("sha512", "rsa", &public, &sha512, &b, &plain),
            Ok(true)
        );
        assert_eq!(
            verify("sha512", "rsa", &public, &sha512, &a, &plain),
            Ok(false)
        );
    }

    #[test]
    fn pss_signatures_take_nodes_salt_lengths_and_verify_with_the_automatic_one() {
        let (pkcs8, _, public) = rsa_pems();
        let digest = sha2::Sha256::digest(b"signed text").to_vec();
        for salt in [-1, -2, 0, 20] {
            let signature = sign(
                "sha256",
                "rsa",
                &pkcs8,
                &digest,
                &options(Some(salt), false),
            )
            .unwrap_or_else(|e| panic!("salt {salt}: {e}"));
            let ok = |option| {
                verify(
                    "sha256",
                    "rsa",
                    &public,
                    &digest,
                    &signature,
                    &options(option, false),
                )
            };
            assert_eq!(ok(Some(salt)), Ok(true), "salt {salt}");
            // Not a PKCS#1 v1.5 signature.
            assert_eq!(ok(None), Ok(false), "salt {salt}");
            // Node's automatic length (-2) finds any; the digest's length (-1) only that.
            assert_eq!(ok(Some(-2)), Ok(true), "salt {salt}");
            assert_eq!(ok(Some(-1)), Ok(salt == -1 || salt == 32), "salt {salt}");
        }
        // The longest salt for a 1024-bit key and SHA-256: 128 - 32 - 2.
        assert_eq!(max_salt(1024, 32), 94);
        let e = sign("sha256", "rsa", &pkcs8, &digest, &options(Some(-3), false)).unwrap_err();
        assert!(e.contains("-3"), "{e}");
        // A salt that cannot fit is refused before anything is allocated for it, and a
        // signature claimed to have one does not verify.
        let e = sign(
            "sha256",
            "rsa",
            &pkcs8,
            &digest,
            &options(Some(i32::MAX), false),
        )
        .unwrap_err();
        assert!(e.contains("at most 94"), "{e}");
        let longest = sign("sha256", "rsa", &pkcs8, &digest, &options(Some(94), false)).unwrap();
        for salt in [95, i32::MAX] {
            let claimed = options(Some(salt), false);
            assert_eq!(
                verify("sha256", "rsa", &public, &digest, &longest, &claimed),
                Ok(false)
            );
        }
    }

    #[test]
    fn ecdsa_signatures_on_p256_and_p384_in_der_and_ieee_p1363() {
        let digest = sha2::Sha256::digest(b"signed text").to_vec();
        let other = sha2::Sha256::digest(b"other text").to_vec();
        for (curve, pkcs8, sec1, public) in ec_pems() {
            let p1363_len = if curve == "prime256v1" { 64 } else { 96 };
            for private in [&pkcs8, &sec1] {
                let der = sign("sha256", "ecdsa", private, &digest, &options(None, false)).unwrap();
                assert_eq!(der[0], 0x30, "a DER SEQUENCE");
                let raw = sign(
                    "sha256",
                    "ecdsa/rsa",
                    private,
                    &digest,
                    &options(None, true),
                )
                .unwrap();
                assert_eq!(raw.len(), p1363_len);
                let check = |signature: &[u8], digest: &[u8], p1363| {
                    verify(
                        "sha256",
                        "ecdsa",
                        &public,
                        digest,
                        signature,
                        &options(None, p1363),
                    )
                };
                assert_eq!(check(&der, &digest, false), Ok(true));
                assert_eq!(check(&raw, &digest, true), Ok(true));
                assert_eq!(check(&der, &other, false), Ok(false));
                // A signature in the other encoding, or not one at all, does not verify.
                assert_eq!(check(&raw, &digest, false), Ok(false));
                assert_eq!(check(b"junk", &digest, true), Ok(false));
            }
        }
    }

    #[test]
    fn keys_and_schemes_the_host_does_not_take_are_errors_saying_why() {
        let (pkcs8, _, public) = rsa_pems();
        let digest = sha2::Sha256::digest(b"x").to_vec();
        let plain = options(None, false);
        let refused = |r: Result<Vec<u8>, String>, want: &str| {
            let e = r.unwrap_err();
            assert!(e.contains(want), "{e:?} should say {want:?}");
        };
        refused(
            sign("sha256", "ecdsa", &pkcs8, &digest, &plain),
            "RSA key cannot",
        );
        refused(sign("sha256", "dsa", &pkcs8, &digest, &plain), "\"dsa\"");
        refused(sign("md5", "rsa", &pkcs8, &[0; 16], &plain), "MD5");
        refused(
            sign("sha256", "rsa", &pkcs8, &digest[..31], &plain),
            "32 bytes",
        );
        refused(
            sign("sha256", "rsa", &public, &digest, &plain),
            "not a private key",
        );
        refused(
            sign("sha256", "rsa", "no key here", &digest, &plain),
            "no PEM key block",
        );
        let encrypted =
            "-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n";
        refused(
            sign("sha256", "rsa", encrypted, &digest, &plain),
            "encrypted",
        );
        let huge = "A".repeat(MAX_KEY_BYTES + 1);
        refused(sign("sha256", "rsa", &huge, &digest, &plain), "more than");
        assert!(
            verify("sha256", "ecdsa", &public, &digest, &[0; 128], &plain)
                .unwrap_err()
                .contains("RSA key cannot")
        );
    }

    #[test]
    fn rsa_keys_over_4096_bits_are_refused_before_their_arithmetic() {
        // Refused by its size alone, before the crate would multiply and invert its numbers.
        let text = oversized_rsa_key();
        let digest = sha2::Sha256::digest(b"x").to_vec();
        let e = sign("sha256", "rsa", &text, &digest, &options(None, false)).unwrap_err();
        assert!(e.contains("12000 bits") && e.contains("4096"), "{e}");
        assert!(rsa_size(4096).is_ok());
    }

    #[test]
    fn sha1_on_p384_and_an_ec_parameters_block_before_the_key_are_signed_as_openssl_does() {
        use p256::pkcs8::{EncodePublicKey, LineEnding};
        let secret = p384::SecretKey::random(&mut rand::rngs::OsRng);
        // What `openssl ecparam -genkey` writes: the curve's parameters, then the key.
        let private = format!(
            "-----BEGIN EC PARAMETERS-----\nBgUrgQQAIg==\n-----END EC PARAMETERS-----\n{}",
            secret.to_sec1_pem(LineEnding::LF).unwrap().as_str()
        );
        let public = secret
            .public_key()
            .to_public_key_pem(LineEnding::LF)
            .unwrap();
        // SHA-1's 20 bytes are under half of P-384's 48, which the `ecdsa` crate refuses
        // unpadded.
        let digest = sha1::Sha1::digest(b"signed text").to_vec();
        let signature = sign("sha1", "ecdsa", &private, &digest, &options(None, false)).unwrap();
        let check = |digest: &[u8]| {
            verify(
                "sha1",
                "ecdsa",
                &public,
                digest,
                &signature,
                &options(None, false),
            )
        };
        assert_eq!(check(&digest), Ok(true));
        assert_eq!(check(&sha1::Sha1::digest(b"other")), Ok(false));
    }

    #[test]
    fn signatures_of_data_are_rings_where_it_signs_and_match_the_rsa_crates_on_the_digest() {
        use rsa::pkcs8::{EncodePrivateKey, EncodePublicKey, LineEnding};
        // `ring` signs keys of 2048 bits and more.
        let key = RsaPrivateKey::new(&mut rand::rngs::OsRng, 2048).unwrap();
        let private = key.to_pkcs8_pem(LineEnding::LF).unwrap().to_string();
        let public = key
            .to_public_key()
            .to_public_key_pem(LineEnding::LF)
            .unwrap();
        let text = b"signed text".to_vec();
        let data = wit::Signed::Data(text.clone());
        let other = wit::Signed::Data(b"other text".to_vec());
        for hash in ["sha1", "sha224", "sha256", "sha384", "sha512"] {
            let digest = Algorithm::parse(hash).unwrap().hash(&text);
            for pss_salt in [None, Some(-1), Some(-2), Some(20)] {
                let options = options(pss_salt, false);
                let by_data = super::sign(hash, "rsa", &private, &data, &options).unwrap();
                let by_digest = sign(hash, "rsa", &private, &digest, &options).unwrap();
                // PKCS#1 v1.5 is deterministic: `ring`'s and the `rsa` crate's are the same.
                if pss_salt.is_none() {
                    assert_eq!(by_data, by_digest, "{hash}");
                }
                for signature in [&by_data, &by_digest] {
                    let check = |input: &wit::Signed, key: &str| {
                        super::verify(hash, "rsa", key, input, signature, &options)
                    };
                    assert_eq!(check(&data, &public), Ok(true), "{hash} {pss_salt:?}");
                    assert_eq!(check(&data, &private), Ok(true), "{hash} {pss_salt:?}");
                    assert_eq!(check(&other, &public), Ok(false), "{hash} {pss_salt:?}");
                    assert_eq!(
                        verify(hash, "rsa", &public, &digest, signature, &options),
                        Ok(true)
                    );
                }
            }
        }
        // Data over what one call takes are refused, as `digest`'s are.
        let huge = wit::Signed::Data(vec![0; MAX_INPUT_BYTES + 1]);
        let e = super::sign("sha256", "rsa", &private, &huge, &options(None, false));
        assert!(e.unwrap_err().contains("hash in parts"));
    }

    /// A key's kind in words: `rsa BITS EXPONENT` or `ec CURVE`.
    fn kind(details: &wit::KeyDetails) -> String {
        match &details.kind {
            wit::KeyKind::Rsa(rsa) => format!("rsa {} {}", rsa.modulus_bits, rsa.public_exponent),
            wit::KeyKind::Ec(curve) => format!("ec {curve}"),
        }
    }

    #[test]
    fn keys_are_described_as_nodes_key_objects_describe_them_with_their_public_halves() {
        use p256::pkcs8::LineEnding;
        let (pkcs8, pkcs1, public) = rsa_pems();
        let rsa = "rsa 1024 65537";
        for private in [&pkcs8, &pkcs1] {
            let details = inspect_key(private, false).unwrap();
            assert_eq!(kind(&details), rsa);
            assert!(details.private_key && details.public_key.is_none());
            // The public half is the key pair's public key, byte for byte, as Node exports it.
            let half = inspect_key(private, true).unwrap().public_key.unwrap();
            assert_eq!(half, public);
        }
        let details = inspect_key(&public, true).unwrap();
        assert_eq!(kind(&details), rsa);
        assert!(!details.private_key && details.public_key.is_none());
        let key = RsaPublicKey::from_public_key_pem(&public).unwrap();
        let pkcs1_public = {
            use rsa::pkcs1::EncodeRsaPublicKey;
            key.to_pkcs1_pem(LineEnding::LF).unwrap()
        };
        assert_eq!(kind(&inspect_key(&pkcs1_public, false).unwrap()), rsa);

        for (curve, pkcs8, sec1, public) in ec_pems() {
            let ec = format!("ec {curve}");
            for private in [&pkcs8, &sec1] {
                let details = inspect_key(private, true).unwrap();
                assert_eq!((kind(&details), details.private_key), (ec.clone(), true));
                assert_eq!(details.public_key.as_deref(), Some(public.as_str()));
            }
            let details = inspect_key(&public, false).unwrap();
            assert_eq!((kind(&details), details.private_key), (ec, false));
        }
    }

    #[test]
    fn keys_the_host_does_not_read_are_errors_and_oversized_rsa_keys_are_only_measured() {
        // secp256k1 (the polyfill's), an encrypted key, a certificate-only text.
        let k1 = "-----BEGIN PUBLIC KEY-----\nMFYwEAYHKoZIzj0CAQYFK4EEAAoDQgAE1OVEt9NRX9oiBElBWJXu/p8r6ed3Sf1/\nfO/19Xe4ukZx5JWrncr0P5CcmbJ8FB5Iw2hwPLQRtYJUUxYjTvCg7g==\n-----END PUBLIC KEY-----";
        let e = inspect_key(k1, false).unwrap_err();
        assert!(e.contains("P-256 and P-384 only"), "{e}");
        let encrypted =
            "-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n";
        assert!(
            inspect_key(encrypted, false)
                .unwrap_err()
                .contains("encrypted")
        );
        assert!(
            inspect_key("no key", false)
                .unwrap_err()
                .contains("no PEM key block")
        );
        // An oversized RSA key is described from its structure (Node reports its size too);
        // signing with it is still refused (see above).
        assert_eq!(
            kind(&inspect_key(&oversized_rsa_key(), false).unwrap()),
            "rsa 12000 65537"
        );
    }
}
