//! The `jwt` host interface: decode and verify JSON Web Tokens natively with `jsonwebtoken`.
//!
//! Verification is native because it is the expensive part of the token pattern (RS256: ~160 µs
//! natively, ~1 ms inside a sandbox). Signing keys come from a JWKS the host fetches and caches
//! per URL; the fetch obeys the action's allow-list, so an action cannot use `verify` to reach
//! hosts it could not reach itself. Expiry is checked against the runtime's clock, not the
//! system's, so tests can move time.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use bytes::Bytes;
use http_body_util::{BodyExt, Empty, Limited};
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::{Value, json};

use crate::bindings::post_login::cachet::action::jwt::{self as wit, JwtError, VerifyOptions};
use crate::exec::ExecState;

/// How long fetched keys are trusted before they are fetched again.
const JWKS_TTL_MS: u64 = 10 * 60 * 1000;
/// Least time between two fetches of the same JWKS when a token names an unknown key: key
/// rotation is rare, and an attacker must not turn unknown kids into a fetch storm.
const JWKS_REFETCH_MS: u64 = 30 * 1000;
/// Largest JWKS document accepted.
const JWKS_MAX_BYTES: usize = 256 * 1024;

const ACCEPTED: [Algorithm; 5] = [
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::ES256,
    Algorithm::ES384,
];

/// Fetched key sets by URL, shared by every execution of a runtime.
#[derive(Default)]
pub(crate) struct JwksCache {
    sets: Mutex<HashMap<String, (Arc<JwkSet>, u64)>>,
}

impl JwksCache {
    fn cached(&self, url: &str) -> Option<(Arc<JwkSet>, u64)> {
        self.sets
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(url)
            .cloned()
    }

    async fn keys(
        &self,
        state: &ExecState,
        url: &str,
        kid: &str,
        now: u64,
    ) -> Result<Arc<JwkSet>, JwtError> {
        if let Some((set, fetched)) = self.cached(url) {
            let fresh = now < fetched + JWKS_TTL_MS;
            let knows_kid = set.find(kid).is_some();
            if fresh && (knows_kid || now < fetched + JWKS_REFETCH_MS) {
                return Ok(set);
            }
        }
        let set = Arc::new(
            fetch_jwks(state, url)
                .await
                .map_err(JwtError::KeysUnavailable)?,
        );
        self.sets
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(url.to_string(), (Arc::clone(&set), now));
        Ok(set)
    }
}

async fn fetch_jwks(state: &ExecState, url: &str) -> Result<JwkSet, String> {
    let uri: http::Uri = url.parse().map_err(|e| format!("invalid JWKS URL: {e}"))?;
    let https = uri.scheme() == Some(&http::uri::Scheme::HTTPS);
    let authority = uri.authority().ok_or("JWKS URL has no host")?;
    let port = authority.port_u16().unwrap_or(if https { 443 } else { 80 });
    if !state.egress.allows(authority.host(), port) {
        return Err(format!(
            "JWKS host {}:{port} is not on the action's allow-list",
            authority.host()
        ));
    }
    let request = http::Request::get(uri.clone())
        .header(http::header::HOST, authority.as_str())
        .body(Empty::<Bytes>::new().map_err(|never| match never {}))
        .map_err(|e| e.to_string())?;
    let options = wasmtime_wasi_http::RequestOptions {
        connect_timeout: Some(crate::egress::MAX_CONNECT_TIMEOUT),
        first_byte_timeout: Some(crate::egress::MAX_READ_TIMEOUT),
        between_bytes_timeout: Some(crate::egress::MAX_READ_TIMEOUT),
    };
    let fetch = async {
        let (response, io) = wasmtime_wasi_http::default_send_request(request, Some(options))
            .await
            .map_err(|e| format!("fetching {url}: {e}"))?;
        tokio::spawn(io);
        if !response.status().is_success() {
            return Err(format!("fetching {url}: HTTP {}", response.status()));
        }
        let body = Limited::new(response.into_body(), JWKS_MAX_BYTES)
            .collect()
            .await
            .map_err(|e| format!("reading {url}: {e}"))?
            .to_bytes();
        serde_json::from_slice::<JwkSet>(&body).map_err(|e| format!("{url} is not a JWKS: {e}"))
    };
    tokio::time::timeout(Duration::from_secs(15), fetch)
        .await
        .map_err(|_| format!("fetching {url} timed out"))?
}

fn b64_json(part: &str) -> Result<Value, JwtError> {
    let bytes = URL_SAFE_NO_PAD
        .decode(part.trim_end_matches('='))
        .map_err(|e| JwtError::Malformed(format!("bad base64url: {e}")))?;
    serde_json::from_slice(&bytes).map_err(|e| JwtError::Malformed(format!("bad JSON: {e}")))
}

/// Header and claims without verification.
pub(crate) fn decode(token: &str) -> Result<Value, JwtError> {
    let mut parts = token.split('.');
    let (Some(header), Some(claims), Some(_sig), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(JwtError::Malformed(
            "a JWT has three dot-separated parts".into(),
        ));
    };
    Ok(json!({ "header": b64_json(header)?, "claims": b64_json(claims)? }))
}

fn audience_matches(aud: Option<&Value>, expected: &str) -> bool {
    match aud {
        Some(Value::String(a)) => a == expected,
        Some(Value::Array(list)) => list.iter().any(|a| a.as_str() == Some(expected)),
        _ => false,
    }
}

impl ExecState {
    async fn verify_token(&self, token: &str, options: &VerifyOptions) -> Result<Value, JwtError> {
        let header =
            jsonwebtoken::decode_header(token).map_err(|e| JwtError::Malformed(e.to_string()))?;
        if !ACCEPTED.contains(&header.alg) {
            return Err(JwtError::UnsupportedAlgorithm(format!("{:?}", header.alg)));
        }
        let now = self.clock.now_ms();
        let kid = header.kid.clone().unwrap_or_default();
        let set = self.jwks.keys(self, &options.jwks_url, &kid, now).await?;
        verify_with_keys(token, &set, options, now)
    }
}

/// Checks a token against a key set: the signature with the key the header names, then
/// `exp`/`nbf` (with leeway) against `now_ms`, then issuer and audience.
fn verify_with_keys(
    token: &str,
    set: &JwkSet,
    options: &VerifyOptions,
    now_ms: u64,
) -> Result<Value, JwtError> {
    let header =
        jsonwebtoken::decode_header(token).map_err(|e| JwtError::Malformed(e.to_string()))?;
    if !ACCEPTED.contains(&header.alg) {
        return Err(JwtError::UnsupportedAlgorithm(format!("{:?}", header.alg)));
    }
    let kid = header.kid.clone().unwrap_or_default();
    let jwk = match (header.kid.as_deref(), set.keys.as_slice()) {
        (Some(kid), _) => set.find(kid),
        // No kid: acceptable only when the set has exactly one key.
        (None, [only]) => Some(only),
        (None, _) => None,
    }
    .ok_or_else(|| JwtError::UnknownKey(kid.clone()))?;
    let key = DecodingKey::from_jwk(jwk)
        .map_err(|e| JwtError::KeysUnavailable(format!("key {kid}: {e}")))?;

    // Signature only: time, issuer and audience are checked below against the runtime clock.
    let mut validation = Validation::new(header.alg);
    validation.validate_exp = false;
    validation.validate_nbf = false;
    validation.validate_aud = false;
    validation.required_spec_claims = HashSet::new();
    let claims = jsonwebtoken::decode::<Value>(token, &key, &validation)
        .map_err(|e| match e.kind() {
            ErrorKind::InvalidSignature => JwtError::BadSignature,
            ErrorKind::InvalidAlgorithm => {
                JwtError::UnsupportedAlgorithm(format!("{:?}", header.alg))
            }
            _ => JwtError::Malformed(e.to_string()),
        })?
        .claims;

    let now_s = now_ms / 1000;
    let leeway = options.leeway_secs;
    match claims.get("exp").and_then(Value::as_u64) {
        Some(exp) if exp.saturating_add(leeway) > now_s => {}
        Some(_) => return Err(JwtError::Expired),
        None => return Err(JwtError::Malformed("no numeric `exp` claim".into())),
    }
    if let Some(nbf) = claims.get("nbf").and_then(Value::as_u64)
        && nbf > now_s.saturating_add(leeway)
    {
        return Err(JwtError::NotYetValid);
    }
    if let Some(issuer) = &options.issuer
        && claims.get("iss").and_then(Value::as_str) != Some(issuer.as_str())
    {
        return Err(JwtError::WrongIssuer);
    }
    if let Some(audience) = &options.audience
        && !audience_matches(claims.get("aud"), audience)
    {
        return Err(JwtError::WrongAudience);
    }
    Ok(claims)
}

impl wit::Host for ExecState {
    async fn decode(&mut self, token: String) -> Result<String, JwtError> {
        decode(&token).map(|v| v.to_string())
    }

    async fn verify(&mut self, token: String, options: VerifyOptions) -> Result<String, JwtError> {
        self.verify_token(&token, &options)
            .await
            .map(|v| v.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decode_returns_header_and_claims_without_verifying() {
        let token = format!(
            "{}.{}.sig",
            URL_SAFE_NO_PAD.encode(r#"{"alg":"RS256","kid":"k1"}"#),
            URL_SAFE_NO_PAD.encode(r#"{"sub":"a","exp":5}"#)
        );
        let v = decode(&token).unwrap();
        assert_eq!(v["header"]["kid"], "k1");
        assert_eq!(v["claims"]["exp"], 5);
    }

    #[test]
    fn decode_refuses_what_is_not_a_jwt() {
        assert!(matches!(decode("abc"), Err(JwtError::Malformed(_))));
        assert!(matches!(decode("a.b.c.d"), Err(JwtError::Malformed(_))));
        assert!(matches!(decode("!!.e30.x"), Err(JwtError::Malformed(_))));
    }

    use jsonwebtoken::jwk::Jwk;
    use jsonwebtoken::{EncodingKey, Header};

    const ES256_A: &str = include_str!("../testdata/es256-a.pem");
    const ES256_B: &str = include_str!("../testdata/es256-b.pem");
    const RS256: &str = include_str!("../testdata/rs256.pem");
    const NOW_MS: u64 = 1_700_000_000_000;

    fn key(pem: &str, alg: Algorithm) -> EncodingKey {
        match alg {
            Algorithm::ES256 => EncodingKey::from_ec_pem(pem.as_bytes()).unwrap(),
            _ => EncodingKey::from_rsa_pem(pem.as_bytes()).unwrap(),
        }
    }

    /// A key set publishing `pem`'s public key under `kid`.
    fn jwks(pem: &str, alg: Algorithm, kid: &str) -> JwkSet {
        let mut jwk = Jwk::from_encoding_key(&key(pem, alg), alg).unwrap();
        jwk.common.key_id = Some(kid.into());
        JwkSet { keys: vec![jwk] }
    }

    fn sign(pem: &str, alg: Algorithm, kid: &str, claims: Value) -> String {
        let mut header = Header::new(alg);
        header.kid = Some(kid.into());
        jsonwebtoken::encode(&header, &claims, &key(pem, alg)).unwrap()
    }

    fn options() -> VerifyOptions {
        VerifyOptions {
            jwks_url: "unused".into(),
            issuer: Some("https://issuer/".into()),
            audience: Some("https://api/".into()),
            leeway_secs: 30,
        }
    }

    fn claims(exp_s: u64) -> Value {
        json!({ "iss": "https://issuer/", "aud": "https://api/", "exp": exp_s, "sub": "svc" })
    }

    #[test]
    fn es256_and_rs256_tokens_verify_against_their_published_keys() {
        for (pem, alg) in [(ES256_A, Algorithm::ES256), (RS256, Algorithm::RS256)] {
            let token = sign(pem, alg, "k1", claims(NOW_MS / 1000 + 60));
            let verified =
                verify_with_keys(&token, &jwks(pem, alg, "k1"), &options(), NOW_MS).unwrap();
            assert_eq!(verified["sub"], "svc", "{alg:?}");
        }
    }

    #[test]
    fn a_signature_by_another_key_is_a_bad_signature() {
        let token = sign(ES256_A, Algorithm::ES256, "k1", claims(NOW_MS / 1000 + 60));
        let other = jwks(ES256_B, Algorithm::ES256, "k1");
        assert!(matches!(
            verify_with_keys(&token, &other, &options(), NOW_MS),
            Err(JwtError::BadSignature)
        ));
    }

    #[test]
    fn an_unknown_kid_is_reported_with_the_kid() {
        let token = sign(
            ES256_A,
            Algorithm::ES256,
            "rotated",
            claims(NOW_MS / 1000 + 60),
        );
        let set = jwks(ES256_A, Algorithm::ES256, "k1");
        assert!(matches!(
            verify_with_keys(&token, &set, &options(), NOW_MS),
            Err(JwtError::UnknownKey(ref k)) if k == "rotated"
        ));
    }

    #[test]
    fn expiry_is_checked_against_the_given_clock_with_leeway() {
        let set = jwks(ES256_A, Algorithm::ES256, "k1");
        let now_s = NOW_MS / 1000;
        // Expired 10 s ago: within the 30 s leeway.
        let recent = sign(ES256_A, Algorithm::ES256, "k1", claims(now_s - 10));
        assert!(verify_with_keys(&recent, &set, &options(), NOW_MS).is_ok());
        // Expired 31 s ago: beyond it.
        let old = sign(ES256_A, Algorithm::ES256, "k1", claims(now_s - 31));
        assert!(matches!(
            verify_with_keys(&old, &set, &options(), NOW_MS),
            Err(JwtError::Expired)
        ));
        let mut future = claims(now_s + 600);
        future["nbf"] = json!(now_s + 60);
        let early = sign(ES256_A, Algorithm::ES256, "k1", future);
        assert!(matches!(
            verify_with_keys(&early, &set, &options(), NOW_MS),
            Err(JwtError::NotYetValid)
        ));
    }

    #[test]
    fn issuer_and_audience_must_match() {
        let set = jwks(ES256_A, Algorithm::ES256, "k1");
        let mut c = claims(NOW_MS / 1000 + 60);
        c["iss"] = json!("https://evil/");
        let token = sign(ES256_A, Algorithm::ES256, "k1", c);
        assert!(matches!(
            verify_with_keys(&token, &set, &options(), NOW_MS),
            Err(JwtError::WrongIssuer)
        ));
        let mut c = claims(NOW_MS / 1000 + 60);
        c["aud"] = json!(["https://other/"]);
        let token = sign(ES256_A, Algorithm::ES256, "k1", c);
        assert!(matches!(
            verify_with_keys(&token, &set, &options(), NOW_MS),
            Err(JwtError::WrongAudience)
        ));
    }

    #[test]
    fn symmetric_algorithms_are_not_accepted() {
        let token = jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &claims(NOW_MS / 1000 + 60),
            &EncodingKey::from_secret(b"guessable"),
        )
        .unwrap();
        let set = jwks(ES256_A, Algorithm::ES256, "k1");
        assert!(matches!(
            verify_with_keys(&token, &set, &options(), NOW_MS),
            Err(JwtError::UnsupportedAlgorithm(ref k)) if k == "HS256"
        ));
    }

    #[test]
    fn audience_matches_a_string_or_a_member_of_a_list() {
        assert!(audience_matches(Some(&json!("a")), "a"));
        assert!(audience_matches(Some(&json!(["b", "a"])), "a"));
        assert!(!audience_matches(Some(&json!(["b"])), "a"));
        assert!(!audience_matches(None, "a"));
    }
}
