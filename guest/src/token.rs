//! [`ManagementToken`]: the Management-API token pattern, correct by default.
//!
//! Every login needs a client-credentials access token for the management API, and minting one
//! per login is slow, billed, and rate limited. The helper keeps one token in the trigger's
//! cache and:
//!
//! - treats access tokens as RFC 6749 does: opaque strings with an `expires_in`. When a token
//!   is a JWT its `exp` is honoured too (the earlier expiry wins), and its `aud` must be the
//!   configured audience when it has one (Auth0 sets it; many servers do not);
//! - uses the cached token while it lives beyond now + leeway; the leeway is the smaller of
//!   the configured one (30 s by default) and a quarter of the token's lifetime
//!   ([`effective_leeway_ms`]), so a short-lived token (20 s, say) is still cached for most of
//!   its life instead of being fetched on every login; with [`ManagementToken::verify_with`],
//!   its signature is checked too; anything else in the cache entry (expired, foreign,
//!   poisoned) is dropped, never used;
//! - otherwise claims the refresh with an `if_absent` write holding a value unique to this
//!   execution, so that of many concurrent logins one fetches (RFC 6749 §4.4) while the others
//!   wait for its token as long as the fetch may take, and only the owner releases the claim;
//!   a holder that fails or dies leaves the others to claim again, one at a time;
//! - with [`ManagementToken::verify_with`], keeps the cached token when the JWKS cannot be had
//!   ([`TokenError::KeysUnavailable`]) instead of replacing it with another it cannot check;
//! - caches a new token with ttl = min(expiry − leeway − now, 24 h); a token that already
//!   expires within the leeway, or is too large for a cache value, is used for this login and
//!   not cached, and [`Token::not_cached`] says why;
//! - on a 401 from the API, drops the token, fetches a new one and retries once
//!   ([`ManagementToken::call`]); an API that keeps answering 401 gets at most one new token
//!   per second per partition, not one per login.
//!
//! A token endpoint that is down, slow, or answers garbage is a [`TokenError`]; nothing bad is
//! cached. The trigger's partition is trusted by the helper as the tenant's own: an action of
//! the same flow that writes a well-formed entry under the helper's key is believed (only the
//! JWT checks, or [`ManagementToken::verify_with`], would catch a forged JWT).

use std::fmt;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::http::{self, HttpError, Request, Response};
use crate::jwt::{self, VerifyOptions};
use crate::{Cache, CacheError, Secrets, SetOptions, now_ms};

const DAY_MS: u64 = 24 * 60 * 60 * 1000;
/// Time beyond the token request's timeout that a refresh claim holds and waiters wait: the
/// owner's own work around the request.
const CLAIM_MARGIN: Duration = Duration::from_secs(1);
/// After a 401 made this partition fetch a new token, further 401s within this time do not.
const UNAUTHORIZED_REFETCH_MS: u64 = 1_000;
/// The largest value the default cache limits accept.
const MAX_CACHED_TOKEN_BYTES: usize = 4096;
/// The leeway is at most this fraction (1/N) of a token's lifetime.
const LEEWAY_LIFETIME_DIVISOR: u64 = 4;

/// The leeway a token of `lifetime_ms` gets: the smaller of the configured leeway and a
/// quarter of its lifetime.
///
/// A fixed leeway longer than the lifetime would make every token "about to expire" the
/// moment it arrives, so none would be cached and every login would fetch one. A quarter
/// keeps the margin meaningful (a 5 s token is refreshed 1.25 s early) while the token
/// serves logins for three quarters of its life.
///
/// ```
/// use cachet_guest::effective_leeway_ms;
///
/// assert_eq!(effective_leeway_ms(30_000, 3_600_000), 30_000); // 1 h: the full 30 s
/// assert_eq!(effective_leeway_ms(30_000, 60_000), 15_000);
/// assert_eq!(effective_leeway_ms(30_000, 20_000), 5_000);
/// assert_eq!(effective_leeway_ms(30_000, 5_000), 1_250);
/// ```
pub fn effective_leeway_ms(configured_ms: u64, lifetime_ms: u64) -> u64 {
    configured_ms.min(lifetime_ms / LEEWAY_LIFETIME_DIVISOR)
}

/// Why no token could be had.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenError {
    /// A required secret is missing.
    MissingSecret(&'static str),
    /// The token endpoint could not be reached (down, slow, or not allow-listed).
    Endpoint(HttpError),
    /// The token endpoint answered with an error status.
    EndpointStatus {
        /// The HTTP status.
        status: u16,
    },
    /// The token endpoint answered something that is not a usable token.
    BadTokenResponse(String),
    /// The API call made with the token failed.
    Api(HttpError),
    /// The token URL is plain `http` to a host that is not loopback: the client secret would
    /// cross the network in clear text.
    InsecureTokenUrl(String),
    /// With [`ManagementToken::verify_with`]: the signing keys could not be had, so no token
    /// can be checked now. The cached token is kept (it may be fine); try again later.
    KeysUnavailable(String),
    /// Another execution's refresh did not finish within the wait.
    RefreshTimedOut {
        /// How long this execution waited.
        waited_ms: u64,
    },
}

impl fmt::Display for TokenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::MissingSecret(name) => {
                write!(f, "management token: secret `{name}` is not configured")
            }
            Self::Endpoint(e) => write!(f, "management token: token endpoint unreachable: {e}"),
            Self::EndpointStatus { status } => {
                write!(f, "management token: token endpoint answered HTTP {status}")
            }
            Self::BadTokenResponse(why) => {
                write!(f, "management token: unusable token response: {why}")
            }
            Self::Api(e) => write!(f, "management API call failed: {e}"),
            Self::KeysUnavailable(why) => {
                write!(f, "management token: signing keys unavailable: {why}")
            }
            Self::RefreshTimedOut { waited_ms } => write!(
                f,
                "management token: waited {waited_ms} ms for another login's token refresh; the token endpoint is too slow or failing"
            ),
            Self::InsecureTokenUrl(url) => write!(
                f,
                "management token: token URL {url} must use https (plain http only for loopback hosts)"
            ),
        }
    }
}

impl std::error::Error for TokenError {}

/// A valid token with what the helper learned checking it, so callers need not decode it again.
/// `Debug` does not show the token.
#[derive(Clone, PartialEq, Eq)]
pub struct Token {
    /// The access token.
    pub value: String,
    /// When it expires, in milliseconds since the Unix epoch.
    pub expires_at_ms: u64,
    /// Where it came from.
    pub source: TokenSource,
    /// Why a fetched token was not cached (the next login fetches again), if it was not.
    pub not_cached: Option<NotCached>,
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Token")
            .field(
                "value",
                &format_args!("<{} bytes redacted>", self.value.len()),
            )
            .field("expires_at_ms", &self.expires_at_ms)
            .field("source", &self.source)
            .field("not_cached", &self.not_cached)
            .finish()
    }
}

/// Why a fetched token was used for this login but not cached.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NotCached {
    /// It expires within the leeway: caching it would hand later logins a token about to die.
    ExpiresWithinLeeway,
    /// It is larger than a cache value may be.
    TooLarge {
        /// Its size.
        bytes: usize,
    },
    /// The cache refused it (quota, write budget, store down): the error code.
    Refused(&'static str),
}

impl fmt::Display for NotCached {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::ExpiresWithinLeeway => f.write_str("the token expires within the leeway"),
            Self::TooLarge { bytes } => write!(
                f,
                "the token is {bytes} bytes, more than a cache value may hold ({MAX_CACHED_TOKEN_BYTES})"
            ),
            Self::Refused(code) => write!(f, "the cache refused it ({code})"),
        }
    }
}

/// Where a token came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenSource {
    /// A valid cached token.
    Cache,
    /// Another execution's fresh token, waited for.
    Waited,
    /// Fetched from the token endpoint by this execution.
    Fetched,
}

/// Client-credentials access tokens for one audience, cached per trigger.
///
/// Configured from the action's secrets: `token_url` (or `domain`, meaning
/// `https://{domain}/oauth/token`), `client_id`, `client_secret`, and `audience` (default with
/// `domain`: `https://{domain}/api/v2/`); optionally `token_timeout_ms`. `Debug` shows neither
/// the client secret nor any token.
#[derive(Clone)]
pub struct ManagementToken {
    token_url: String,
    client_id: String,
    client_secret: String,
    audience: String,
    leeway_ms: u64,
    wait: Duration,
    poll: Duration,
    verify: Option<VerifyOptions>,
    timeout: Duration,
    require_audience: bool,
    key: String,
    claim_key: String,
    unauthorized_key: String,
}

impl fmt::Debug for ManagementToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ManagementToken")
            .field("token_url", &self.token_url)
            .field("client_id", &self.client_id)
            .field("client_secret", &"<redacted>")
            .field("audience", &self.audience)
            .field("leeway_ms", &self.leeway_ms)
            .field("timeout", &self.timeout)
            .field("require_audience", &self.require_audience)
            .field("key", &self.key)
            .finish_non_exhaustive()
    }
}

/// FNV-1a, to fit any client id and audience into a 64-byte cache key.
fn fnv64(data: &str) -> u64 {
    data.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

impl ManagementToken {
    /// Reads the configuration from the action's secrets.
    pub fn from_secrets(secrets: &Secrets) -> Result<Self, TokenError> {
        let need = |name: &'static str| {
            secrets
                .get(name)
                .map(str::to_string)
                .ok_or(TokenError::MissingSecret(name))
        };
        let domain = secrets.get("domain");
        let token_url = match (secrets.get("token_url"), domain) {
            (Some(url), _) => url.to_string(),
            (None, Some(d)) => format!("https://{d}/oauth/token"),
            (None, None) => return Err(TokenError::MissingSecret("token_url")),
        };
        let audience = match (secrets.get("audience"), domain) {
            (Some(a), _) => a.to_string(),
            (None, Some(d)) => format!("https://{d}/api/v2/"),
            (None, None) => return Err(TokenError::MissingSecret("audience")),
        };
        let mut helper = Self::new(
            &token_url,
            &need("client_id")?,
            &need("client_secret")?,
            &audience,
        );
        if let Some(ms) = secrets.get("token_timeout_ms").and_then(|v| v.parse().ok()) {
            helper = helper.timeout(Duration::from_millis(ms));
        }
        if secrets.get("require_audience") == Some("true") {
            helper.require_audience = true;
        }
        check_token_url(&helper.token_url)?;
        Ok(helper)
    }

    /// The audience tokens are requested for (with Auth0, the management API's base URL).
    pub fn audience(&self) -> &str {
        &self.audience
    }

    /// How long each phase of a token request may take: connecting, the first byte, the body
    /// (default 5 s; secret `token_timeout_ms`). A refresh claim lives for the worst case of
    /// the three plus a second, and waiters wait a second longer than that, unless
    /// [`Self::wait`] says otherwise afterwards.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self.wait = self.worst_case_fetch() + CLAIM_MARGIN;
        self
    }

    /// Refuse JWTs that carry no `aud` claim (default: a JWT without `aud` is accepted, as
    /// servers other than Auth0 issue them; one whose `aud` differs is always refused).
    pub fn require_audience(mut self, require: bool) -> Self {
        self.require_audience = require;
        self
    }

    /// A helper for explicit settings.
    pub fn new(token_url: &str, client_id: &str, client_secret: &str, audience: &str) -> Self {
        let id = format!(
            "{:016x}",
            fnv64(&format!("{token_url}\n{client_id}\n{audience}"))
        );
        Self {
            token_url: token_url.to_string(),
            client_id: client_id.to_string(),
            client_secret: client_secret.to_string(),
            audience: audience.to_string(),
            leeway_ms: 30_000,
            wait: Duration::from_secs(5) * 3 + CLAIM_MARGIN * 2,
            poll: Duration::from_millis(10),
            verify: None,
            timeout: Duration::from_secs(5),
            require_audience: false,
            key: format!("cachet:mgmt-token:{id}"),
            claim_key: format!("cachet:mgmt-token:{id}:refresh"),
            unauthorized_key: format!("cachet:mgmt-token:{id}:401"),
        }
    }

    /// Treat a token as expired this long before its `exp` (default 30 s), or a quarter of its
    /// lifetime when that is shorter ([`effective_leeway_ms`]).
    pub fn leeway(mut self, leeway: Duration) -> Self {
        self.leeway_ms = u64::try_from(leeway.as_millis()).unwrap_or(u64::MAX);
        self
    }

    /// How long to wait for another execution's refresh before giving up with
    /// [`TokenError::RefreshTimedOut`] (default: longer than a token request can take, so a
    /// slow endpoint still gets one request, and a holder that died without releasing its
    /// claim is outlived: its claim expires and a waiter claims again).
    pub fn wait(mut self, wait: Duration) -> Self {
        self.wait = wait;
        self
    }

    /// Also verify tokens' signatures (cached and fresh) against this JWKS.
    pub fn verify_with(mut self, options: VerifyOptions) -> Self {
        self.verify = Some(options);
        self
    }

    /// The cache key the token is kept under.
    pub fn cache_key(&self) -> &str {
        &self.key
    }

    /// A valid token, from the cache when possible.
    pub fn get(&self, cache: &Cache) -> Result<String, TokenError> {
        self.token(cache).map(|t| t.value)
    }

    /// A valid token, its expiry, and where it came from.
    pub fn token(&self, cache: &Cache) -> Result<Token, TokenError> {
        if let Some(hit) = cache.get(&self.key) {
            match self.cached(&hit, now_ms()) {
                Ok((value, expires_at_ms)) => {
                    return Ok(Token {
                        value,
                        expires_at_ms,
                        source: TokenSource::Cache,
                        not_cached: None,
                    });
                }
                Err(Unusable::KeysUnavailable(why)) => {
                    // Nothing is known against the token: keep it, and do not mint another
                    // that could not be checked either.
                    return Err(TokenError::KeysUnavailable(why));
                }
                Err(Unusable::Invalid(why)) => {
                    // Never use it; replace it.
                    eprintln!(
                        "cachet-guest: cached management token not used ({why}); replacing it"
                    );
                    let _ = cache.delete(&self.key);
                }
            }
        }
        self.refresh(cache)
    }

    /// Calls an API with a valid token. On a 401 the token is dropped, a new one fetched, and
    /// the call retried once.
    pub fn call(
        &self,
        cache: &Cache,
        send: impl Fn(&str) -> Result<Response, HttpError>,
    ) -> Result<Response, TokenError> {
        let token = self.get(cache)?;
        let response = send(&token).map_err(TokenError::Api)?;
        if response.status != 401 {
            return Ok(response);
        }
        // At most one 401-driven refresh per second per partition: an API that refuses every
        // token must not turn every login into a token request.
        let first = cache.set(
            &self.unauthorized_key,
            "1",
            SetOptions::ttl(UNAUTHORIZED_REFETCH_MS).if_absent(),
        );
        if first.is_err() {
            return Ok(response);
        }
        // Drop it unless another execution has already replaced it.
        if cache
            .get(&self.key)
            .is_some_and(|r| unwrap_entry(&r.value).is_some_and(|e| e.token == token))
        {
            let _ = cache.delete(&self.key);
        }
        let fresh = self.get(cache)?;
        send(&fresh).map_err(TokenError::Api)
    }

    /// The longest one token request can take: connecting, the first byte and the body each
    /// get the timeout.
    fn worst_case_fetch(&self) -> Duration {
        self.timeout * 3 + CLAIM_MARGIN
    }

    /// A usable token another execution cached, if there is one.
    fn waited_for(&self, cache: &Cache) -> Option<Token> {
        let hit = cache.get(&self.key)?;
        let (value, expires_at_ms) = self.cached(&hit, now_ms()).ok()?;
        Some(Token {
            value,
            expires_at_ms,
            source: TokenSource::Waited,
            not_cached: None,
        })
    }

    /// Gets a fresh token with at most one fetch among concurrent executions: claim the
    /// refresh (`if_absent`, with a value unique to this execution), or wait for the holder's
    /// token; when a holder gives up or dies without one, check again and claim again.
    fn refresh(&self, cache: &Cache) -> Result<Token, TokenError> {
        let owner = claim_value();
        let claim_ttl = u64::try_from(self.worst_case_fetch().as_millis()).unwrap_or(u64::MAX);
        let started = Instant::now();
        loop {
            match cache.set(
                &self.claim_key,
                &owner,
                SetOptions::ttl(claim_ttl).if_absent(),
            ) {
                Ok(_) => {
                    // Another execution may have stored a token and released its claim between
                    // our miss and our claim (a window that a remote store makes wide): look
                    // again before fetching.
                    let fetched = match self.waited_for(cache) {
                        Some(token) => Ok(token),
                        None => self.fetch_and_store(cache),
                    };
                    // Release the claim only if it is still ours: if it expired and another
                    // execution took it, deleting it would let a third one fetch too.
                    if cache.get(&self.claim_key).is_some_and(|c| c.value == owner) {
                        let _ = cache.delete(&self.claim_key);
                    }
                    return fetched;
                }
                Err(CacheError::CacheKeyExists) => loop {
                    // Another execution is refreshing: wait for its token.
                    if started.elapsed() >= self.wait {
                        return Err(TokenError::RefreshTimedOut {
                            waited_ms: u64::try_from(started.elapsed().as_millis())
                                .unwrap_or(u64::MAX),
                        });
                    }
                    std::thread::sleep(self.poll);
                    if let Some(token) = self.waited_for(cache) {
                        return Ok(token);
                    }
                    if cache.get(&self.claim_key).is_none() {
                        // Released (or expired) without a token we saw. The holder may have
                        // stored it just before releasing: look once more, then claim.
                        if let Some(token) = self.waited_for(cache) {
                            return Ok(token);
                        }
                        break;
                    }
                },
                // The cache cannot take the claim (write budget, store down): still get a token.
                Err(_) => return self.fetch_and_store(cache),
            }
        }
    }

    fn fetch_and_store(&self, cache: &Cache) -> Result<Token, TokenError> {
        let (value, expires_at_ms) = self.fetch()?;
        let now = now_ms();
        let leeway_ms = effective_leeway_ms(self.leeway_ms, expires_at_ms.saturating_sub(now));
        let ttl = expires_at_ms
            .saturating_sub(leeway_ms)
            .saturating_sub(now)
            .min(DAY_MS);
        let entry = wrap_entry(&value, expires_at_ms, leeway_ms);
        let not_cached = if ttl == 0 {
            Some(NotCached::ExpiresWithinLeeway)
        } else if entry.len() > MAX_CACHED_TOKEN_BYTES {
            Some(NotCached::TooLarge { bytes: value.len() })
        } else {
            match cache.set(&self.key, &entry, SetOptions::ttl(ttl)) {
                Ok(_) => None,
                Err(CacheError::CacheValueSizeExceeded) => {
                    Some(NotCached::TooLarge { bytes: value.len() })
                }
                Err(e) => Some(NotCached::Refused(e.code())),
            }
        };
        Ok(Token {
            value,
            expires_at_ms,
            source: TokenSource::Fetched,
            not_cached,
        })
    }

    /// RFC 6749 §4.4: the client-credentials grant. Returns the token and when it expires:
    /// the earlier of `expires_in` and, for a JWT, its `exp`.
    fn fetch(&self) -> Result<(String, u64), TokenError> {
        check_token_url(&self.token_url)?;
        let body = http::form_encode(&[
            ("grant_type", "client_credentials"),
            ("client_id", &self.client_id),
            ("client_secret", &self.client_secret),
            ("audience", &self.audience),
        ]);
        let response = Request::post(&self.token_url)
            .header("content-type", "application/x-www-form-urlencoded")
            .header("accept", "application/json")
            .body(body)
            .timeout(self.timeout)
            .send()
            .map_err(TokenError::Endpoint)?;
        if !(200..300).contains(&response.status) {
            return Err(TokenError::EndpointStatus {
                status: response.status,
            });
        }
        let json: Value = serde_json::from_slice(&response.body)
            .map_err(|_| TokenError::BadTokenResponse("not JSON".into()))?;
        let token = json["access_token"]
            .as_str()
            .filter(|t| !t.is_empty())
            .ok_or_else(|| TokenError::BadTokenResponse("no access_token".into()))?;
        let now = now_ms();
        let expires_in = json["expires_in"]
            .as_u64()
            .or_else(|| json["expires_in"].as_str().and_then(|s| s.parse().ok()))
            .map(|secs| now.saturating_add(secs.saturating_mul(1000)));
        let exp = self
            .checked_claims(token, expires_in.is_none())
            .map_err(|u| match u {
                Unusable::Invalid(why) => TokenError::BadTokenResponse(why),
                Unusable::KeysUnavailable(why) => TokenError::KeysUnavailable(why),
            })?;
        let expires_at_ms = match (exp, expires_in) {
            (Some(a), Some(b)) => a.min(b),
            (Some(a), None) | (None, Some(a)) => a,
            (None, None) => {
                return Err(TokenError::BadTokenResponse(
                    "neither expires_in nor an exp claim says when it expires".into(),
                ));
            }
        };
        if expires_at_ms <= now {
            return Err(TokenError::BadTokenResponse("already expired".into()));
        }
        Ok((token.to_string(), expires_at_ms))
    }

    /// What a token's own claims say, if it is a JWT: its `exp` in ms, after checking its
    /// audience (and, with [`Self::verify_with`], its signature). An opaque token has no
    /// claims: `Ok(None)`, unless signatures must be verified or `need_exp` (nothing else
    /// says when it expires).
    fn checked_claims(&self, token: &str, need_exp: bool) -> Result<Option<u64>, Unusable> {
        let invalid = |why: &str| Err(Unusable::Invalid(why.to_string()));
        let claims = match &self.verify {
            Some(options) => match jwt::verify(token, options) {
                Ok(claims) => claims,
                Err(jwt::JwtError::KeysUnavailable(why)) => {
                    return Err(Unusable::KeysUnavailable(why));
                }
                Err(e) => return invalid(&e.to_string()),
            },
            None => match jwt::decode(token) {
                Ok(decoded) => decoded.claims,
                Err(_) if !need_exp => return Ok(None),
                Err(e) => return invalid(&e.to_string()),
            },
        };
        match &claims["aud"] {
            Value::Null if self.require_audience => return invalid("no aud claim"),
            Value::Null => {}
            Value::String(a) if *a == self.audience => {}
            Value::Array(list) if list.iter().any(|a| a.as_str() == Some(&self.audience)) => {}
            _ => return invalid("issued for another audience"),
        }
        match claims["exp"].as_u64() {
            Some(exp) => Ok(Some(exp.saturating_mul(1000))),
            None if need_exp => invalid("no exp claim"),
            None => Ok(None),
        }
    }

    /// Whether a cached token may be used now; returns it and when it expires. The entry must
    /// be one the helper wrote; its recorded expiry and the cache entry's own expiry bound an
    /// opaque token; a JWT's `exp` and audience are checked again, so a poisoned or foreign
    /// entry is never used.
    fn cached(&self, hit: &crate::CacheRecord, now: u64) -> Result<(String, u64), Unusable> {
        let entry = unwrap_entry(&hit.value)
            .ok_or_else(|| Unusable::Invalid("not a token entry".into()))?;
        // The leeway chosen when the token was cached, never more than the configured one.
        let leeway_ms = entry.leeway_ms.min(self.leeway_ms);
        let from_entry = hit.expires_at.saturating_add(leeway_ms);
        let mut expires_at_ms = entry.expires_at_ms.min(from_entry);
        let token = entry.token;
        if let Some(exp) = self.checked_claims(token, false)? {
            expires_at_ms = expires_at_ms.min(exp);
        }
        if expires_at_ms <= now.saturating_add(leeway_ms) {
            return Err(Unusable::Invalid("expires within the leeway".into()));
        }
        Ok((token.to_string(), expires_at_ms))
    }
}

/// Why a token cannot be used now.
enum Unusable {
    /// It is not a token for this helper (malformed, expired, foreign, badly signed).
    Invalid(String),
    /// Its signature cannot be checked now (the JWKS is unreachable).
    KeysUnavailable(String),
}

impl fmt::Display for Unusable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Invalid(why) => f.write_str(why),
            Self::KeysUnavailable(why) => write!(f, "signing keys unavailable: {why}"),
        }
    }
}

/// The cache entry for a token: a version tag, its expiry and the leeway it was cached with
/// (both in ms), then the token. The helper reads only entries it wrote this way, so a foreign
/// value under its key (an opaque token cannot be told from garbage) is never sent as a token.
fn wrap_entry(token: &str, expires_at_ms: u64, leeway_ms: u64) -> String {
    format!("t2.{expires_at_ms}.{leeway_ms}.{token}")
}

/// A token entry read back from the cache.
#[derive(Debug, PartialEq, Eq)]
struct Entry<'a> {
    token: &'a str,
    expires_at_ms: u64,
    leeway_ms: u64,
}

/// The entry, if [`wrap_entry`] made it. Entries of the previous format (`t1.`, written before
/// the leeway scaled with the lifetime, possibly by another replica still running it) are read
/// with the full configured leeway, as they were written.
fn unwrap_entry(entry: &str) -> Option<Entry<'_>> {
    let (expiry, leeway, token) = if let Some(rest) = entry.strip_prefix("t2.") {
        let (expiry, rest) = rest.split_once('.')?;
        let (leeway, token) = rest.split_once('.')?;
        (expiry, leeway.parse().ok()?, token)
    } else {
        let (expiry, token) = entry.strip_prefix("t1.")?.split_once('.')?;
        (expiry, u64::MAX, token)
    };
    let expires_at_ms = expiry.parse().ok()?;
    (!token.is_empty()).then_some(Entry {
        token,
        expires_at_ms,
        leeway_ms: leeway,
    })
}

/// Plain `http` only for loopback hosts (a local dev server): the client secret is in the body.
fn check_token_url(url: &str) -> Result<(), TokenError> {
    let Some(rest) = url.strip_prefix("http://") else {
        return Ok(()); // https, or a URL the request itself will refuse
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host = match authority.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or(""),
        None => authority.rsplit_once(':').map_or(authority, |(h, _)| h),
    };
    let loopback = host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    if loopback {
        Ok(())
    } else {
        Err(TokenError::InsecureTokenUrl(url.to_string()))
    }
}

/// A value no other execution's claim holds: the time and a per-process random seed.
fn claim_value() -> String {
    use std::hash::BuildHasher;
    // RandomState draws its keys from wasi:random.
    let random = std::collections::hash_map::RandomState::new().hash_one(now_ms());
    format!("{}-{random:016x}", now_ms())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cache_entries_round_trip_and_foreign_values_are_not_tokens() {
        let entry = wrap_entry("eyJ.a.b", 42, 7);
        let read = |token, expires_at_ms, leeway_ms| Entry {
            token,
            expires_at_ms,
            leeway_ms,
        };
        assert_eq!(unwrap_entry(&entry), Some(read("eyJ.a.b", 42, 7)));
        // The previous format is still read, with the configured leeway.
        assert_eq!(
            unwrap_entry("t1.42.eyJ.a.b"),
            Some(read("eyJ.a.b", 42, u64::MAX))
        );
        for foreign in [
            "garbage",
            "eyJ.a.b",
            "t1.x.tok",
            "t1.5.",
            "t1.5",
            "t2.5.x.tok",
            "t2.5.1.",
            "t2.5",
        ] {
            assert_eq!(unwrap_entry(foreign), None, "{foreign}");
        }
    }

    #[test]
    fn the_leeway_is_a_quarter_of_a_short_lifetime_and_30_s_for_long_ones() {
        let secs = |s: u64| s * 1000;
        // (lifetime, leeway, how long the token is cached)
        for (lifetime, leeway, cached) in [
            (secs(5), 1_250, 3_750),
            (secs(20), secs(5), secs(15)),
            (secs(60), secs(15), secs(45)),
            (secs(3600), secs(30), secs(3570)),
        ] {
            let got = effective_leeway_ms(secs(30), lifetime);
            assert_eq!(got, leeway, "lifetime {lifetime} ms");
            assert_eq!(lifetime - got, cached, "lifetime {lifetime} ms");
        }
        // A configured leeway shorter than a quarter wins.
        assert_eq!(effective_leeway_ms(secs(1), secs(60)), secs(1));
    }

    #[test]
    fn token_urls_must_be_https_unless_loopback() {
        assert!(check_token_url("https://tenant.example/oauth/token").is_ok());
        for local in [
            "http://127.0.0.1:8484/oauth/token",
            "http://localhost/oauth/token",
            "http://[::1]:80/t",
        ] {
            assert!(check_token_url(local).is_ok(), "{local}");
        }
        assert!(matches!(
            check_token_url("http://tenant.example/oauth/token"),
            Err(TokenError::InsecureTokenUrl(_))
        ));
    }

    #[test]
    fn debug_never_shows_the_client_secret_or_a_token() {
        let helper = ManagementToken::new(
            "https://t.example/oauth/token",
            "id",
            "s3cr3t-value",
            "https://t.example/api/v2/",
        );
        assert!(!format!("{helper:?}").contains("s3cr3t-value"));
        let token = Token {
            value: "eyJ.secret-token.sig".into(),
            expires_at_ms: 1,
            source: TokenSource::Fetched,
            not_cached: None,
        };
        assert!(!format!("{token:?}").contains("secret-token"));
    }
}
