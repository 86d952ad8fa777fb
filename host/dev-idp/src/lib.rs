//! A local OAuth 2 authorization server for development, tests and the demo.
//!
//! It issues client-credentials access tokens as RS256 JWTs (RFC 6749 §4.4), publishes its key
//! as a JWKS, protects a management endpoint `GET /api/v2/users/{id}` with those tokens, revokes
//! tokens, and counts every request in `GET /stats` — the counts are how tests and the demo
//! prove how many tokens were minted. It listens on loopback only.
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use cachet_dev_idp::{DevIdp, DevIdpConfig};
//! let idp = DevIdp::start(DevIdpConfig::default()).await?; // 127.0.0.1, a free port
//! println!("token endpoint: {}", idp.token_url());
//! assert_eq!(idp.stats().token_requests, 0);
//! # Ok(()) }
//! ```
//!
//! Time comes from a [`Clock`], so a test that moves a [`ManualClock`](cachet_runtime::ManualClock)
//! moves token expiry for the IdP and the runtime alike.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use rsa::RsaPrivateKey;
use rsa::pkcs8::{EncodePrivateKey, LineEnding};
use rsa::traits::PublicKeyParts;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use cachet_runtime::{Clock, SystemClock};

/// How the token endpoint behaves: normally, or one of the failures a client must survive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TokenMode {
    /// Issue tokens.
    #[default]
    Normal,
    /// Answer 200 with a body that is not a token response.
    Garbage,
    /// Answer with this HTTP status (e.g. 503) and an OAuth error body.
    Status(u16),
    /// Wait this long before answering normally.
    Slow(Duration),
}

/// What the token endpoint issues: Auth0-style JWTs, or what other OAuth 2 servers issue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TokenFormat {
    /// RS256 JWTs with `aud` set to the management API (Auth0's shape).
    #[default]
    Jwt,
    /// RS256 JWTs without an `aud` claim, ignoring the `audience` parameter (servers that do
    /// not implement Auth0's extension).
    JwtWithoutAudience,
    /// Opaque random strings; only `expires_in` says how long they live (RFC 6749 §5.1).
    Opaque,
    /// RS256 JWTs padded with a claim to about 6 KB: larger than a cache value may be.
    LargeJwt,
}

/// Settings of a [`DevIdp`].
#[derive(Clone)]
pub struct DevIdpConfig {
    /// Where to listen; must be a loopback address. Port 0 picks a free port.
    pub listen: SocketAddr,
    /// Lifetime of issued tokens.
    pub token_ttl: Duration,
    /// The one registered client.
    pub client_id: String,
    /// Its secret.
    pub client_secret: String,
    /// The clock for `iat`/`exp` and for checking tokens at the management endpoint.
    pub clock: Arc<dyn Clock>,
}

impl Default for DevIdpConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            token_ttl: Duration::from_secs(24 * 60 * 60),
            client_id: "cachet-dev-client".into(),
            client_secret: "cachet-dev-secret".into(),
            clock: Arc::new(SystemClock),
        }
    }
}

/// Request counts since start.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdpStats {
    /// Requests the token endpoint received (successful or not).
    pub token_requests: u64,
    /// Tokens issued.
    pub tokens_issued: u64,
    /// Requests for the JWKS.
    pub jwks_requests: u64,
    /// Requests to the management endpoint.
    pub management_requests: u64,
    /// Management requests refused with 401 (missing, invalid, expired or revoked token).
    pub management_unauthorized: u64,
    /// Tokens revoked.
    pub revocations: u64,
}

#[derive(Default)]
struct Counters {
    token_requests: AtomicU64,
    tokens_issued: AtomicU64,
    jwks_requests: AtomicU64,
    management_requests: AtomicU64,
    management_unauthorized: AtomicU64,
    revocations: AtomicU64,
}

struct Idp {
    config: DevIdpConfig,
    issuer: String,
    audience: String,
    kid: String,
    encoding: EncodingKey,
    decoding: DecodingKey,
    jwks: Value,
    next_jti: AtomicU64,
    /// Every token with a jti below this is revoked ("revoke all").
    revoked_below: AtomicU64,
    revoked: Mutex<HashSet<u64>>,
    mode: Mutex<TokenMode>,
    format: Mutex<TokenFormat>,
    /// Opaque tokens issued: token -> (jti, exp in seconds).
    opaque: Mutex<std::collections::HashMap<String, (u64, u64)>>,
    /// Answer every management request with 401, whatever the token.
    management_refuses: std::sync::atomic::AtomicBool,
    /// Answer JWKS requests with 503.
    jwks_down: std::sync::atomic::AtomicBool,
    counts: Counters,
}

/// A running dev IdP. Stops when dropped.
pub struct DevIdp {
    addr: SocketAddr,
    idp: Arc<Idp>,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for DevIdp {
    fn drop(&mut self) {
        self.server.abort();
    }
}

/// One RSA key per process: generating 2048-bit keys is slow, and dev tokens need no more.
fn signing_key() -> &'static RsaPrivateKey {
    static KEY: OnceLock<RsaPrivateKey> = OnceLock::new();
    KEY.get_or_init(|| {
        RsaPrivateKey::new(&mut rand::thread_rng(), 2048).expect("RSA key generation")
    })
}

impl DevIdp {
    /// Starts the server on the configured loopback address.
    pub async fn start(config: DevIdpConfig) -> std::io::Result<Self> {
        if !config.listen.ip().is_loopback() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!(
                    "the dev IdP listens on loopback only; {} is not",
                    config.listen
                ),
            ));
        }
        // A deep accept queue: a burst of logins opens hundreds of connections at once, and a
        // dropped SYN costs the client a one-second retransmit.
        let socket = if config.listen.is_ipv4() {
            tokio::net::TcpSocket::new_v4()?
        } else {
            tokio::net::TcpSocket::new_v6()?
        };
        socket.set_reuseaddr(true)?;
        socket.bind(config.listen)?;
        let listener = socket.listen(4096)?;
        let addr = listener.local_addr()?;
        let key = signing_key();
        let pem = key
            .to_pkcs8_pem(LineEnding::LF)
            .map_err(|e| std::io::Error::other(e.to_string()))?;
        let encoding = EncodingKey::from_rsa_pem(pem.as_bytes()).map_err(std::io::Error::other)?;
        let public = key.to_public_key();
        let n = URL_SAFE_NO_PAD.encode(public.n().to_bytes_be());
        let e = URL_SAFE_NO_PAD.encode(public.e().to_bytes_be());
        let decoding = DecodingKey::from_rsa_components(&n, &e).map_err(std::io::Error::other)?;
        let kid = format!("cachet-dev-{}", &n[..12]);
        let jwks = json!({ "keys": [{ "kty": "RSA", "use": "sig", "alg": "RS256", "kid": kid, "n": n, "e": e }] });
        let idp = Arc::new(Idp {
            issuer: format!("http://{addr}/"),
            audience: format!("http://{addr}/api/v2/"),
            config,
            kid,
            encoding,
            decoding,
            jwks,
            next_jti: AtomicU64::new(1),
            revoked_below: AtomicU64::new(0),
            revoked: Mutex::default(),
            mode: Mutex::default(),
            format: Mutex::default(),
            opaque: Mutex::default(),
            management_refuses: std::sync::atomic::AtomicBool::new(false),
            jwks_down: std::sync::atomic::AtomicBool::new(false),
            counts: Counters::default(),
        });
        let app = Router::new()
            .route("/oauth/token", post(token))
            .route("/oauth/revoke", post(revoke))
            .route("/.well-known/jwks.json", get(jwks_handler))
            .route("/api/v2/users/{id}", get(user))
            .route("/stats", get(stats))
            .with_state(Arc::clone(&idp));
        let server = tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, app).await {
                tracing::error!(error = %e, "dev IdP stopped");
            }
        });
        Ok(Self { addr, idp, server })
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The configuration of an action that gets Management-API tokens from this server with
    /// the SDK's `ManagementToken`: secrets `token_url`, `client_id`, `client_secret`,
    /// `audience`, and this server on its allow-list.
    pub fn action_config(&self) -> cachet_runtime::ActionConfig {
        cachet_runtime::ActionConfig::default()
            .secret("token_url", self.token_url())
            .secret("client_id", self.client_id())
            .secret("client_secret", self.client_secret())
            .secret("audience", self.audience())
            .allow_host(self.host_port())
            .plain_http_host(self.host_port())
    }

    /// `host:port`, as an action's allow-list entry.
    pub fn host_port(&self) -> String {
        self.addr.to_string()
    }

    /// The token endpoint.
    pub fn token_url(&self) -> String {
        format!("http://{}/oauth/token", self.addr)
    }

    /// The JWKS URL.
    pub fn jwks_url(&self) -> String {
        format!("http://{}/.well-known/jwks.json", self.addr)
    }

    /// The issuer (`iss`) of its tokens.
    pub fn issuer(&self) -> &str {
        &self.idp.issuer
    }

    /// The management API's audience, which is also its base URL.
    pub fn audience(&self) -> &str {
        &self.idp.audience
    }

    /// The registered client id.
    pub fn client_id(&self) -> &str {
        &self.idp.config.client_id
    }

    /// The registered client secret.
    pub fn client_secret(&self) -> &str {
        &self.idp.config.client_secret
    }

    /// Request counts so far.
    pub fn stats(&self) -> IdpStats {
        self.idp.stats()
    }

    /// Revokes every token issued so far.
    pub fn revoke_all(&self) {
        let next = self.idp.next_jti.load(Ordering::SeqCst);
        let before = self.idp.revoked_below.swap(next, Ordering::SeqCst);
        self.idp
            .counts
            .revocations
            .fetch_add(next.saturating_sub(before), Ordering::SeqCst);
    }

    /// Changes how the token endpoint answers.
    pub fn set_mode(&self, mode: TokenMode) {
        *self.idp.mode.lock().unwrap_or_else(PoisonError::into_inner) = mode;
    }

    /// Changes what the token endpoint issues.
    pub fn set_token_format(&self, format: TokenFormat) {
        *self
            .idp
            .format
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = format;
    }

    /// Makes the management endpoint answer 401 to every request (`true`), or check tokens
    /// again (`false`): an API that keeps refusing whatever token it gets.
    pub fn set_management_refuses(&self, refuse: bool) {
        self.idp.management_refuses.store(refuse, Ordering::SeqCst);
    }

    /// Makes the JWKS endpoint answer 503 (`true`), or serve the keys again (`false`).
    pub fn set_jwks_down(&self, down: bool) {
        self.idp.jwks_down.store(down, Ordering::SeqCst);
    }

    /// Issues a token for the registered client directly (not counted as a token request),
    /// in the current [`TokenFormat`]: for tests that need a token the IdP signed.
    pub fn issue_token(&self) -> String {
        self.idp
            .issue(&self.idp.config.client_id, "read:users")
            .map(|(token, _)| token)
            .unwrap_or_default()
    }
}

impl Idp {
    fn stats(&self) -> IdpStats {
        let c = &self.counts;
        let get = |a: &AtomicU64| a.load(Ordering::SeqCst);
        IdpStats {
            token_requests: get(&c.token_requests),
            tokens_issued: get(&c.tokens_issued),
            jwks_requests: get(&c.jwks_requests),
            management_requests: get(&c.management_requests),
            management_unauthorized: get(&c.management_unauthorized),
            revocations: get(&c.revocations),
        }
    }

    fn is_revoked(&self, jti: u64) -> bool {
        jti < self.revoked_below.load(Ordering::SeqCst)
            || self
                .revoked
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .contains(&jti)
    }

    /// The jti of a token this IdP issued that is valid now, or why not.
    fn check(&self, token: &str) -> Result<u64, &'static str> {
        let now_s = self.config.clock.now_ms() / 1000;
        let opaque = self
            .opaque
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(token)
            .copied();
        if let Some((jti, exp)) = opaque {
            if exp <= now_s {
                return Err("token expired");
            }
            if self.is_revoked(jti) {
                return Err("token revoked");
            }
            return Ok(jti);
        }
        let mut validation = Validation::new(Algorithm::RS256);
        // Tokens issued without `aud` are accepted too (TokenFormat::JwtWithoutAudience).
        validation.validate_aud = false;
        validation.set_issuer(&[&self.issuer]);
        // Time is checked against the IdP's clock below, not the system's.
        validation.validate_exp = false;
        let claims = jsonwebtoken::decode::<Value>(token, &self.decoding, &validation)
            .map_err(|_| "invalid token")?
            .claims;
        if claims
            .get("aud")
            .is_some_and(|aud| aud != &json!(self.audience))
        {
            return Err("invalid token");
        }
        if claims["exp"].as_u64().is_none_or(|exp| exp <= now_s) {
            return Err("token expired");
        }
        let jti = claims["jti"]
            .as_str()
            .and_then(|j| j.parse().ok())
            .ok_or("invalid token")?;
        if self.is_revoked(jti) {
            return Err("token revoked");
        }
        Ok(jti)
    }
}

fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
    (
        status,
        axum::Json(json!({ "error": error, "error_description": description })),
    )
        .into_response()
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct TokenRequest {
    grant_type: String,
    client_id: String,
    client_secret: String,
    audience: Option<String>,
    scope: Option<String>,
}

/// Parses a form or JSON body, as Auth0's token endpoint accepts both.
fn parse_body<T: for<'de> Deserialize<'de> + Default>(
    headers: &HeaderMap,
    body: &Bytes,
) -> Option<T> {
    let json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if json {
        serde_json::from_slice(body).ok()
    } else {
        serde_urlencoded::from_bytes(body).ok()
    }
}

async fn token(State(idp): State<Arc<Idp>>, headers: HeaderMap, body: Bytes) -> Response {
    idp.counts.token_requests.fetch_add(1, Ordering::SeqCst);
    let mode = *idp.mode.lock().unwrap_or_else(PoisonError::into_inner);
    match mode {
        TokenMode::Normal => {}
        TokenMode::Garbage => return (StatusCode::OK, "<html>surprise</html>").into_response(),
        TokenMode::Status(code) => {
            let status = StatusCode::from_u16(code).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
            return oauth_error(
                status,
                "temporarily_unavailable",
                "the dev IdP was told to fail",
            );
        }
        TokenMode::Slow(delay) => tokio::time::sleep(delay).await,
    }
    let Some(req) = parse_body::<TokenRequest>(&headers, &body) else {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "body is neither form nor JSON",
        );
    };
    if req.grant_type != "client_credentials" {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "only client_credentials",
        );
    }
    if req.client_id != idp.config.client_id || req.client_secret != idp.config.client_secret {
        return oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "unknown client or wrong secret",
        );
    }
    let format = *idp.format.lock().unwrap_or_else(PoisonError::into_inner);
    let checks_audience = matches!(format, TokenFormat::Jwt | TokenFormat::LargeJwt);
    // Its audience with either scheme: a client library given the server's address as a
    // tenant domain (node-auth0) writes `https://ADDR/api/v2/`.
    let ours = |a: &str| {
        a == idp.audience || a.strip_prefix("https://") == idp.audience.strip_prefix("http://")
    };
    if checks_audience && req.audience.as_deref().is_some_and(|a| !ours(a)) {
        return oauth_error(StatusCode::FORBIDDEN, "access_denied", "unknown audience");
    }
    let scope = req.scope.unwrap_or_else(|| "read:users".into());
    match idp.issue(&req.client_id, &scope) {
        Ok((access_token, ttl)) => {
            idp.counts.tokens_issued.fetch_add(1, Ordering::SeqCst);
            axum::Json(json!({
                "access_token": access_token,
                "token_type": "Bearer",
                "expires_in": ttl,
                "scope": scope,
            }))
            .into_response()
        }
        Err(e) => oauth_error(StatusCode::INTERNAL_SERVER_ERROR, "server_error", &e),
    }
}

impl Idp {
    /// A new access token in the current format, and its lifetime in seconds.
    fn issue(&self, client_id: &str, scope: &str) -> Result<(String, u64), String> {
        let now_s = self.config.clock.now_ms() / 1000;
        let ttl = self.config.token_ttl.as_secs();
        let jti = self.next_jti.fetch_add(1, Ordering::SeqCst);
        let format = *self.format.lock().unwrap_or_else(PoisonError::into_inner);
        if format == TokenFormat::Opaque {
            let mut bytes = [0u8; 24];
            rand::RngCore::fill_bytes(&mut rand::thread_rng(), &mut bytes);
            let token = URL_SAFE_NO_PAD.encode(bytes);
            self.opaque
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .insert(token.clone(), (jti, now_s + ttl));
            return Ok((token, ttl));
        }
        let mut claims = json!({
            "iss": self.issuer,
            "sub": format!("{client_id}@clients"),
            "aud": self.audience,
            "iat": now_s,
            "exp": now_s + ttl,
            "jti": jti.to_string(),
            "scope": scope,
            "gty": "client-credentials",
        });
        if let Some(map) = claims.as_object_mut() {
            match format {
                TokenFormat::JwtWithoutAudience => {
                    map.remove("aud");
                }
                TokenFormat::LargeJwt => {
                    map.insert("padding".into(), json!("p".repeat(4_500)));
                }
                TokenFormat::Jwt | TokenFormat::Opaque => {}
            }
        }
        let mut header = Header::new(Algorithm::RS256);
        header.kid = Some(self.kid.clone());
        jsonwebtoken::encode(&header, &claims, &self.encoding)
            .map(|token| (token, ttl))
            .map_err(|e| e.to_string())
    }
}

async fn jwks_handler(State(idp): State<Arc<Idp>>) -> Response {
    idp.counts.jwks_requests.fetch_add(1, Ordering::SeqCst);
    if idp.jwks_down.load(Ordering::SeqCst) {
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    }
    axum::Json(idp.jwks.clone()).into_response()
}

async fn user(State(idp): State<Arc<Idp>>, Path(id): Path<String>, headers: HeaderMap) -> Response {
    let n = idp
        .counts
        .management_requests
        .fetch_add(1, Ordering::SeqCst)
        + 1;
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    let verdict = if idp.management_refuses.load(Ordering::SeqCst) {
        Err("the dev IdP was told to refuse every token")
    } else {
        bearer
            .ok_or("missing bearer token")
            .and_then(|t| idp.check(t))
    };
    if let Err(why) = verdict {
        idp.counts
            .management_unauthorized
            .fetch_add(1, Ordering::SeqCst);
        // Shaped as Auth0's Management API answers (`statusCode`, `error`, `message`), which
        // client libraries such as node-auth0 read their error message from.
        let mut response = (
            StatusCode::UNAUTHORIZED,
            axum::Json(json!({
                "statusCode": 401,
                "error": "Unauthorized",
                "message": why,
                "errorCode": "invalid_token",
            })),
        )
            .into_response();
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            header::HeaderValue::from_static("Bearer error=\"invalid_token\""),
        );
        return response;
    }
    let local = id.split('|').next_back().unwrap_or(&id).to_string();
    axum::Json(json!({
        "user_id": id,
        "email": format!("{local}@example.com"),
        "email_verified": true,
        "logins_count": n,
        "app_metadata": { "plan": "pro" },
    }))
    .into_response()
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct RevokeRequest {
    token: String,
}

/// RFC 7009: revokes a token this IdP issued; always 200, as the RFC asks.
async fn revoke(State(idp): State<Arc<Idp>>, headers: HeaderMap, body: Bytes) -> Response {
    let req = parse_body::<RevokeRequest>(&headers, &body).unwrap_or_default();
    let mut validation = Validation::new(Algorithm::RS256);
    validation.validate_exp = false;
    validation.validate_aud = false;
    let jti = jsonwebtoken::decode::<Value>(&req.token, &idp.decoding, &validation)
        .ok()
        .and_then(|data| {
            data.claims["jti"]
                .as_str()
                .and_then(|j| j.parse::<u64>().ok())
        });
    if let Some(jti) = jti
        && idp
            .revoked
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(jti)
    {
        idp.counts.revocations.fetch_add(1, Ordering::SeqCst);
    }
    StatusCode::OK.into_response()
}

async fn stats(State(idp): State<Arc<Idp>>) -> Response {
    axum::Json(idp.stats()).into_response()
}
