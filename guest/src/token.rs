//! [`ManagementToken`]: the Management-API token pattern, correct by default.
//!
//! Every login needs a client-credentials access token for the management API, and minting one
//! per login is slow, billed, and rate limited. The helper keeps one token in the trigger's
//! cache and:
//!
//! - uses the cached token while its `exp` is beyond now + leeway (30 s by default) and its
//!   audience is the configured one (with [`ManagementToken::verify_with`], also its signature);
//!   anything else in the cache entry (expired, foreign, poisoned) is dropped, never used;
//! - otherwise claims the refresh with an `if_absent` write, so that of many concurrent logins
//!   one fetches (RFC 6749 §4.4) while the others wait briefly for its token, and fetch
//!   themselves only if it does not come;
//! - caches a new token with ttl = min(exp − leeway − now, 24 h);
//! - on a 401 from the API, drops the token, fetches a new one and retries once
//!   ([`ManagementToken::call`]).
//!
//! A token endpoint that is down, slow, or answers garbage is a [`TokenError`]; nothing bad is
//! cached.

use std::fmt;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::http::{self, HttpError, Request, Response};
use crate::jwt::{self, VerifyOptions};
use crate::{Cache, CacheError, Secrets, SetOptions, now_ms};

const DAY_MS: u64 = 24 * 60 * 60 * 1000;
/// How long a refresh claim holds if its owner never releases it (a crashed execution).
const CLAIM_TTL_MS: u64 = 10_000;

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
        }
    }
}

impl std::error::Error for TokenError {}

/// A valid token with what the helper learned checking it, so callers need not decode it again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    /// The access token.
    pub value: String,
    /// Its `exp`, in milliseconds since the Unix epoch.
    pub expires_at_ms: u64,
    /// Where it came from.
    pub source: TokenSource,
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
/// `domain`: `https://{domain}/api/v2/`); optionally `token_timeout_ms`.
#[derive(Debug, Clone)]
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
    key: String,
    claim_key: String,
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
            helper.timeout = Duration::from_millis(ms);
        }
        Ok(helper)
    }

    /// The audience tokens are requested for (with Auth0, the management API's base URL).
    pub fn audience(&self) -> &str {
        &self.audience
    }

    /// How long a token request may take (default 5 s; secret `token_timeout_ms`).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
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
            wait: Duration::from_secs(3),
            poll: Duration::from_millis(10),
            verify: None,
            timeout: Duration::from_secs(5),
            key: format!("cachet:mgmt-token:{id}"),
            claim_key: format!("cachet:mgmt-token:{id}:refresh"),
        }
    }

    /// Treat a token as expired this long before its `exp` (default 30 s).
    pub fn leeway(mut self, leeway: Duration) -> Self {
        self.leeway_ms = u64::try_from(leeway.as_millis()).unwrap_or(u64::MAX);
        self
    }

    /// How long to wait for another execution's refresh before fetching (default 3 s).
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
            match self.usable(&hit.value, now_ms()) {
                Ok(expires_at_ms) => {
                    return Ok(Token {
                        value: hit.value,
                        expires_at_ms,
                        source: TokenSource::Cache,
                    });
                }
                Err(why) => {
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
        // Drop it unless another execution has already replaced it.
        if cache.get(&self.key).is_some_and(|r| r.value == token) {
            let _ = cache.delete(&self.key);
        }
        let fresh = self.get(cache)?;
        send(&fresh).map_err(TokenError::Api)
    }

    fn refresh(&self, cache: &Cache) -> Result<Token, TokenError> {
        match cache.set(
            &self.claim_key,
            "refreshing",
            SetOptions::ttl(CLAIM_TTL_MS).if_absent(),
        ) {
            Ok(_) => {
                let fetched = self.fetch_and_store(cache);
                let _ = cache.delete(&self.claim_key);
                fetched
            }
            Err(CacheError::CacheKeyExists) => {
                // Another execution is refreshing: wait for its token, within bounds.
                let until = Instant::now() + self.wait;
                while Instant::now() < until {
                    std::thread::sleep(self.poll);
                    if let Some(hit) = cache.get(&self.key)
                        && let Ok(expires_at_ms) = self.usable(&hit.value, now_ms())
                    {
                        return Ok(Token {
                            value: hit.value,
                            expires_at_ms,
                            source: TokenSource::Waited,
                        });
                    }
                    if cache.get(&self.claim_key).is_none() {
                        break; // the refresher finished without a token, or gave up
                    }
                }
                self.fetch_and_store(cache)
            }
            // The cache cannot take the claim (write budget, store down): still get a token.
            Err(_) => self.fetch_and_store(cache),
        }
    }

    fn fetch_and_store(&self, cache: &Cache) -> Result<Token, TokenError> {
        let (value, expires_at_ms) = self.fetch()?;
        let ttl = expires_at_ms
            .saturating_sub(self.leeway_ms)
            .saturating_sub(now_ms())
            .min(DAY_MS);
        if ttl > 0
            && let Err(e) = cache.set(&self.key, &value, SetOptions::ttl(ttl))
        {
            eprintln!("cachet-guest: management token not cached ({})", e.code());
        }
        Ok(Token {
            value,
            expires_at_ms,
            source: TokenSource::Fetched,
        })
    }

    /// RFC 6749 §4.4: the client-credentials grant.
    fn fetch(&self) -> Result<(String, u64), TokenError> {
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
        let exp_ms = self
            .usable(token, now_ms())
            .map_err(TokenError::BadTokenResponse)?;
        Ok((token.to_string(), exp_ms))
    }

    /// Whether a token may be used now: decodes (or verifies), checks `exp` against now +
    /// leeway and the audience. Returns its expiry in ms.
    fn usable(&self, token: &str, now: u64) -> Result<u64, String> {
        let claims = match &self.verify {
            Some(options) => jwt::verify(token, options).map_err(|e| e.to_string())?,
            None => jwt::decode(token).map_err(|e| e.to_string())?.claims,
        };
        let exp_ms = claims["exp"]
            .as_u64()
            .ok_or("no exp claim")?
            .saturating_mul(1000);
        if exp_ms <= now.saturating_add(self.leeway_ms) {
            return Err("expires within the leeway".into());
        }
        let aud_ok = match &claims["aud"] {
            Value::String(a) => *a == self.audience,
            Value::Array(list) => list.iter().any(|a| a.as_str() == Some(&self.audience)),
            _ => false,
        };
        if !aud_ok {
            return Err("issued for another audience".into());
        }
        Ok(exp_ms)
    }
}
