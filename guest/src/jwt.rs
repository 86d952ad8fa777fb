//! JSON Web Tokens, decoded and verified by the host natively.

use std::fmt;

use serde_json::Value;

use crate::bindings::cachet::action::jwt as wit;

/// Why a token was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JwtError {
    /// Not a JWT (parts, base64, JSON).
    Malformed(String),
    /// `exp` has passed (beyond the leeway).
    Expired,
    /// `nbf` is in the future (beyond the leeway).
    NotYetValid,
    /// The signature does not verify.
    BadSignature,
    /// `iss` is not the expected issuer.
    WrongIssuer,
    /// `aud` is not the expected audience.
    WrongAudience,
    /// No published key has the token's `kid`.
    UnknownKey(String),
    /// The algorithm is not accepted.
    UnsupportedAlgorithm(String),
    /// The keys could not be fetched.
    KeysUnavailable(String),
}

impl fmt::Display for JwtError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Malformed(why) => write!(f, "malformed token: {why}"),
            Self::Expired => f.write_str("token expired"),
            Self::NotYetValid => f.write_str("token not yet valid"),
            Self::BadSignature => f.write_str("bad token signature"),
            Self::WrongIssuer => f.write_str("token from the wrong issuer"),
            Self::WrongAudience => f.write_str("token for the wrong audience"),
            Self::UnknownKey(kid) => write!(f, "token signed with unknown key `{kid}`"),
            Self::UnsupportedAlgorithm(alg) => write!(f, "token algorithm {alg} not accepted"),
            Self::KeysUnavailable(why) => write!(f, "signing keys unavailable: {why}"),
        }
    }
}

impl std::error::Error for JwtError {}

impl From<wit::JwtError> for JwtError {
    fn from(e: wit::JwtError) -> Self {
        use wit::JwtError as W;
        match e {
            W::Malformed(s) => Self::Malformed(s),
            W::Expired => Self::Expired,
            W::NotYetValid => Self::NotYetValid,
            W::BadSignature => Self::BadSignature,
            W::WrongIssuer => Self::WrongIssuer,
            W::WrongAudience => Self::WrongAudience,
            W::UnknownKey(s) => Self::UnknownKey(s),
            W::UnsupportedAlgorithm(s) => Self::UnsupportedAlgorithm(s),
            W::KeysUnavailable(s) => Self::KeysUnavailable(s),
        }
    }
}

/// A token's header and claims, unverified.
#[derive(Debug, Clone, PartialEq)]
pub struct Decoded {
    /// The JOSE header.
    pub header: Value,
    /// The claims.
    pub claims: Value,
}

/// Reads a token's header and claims without verifying anything (like jwt-decode).
pub fn decode(token: &str) -> Result<Decoded, JwtError> {
    let json = wit::decode(token)?;
    let mut v: Value =
        serde_json::from_str(&json).map_err(|e| JwtError::Malformed(e.to_string()))?;
    Ok(Decoded {
        header: v["header"].take(),
        claims: v["claims"].take(),
    })
}

/// What [`verify`] checks besides the signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyOptions {
    /// Where the keys are published (its host must be allow-listed for the action).
    pub jwks_url: String,
    /// Expected `iss`.
    pub issuer: Option<String>,
    /// Expected `aud`.
    pub audience: Option<String>,
    /// Clock skew allowed on `exp`/`nbf`, seconds.
    pub leeway_secs: u64,
}

/// Verifies signature, `exp`/`nbf`, issuer and audience; returns the claims.
pub fn verify(token: &str, options: &VerifyOptions) -> Result<Value, JwtError> {
    let opts = wit::VerifyOptions {
        jwks_url: options.jwks_url.clone(),
        issuer: options.issuer.clone(),
        audience: options.audience.clone(),
        leeway_secs: options.leeway_secs,
    };
    let json = wit::verify(token, &opts)?;
    serde_json::from_str(&json).map_err(|e| JwtError::Malformed(e.to_string()))
}
