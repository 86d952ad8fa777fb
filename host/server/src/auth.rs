//! Bearer-token auth: the accepted [`Tokens`] (read from the variable `[auth] tokens_env`
//! names, kept as digests) and the middleware that checks them on every authenticated route.
//!
//! Without `[auth]` the service listens on loopback only (the config refuses anything else),
//! and every route is open. Tokens never appear in logs, errors or `Debug` output.

use std::fmt;

use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::Response;
use sha2::{Digest, Sha256};
use thiserror::Error;

use crate::Server;
use crate::http::error;

/// The fewest characters a bearer token may have: shorter ones can be guessed.
pub const MIN_TOKEN_CHARS: usize = 16;

/// The accepted bearer tokens, kept only as SHA-256 digests so that comparing one costs the
/// same whatever it shares with a valid token.
#[derive(Clone)]
pub struct Tokens {
    digests: Vec<[u8; 32]>,
    /// The variable they came from, for messages.
    pub env: String,
}

/// Why the tokens variable's value cannot be used. Messages name the variable, never a token.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum TokensError {
    /// The value holds no token at all.
    #[error("${var} holds no token; set it to comma-separated bearer tokens")]
    Empty {
        /// The variable.
        var: String,
    },
    /// A token is too short to be safe.
    #[error(
        "token {position} of ${var} is shorter than {MIN_TOKEN_CHARS} characters; use long \
         random tokens (e.g. `openssl rand -hex 32`)"
    )]
    TooShort {
        /// The variable.
        var: String,
        /// 1-based position of the token in the list.
        position: usize,
    },
    /// A token holds a character an `Authorization` header cannot carry.
    #[error(
        "token {position} of ${var} contains a character an Authorization header cannot \
         carry; use printable ASCII without spaces"
    )]
    Unprintable {
        /// The variable.
        var: String,
        /// 1-based position of the token in the list.
        position: usize,
    },
}

impl fmt::Debug for Tokens {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Tokens({} from ${})", self.digests.len(), self.env)
    }
}

impl Tokens {
    /// Tokens from a list (tests and embedders; the service reads them from the environment).
    pub fn new(env: impl Into<String>, tokens: &[&str]) -> Self {
        Self {
            digests: tokens
                .iter()
                .map(|t| Sha256::digest(t.as_bytes()).into())
                .collect(),
            env: env.into(),
        }
    }

    /// The comma-separated tokens `value` of the variable `var` holds, each at least
    /// [`MIN_TOKEN_CHARS`] printable ASCII characters.
    ///
    /// ```
    /// use cachet_server::{Tokens, TokensError};
    /// let tokens = Tokens::parse("API_TOKENS", " 0123456789abcdef , fedcba9876543210").unwrap();
    /// assert!(tokens.accepts("fedcba9876543210"));
    /// assert_eq!(
    ///     Tokens::parse("API_TOKENS", "0123456789abcdef,short").unwrap_err(),
    ///     TokensError::TooShort { var: "API_TOKENS".into(), position: 2 },
    /// );
    /// ```
    pub fn parse(var: &str, value: &str) -> Result<Self, TokensError> {
        let tokens: Vec<&str> = value
            .split(',')
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .collect();
        if tokens.is_empty() {
            return Err(TokensError::Empty { var: var.into() });
        }
        if let Some(i) = tokens
            .iter()
            .position(|t| t.chars().count() < MIN_TOKEN_CHARS)
        {
            return Err(TokensError::TooShort {
                var: var.into(),
                position: i + 1,
            });
        }
        if let Some(i) = tokens
            .iter()
            .position(|t| !t.bytes().all(|b| b.is_ascii_graphic()))
        {
            return Err(TokensError::Unprintable {
                var: var.into(),
                position: i + 1,
            });
        }
        Ok(Self::new(var, &tokens))
    }

    /// Whether `presented` is one of the tokens, in time independent of its content: every
    /// token is compared, each in constant time.
    pub fn accepts(&self, presented: &str) -> bool {
        use subtle::ConstantTimeEq as _;
        let digest: [u8; 32] = Sha256::digest(presented.as_bytes()).into();
        let mut any = subtle::Choice::from(0);
        for known in &self.digests {
            any |= known.ct_eq(&digest);
        }
        any.into()
    }
}

/// The middleware on every authenticated route: with `[auth]`, a request without one of the
/// tokens is answered 401 with `WWW-Authenticate`, before its handler runs or its body is read.
pub(crate) async fn require_token(
    State(server): State<Server>,
    request: Request,
    next: Next,
) -> Response {
    let config = server.config();
    if let Some(tokens) = &config.auth {
        let presented = request
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| {
                // The scheme name is case-insensitive (RFC 9110 §11.1).
                let (scheme, token) = v.split_once(' ')?;
                scheme.eq_ignore_ascii_case("bearer").then_some(token)
            })
            .map(str::trim);
        let accepted = presented.is_some_and(|t| tokens.accepts(t));
        if !accepted {
            if request.uri().path().ends_with("/execute") {
                server.metrics().rejected("unauthorized");
            }
            let message = if presented.is_some() {
                "the bearer token is not valid"
            } else {
                "send `Authorization: Bearer <token>` with one of the service's API tokens"
            };
            let mut response = error(StatusCode::UNAUTHORIZED, "unauthorized", message);
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"cachet\""),
            );
            return response;
        }
    }
    next.run(request).await
}
