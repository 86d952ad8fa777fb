//! The `jwt` interface: decode and verify JSON Web Tokens natively with `jsonwebtoken`.
//!
//! Verification is native because it is the expensive part of the token pattern (RS256: ~160 µs
//! natively, ~1 ms inside a sandbox). Signing keys come from a JWKS the host fetches on the
//! action's behalf, so the fetch obeys the action's allow-list and outbound-request budget: an
//! action cannot use `verify` to reach hosts it could not reach itself, and the allow-list is
//! checked before the cache, so one tenant cannot verify against keys another tenant's action
//! fetched from a host it may not reach. Fetched sets live in a runtime-wide LRU bounded by
//! entries and bytes, keyed on the normalised URL, with one fetch in flight per URL. Expiry is
//! checked against the runtime's clock, not the system's, so tests can move time.
//!
//! Guest-controlled tokens and URLs enter here; a token is measured before it is parsed.

use std::collections::{HashMap, HashSet};
use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use cachet_limits::ExecutionLimits;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use lru::LruCache;
use serde_json::{Value, json};
use wasmtime::component::{HasData, Linker};

use crate::Clock;
use crate::bindings::jwt::{self as wit, JwtError, VerifyOptions};
use crate::egress::budget::OutboundBudget;
use crate::egress::connect;
use crate::egress::policy::AllowList;
use crate::egress::target::Target;

/// How long fetched keys are trusted before they are fetched again.
const JWKS_TTL_MS: u64 = 10 * 60 * 1000;
/// Least time between two fetches of the same JWKS when a token names an unknown key: key
/// rotation is rare, and an attacker must not turn unknown kids into a fetch storm.
const JWKS_REFETCH_MS: u64 = 30 * 1000;

const ACCEPTED: [Algorithm; 5] = [
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::ES256,
    Algorithm::ES384,
];

/// One execution's view of `jwt`.
pub(crate) struct JwtCtx {
    /// The tenant, whose share of the key-set cache this execution uses.
    pub(crate) tenant: String,
    pub(crate) allow: AllowList,
    pub(crate) jwks: Arc<JwksCache>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) outbound: Arc<OutboundBudget>,
    pub(crate) max_token_bytes: usize,
    /// The flow's deadline: a JWKS fetch never outlasts it.
    pub(crate) deadline: Instant,
}

struct HasJwt;

impl HasData for HasJwt {
    type Data<'a> = &'a mut JwtCtx;
}

/// Adds `cachet:action/jwt` to `linker`, reaching the context through `get`.
pub(crate) fn add_to_linker<T: Send + 'static>(
    linker: &mut Linker<T>,
    get: fn(&mut T) -> &mut JwtCtx,
) -> wasmtime::Result<()> {
    wit::add_to_linker::<T, HasJwt>(linker, get)
}

struct CachedSet {
    set: Arc<JwkSet>,
    fetched_ms: u64,
    bytes: usize,
    tenant: String,
}

struct Sets {
    lru: LruCache<String, CachedSet>,
    bytes: usize,
}

/// Fetched key sets by tenant and normalised URL, shared by every execution of a runtime and
/// bounded by entries, bytes and entries per tenant (least recently used dropped first). Sets
/// are kept per tenant so that no tenant uses, or pushes out, keys another tenant fetched.
pub(crate) struct JwksCache {
    sets: Mutex<Sets>,
    /// One async lock per tenant and URL being fetched, so concurrent verifications of tokens
    /// from one issuer make one request. Entries live only while a fetch is in flight.
    inflight: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    max_bytes: usize,
    max_per_tenant: usize,
    max_doc_bytes: usize,
}

/// Removes a URL's in-flight lock from the map when its last user is done, also when the
/// verification is cancelled (the flow deadline, or an embedder dropping the execution).
struct InflightTurn<'a> {
    cache: &'a JwksCache,
    key: &'a str,
    lock: Arc<tokio::sync::Mutex<()>>,
}

impl Drop for InflightTurn<'_> {
    fn drop(&mut self) {
        let mut inflight = self
            .cache
            .inflight
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        // The map's reference and this one: nobody else is waiting for this URL.
        if Arc::strong_count(&self.lock) == 2 {
            inflight.remove(self.key);
        }
    }
}

impl JwksCache {
    pub(crate) fn new(limits: &ExecutionLimits) -> Self {
        let entries = NonZeroUsize::new(limits.jwks_cache_entries).unwrap_or(NonZeroUsize::MIN);
        Self {
            sets: Mutex::new(Sets {
                lru: LruCache::new(entries),
                bytes: 0,
            }),
            inflight: Mutex::default(),
            max_bytes: limits.jwks_cache_bytes,
            max_per_tenant: limits.jwks_cache_entries_per_tenant,
            max_doc_bytes: limits.max_jwks_bytes,
        }
    }

    /// Entries and bytes held, for tests and metrics.
    #[cfg(test)]
    fn usage(&self) -> (usize, usize) {
        let sets = self.sets.lock().unwrap_or_else(PoisonError::into_inner);
        (sets.lru.len(), sets.bytes)
    }

    /// A usable cached set for `kid`, if there is one.
    fn lookup(&self, key: &str, kid: &str, now: u64) -> Option<Arc<JwkSet>> {
        let mut sets = self.sets.lock().unwrap_or_else(PoisonError::into_inner);
        let cached = sets.lru.get(key)?;
        let fresh = now < cached.fetched_ms.saturating_add(JWKS_TTL_MS);
        let knows_kid = cached.set.find(kid).is_some();
        let recently = now < cached.fetched_ms.saturating_add(JWKS_REFETCH_MS);
        (fresh && (knows_kid || recently)).then(|| Arc::clone(&cached.set))
    }

    fn insert(&self, tenant: &str, key: String, set: Arc<JwkSet>, bytes: usize, now: u64) {
        let bytes = bytes.saturating_add(key.len());
        if bytes > self.max_bytes {
            return; // larger than the whole cache: used once, not kept
        }
        let mut sets = self.sets.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(old) = sets.lru.pop(&key) {
            sets.bytes -= old.bytes;
        }
        // The tenant's own least recently used sets make room for its new one.
        loop {
            let (count, oldest) = sets
                .lru
                .iter()
                .filter(|(_, c)| c.tenant == tenant)
                .fold((0, None), |(n, _), (k, _)| (n + 1, Some(k.clone())));
            match oldest {
                Some(oldest) if count >= self.max_per_tenant => {
                    if let Some(old) = sets.lru.pop(&oldest) {
                        sets.bytes -= old.bytes;
                    }
                }
                _ => break,
            }
        }
        while sets.bytes + bytes > self.max_bytes {
            match sets.lru.pop_lru() {
                Some((_, old)) => sets.bytes -= old.bytes,
                None => break,
            }
        }
        if let Some((_, old)) = sets.lru.push(
            key,
            CachedSet {
                set,
                fetched_ms: now,
                bytes,
                tenant: tenant.to_string(),
            },
        ) {
            // The entry limit pushed out the least recently used set.
            sets.bytes -= old.bytes;
        }
        sets.bytes += bytes;
    }

    /// The key set at `target` for a token naming `kid`: from the cache when fresh, else
    /// fetched (one fetch per URL at a time; waiters use its result). The caller has checked
    /// the allow-list.
    async fn keys(
        &self,
        target: &Target,
        kid: &str,
        ctx: &JwtCtx,
    ) -> Result<Arc<JwkSet>, JwtError> {
        let key = format!("{}\n{}", ctx.tenant, target.normalised_url());
        let now = ctx.clock.now_ms();
        if let Some(set) = self.lookup(&key, kid, now) {
            return Ok(set);
        }
        let turn = InflightTurn {
            cache: self,
            key: &key,
            lock: Arc::clone(
                self.inflight
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .entry(key.clone())
                    .or_default(),
            ),
        };
        let _mine = turn.lock.lock().await;
        // Another execution may have fetched it while this one waited.
        match self.lookup(&key, kid, ctx.clock.now_ms()) {
            Some(set) => Ok(set),
            None => self.fetch(target, &key, ctx).await,
        }
    }

    async fn fetch(
        &self,
        target: &Target,
        key: &str,
        ctx: &JwtCtx,
    ) -> Result<Arc<JwkSet>, JwtError> {
        // A fetch on the action's behalf counts against its outbound requests: URL churn
        // cannot turn one execution into many fetches.
        let slot = ctx
            .outbound
            .start()
            .map_err(|e| JwtError::KeysUnavailable(format!("fetching the JWKS: {e}")))?;
        let body = connect::get(target, &ctx.allow, self.max_doc_bytes, ctx.deadline, slot)
            .await
            .map_err(JwtError::KeysUnavailable)?;
        let set: JwkSet = serde_json::from_slice(&body).map_err(|e| {
            JwtError::KeysUnavailable(format!("{} is not a JWKS: {e}", target.normalised_url()))
        })?;
        let set = Arc::new(set);
        self.insert(
            &ctx.tenant,
            key.to_string(),
            Arc::clone(&set),
            body.len(),
            ctx.clock.now_ms(),
        );
        Ok(set)
    }
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

impl JwtCtx {
    /// Refuses a token longer than the limit before anything parses it.
    fn check_size(&self, token: &str) -> Result<(), JwtError> {
        if token.len() > self.max_token_bytes {
            return Err(JwtError::Malformed(format!(
                "the token is {} bytes; at most {} are accepted",
                token.len(),
                self.max_token_bytes
            )));
        }
        Ok(())
    }

    async fn verify_token(&self, token: &str, options: &VerifyOptions) -> Result<Value, JwtError> {
        self.check_size(token)?;
        let header =
            jsonwebtoken::decode_header(token).map_err(|e| JwtError::Malformed(e.to_string()))?;
        if !ACCEPTED.contains(&header.alg) {
            return Err(JwtError::UnsupportedAlgorithm(format!("{:?}", header.alg)));
        }
        // The allow-list first, before any cached keys are looked at.
        let target = Target::parse(&options.jwks_url)
            .and_then(|t| t.require_https_unless_loopback("JWKS URL").map(|()| t))
            .map_err(|e| JwtError::KeysUnavailable(e.to_string()))?;
        if !self.allow.allows(&target.host, target.port) {
            return Err(JwtError::KeysUnavailable(format!(
                "JWKS host {} is not on the action's allow-list",
                target.authority()
            )));
        }
        let kid = header.kid.clone().unwrap_or_default();
        let set = self.jwks.keys(&target, &kid, self).await?;
        verify_with_keys(token, &set, options, self.clock.now_ms())
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

impl wit::Host for JwtCtx {
    async fn decode(&mut self, token: String) -> Result<String, JwtError> {
        self.check_size(&token)?;
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

    const ES256_A: &str = include_str!("../../testdata/es256-a.pem");
    const ES256_B: &str = include_str!("../../testdata/es256-b.pem");
    const RS256: &str = include_str!("../../testdata/rs256.pem");
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
    fn the_jwks_cache_is_bounded_by_entries_and_bytes() {
        let limits = ExecutionLimits {
            jwks_cache_entries: 4,
            jwks_cache_entries_per_tenant: 4,
            jwks_cache_bytes: 1_000,
            ..ExecutionLimits::default()
        };
        let cache = JwksCache::new(&limits);
        let set = Arc::new(jwks(ES256_A, Algorithm::ES256, "k1"));
        // URL churn: every URL distinct, as `?n=i` would make them.
        for i in 0..100 {
            cache.insert(
                "t",
                format!("https://a.example:443/j?n={i}"),
                Arc::clone(&set),
                100,
                0,
            );
            let (entries, bytes) = cache.usage();
            assert!(
                entries <= 4 && bytes <= 1_000,
                "{entries} entries, {bytes} bytes"
            );
        }
        // Large documents push out others by bytes, and one larger than the cache is not kept.
        cache.insert(
            "t",
            "https://b.example:443/j".into(),
            Arc::clone(&set),
            900,
            0,
        );
        assert_eq!(cache.usage().0, 1);
        cache.insert(
            "t",
            "https://c.example:443/j".into(),
            Arc::clone(&set),
            5_000,
            0,
        );
        assert!(cache.lookup("https://c.example:443/j", "k1", 0).is_none());
        assert!(cache.lookup("https://b.example:443/j", "k1", 0).is_some());
    }

    #[test]
    fn a_tenant_churning_urls_pushes_out_its_own_key_sets_not_others() {
        let limits = ExecutionLimits {
            jwks_cache_entries: 16,
            jwks_cache_entries_per_tenant: 3,
            ..ExecutionLimits::default()
        };
        let cache = JwksCache::new(&limits);
        let set = Arc::new(jwks(ES256_A, Algorithm::ES256, "k1"));
        cache.insert(
            "victim",
            "victim\nhttps://v/j".into(),
            Arc::clone(&set),
            100,
            0,
        );
        for i in 0..100 {
            cache.insert(
                "churner",
                format!("churner\nhttps://c/j?n={i}"),
                Arc::clone(&set),
                100,
                0,
            );
        }
        assert!(cache.lookup("victim\nhttps://v/j", "k1", 0).is_some());
        assert_eq!(cache.usage().0, 1 + 3);
    }

    #[test]
    fn audience_matches_a_string_or_a_member_of_a_list() {
        assert!(audience_matches(Some(&json!("a")), "a"));
        assert!(audience_matches(Some(&json!(["b", "a"])), "a"));
        assert!(!audience_matches(Some(&json!(["b"])), "a"));
        assert!(!audience_matches(None, "a"));
    }
}
