//! The `crypto` interface: hashes and HMACs computed natively, for the JavaScript SDK's Node
//! `crypto` (`createHash`, `createHmac`).
//!
//! Why in the host: an action's JavaScript runs in SpiderMonkey's interpreter, where the
//! polyfill's SHA-256 of a user id took ~220 µs of a ~300 µs warm execution (BENCHMARKS.md,
//! "Node's hashes in the host"); here it is a host call of a few microseconds. Stateless: no
//! execution's data outlives the call. Each call's input is capped at [`MAX_INPUT_BYTES`], so
//! one call never holds the host (outside the epoch deadline's reach) for more than a few
//! milliseconds; the SDK hashes larger inputs in JavaScript.

use hmac::{Hmac, Mac};
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
    Ok(match algorithm {
        Algorithm::Md5 => digest_with::<md5::Md5>(data),
        Algorithm::Sha1 => digest_with::<sha1::Sha1>(data),
        Algorithm::Sha224 => digest_with::<sha2::Sha224>(data),
        Algorithm::Sha256 => digest_with::<sha2::Sha256>(data),
        Algorithm::Sha384 => digest_with::<sha2::Sha384>(data),
        Algorithm::Sha512 => digest_with::<sha2::Sha512>(data),
    })
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

impl wit::Host for CryptoHost {
    fn digest(&mut self, algorithm: String, data: Vec<u8>) -> Result<Vec<u8>, String> {
        digest(&algorithm, &data)
    }

    fn hmac(&mut self, algorithm: String, key: Vec<u8>, data: Vec<u8>) -> Result<Vec<u8>, String> {
        hmac(&algorithm, &key, &data)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
