//! Bearer-token auth: the accepted [`Tokens`] (read from the variables `[auth]` names, kept as
//! digests), each a [`Grant`] of roles on tenants, and the middleware that checks them on every
//! authenticated route, before its handler runs.
//!
//! A route needs one [`Role`] and, under `/v1/tenants/{tenant}/`, the tenant: [`required`]
//! maps every route to both, in one table, so no handler can forget the check. A token scoped
//! to one tenant gets 403 on another tenant's routes; routes that list (flows, the console's
//! overview, metrics) show it only its tenants. Without `[auth]` the service listens on
//! loopback only (the config refuses anything else), and every route is open. Tokens never
//! appear in logs, errors or `Debug` output: a token is named by its `name` only.

use std::fmt;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::Response;
use serde::Serialize;
use sha2::{Digest, Sha256};
use thiserror::Error;

use crate::Server;
use crate::http::error;

/// The fewest characters a bearer token may have: shorter ones can be guessed.
pub const MIN_TOKEN_CHARS: usize = 16;

/// What a token may do. `admin` includes every other role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Run flows: execute, continue, the console's test runner.
    Execute,
    /// Read partitions, flows, versions, bindings, the console and metrics.
    Read,
    /// Upload and deploy actions, set bindings.
    Deploy,
    /// Everything, and purge, delete entries, reload.
    Admin,
}

impl Role {
    /// Every role, in the order the config accepts them.
    pub const ALL: [Role; 4] = [Role::Execute, Role::Read, Role::Deploy, Role::Admin];

    /// The name the config and errors use.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Execute => "execute",
            Role::Read => "read",
            Role::Deploy => "deploy",
            Role::Admin => "admin",
        }
    }
}

impl std::str::FromStr for Role {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| format!("unknown role `{s}`; roles are execute, read, deploy and admin"))
    }
}

/// What one token may do: its roles, on which tenants. Known by its name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    /// The token's name (logs say who did what by this, never by the token).
    pub name: String,
    /// Its roles.
    pub roles: Vec<Role>,
    /// The tenants it may touch, or `None` for every tenant (`*`).
    pub tenants: Option<Vec<String>>,
}

impl Grant {
    /// Every role on every tenant (a service without `[auth]`, on loopback).
    pub fn open() -> Self {
        Self {
            name: "loopback (no [auth])".to_owned(),
            roles: vec![Role::Admin],
            tenants: None,
        }
    }

    /// Whether the token has `role` (`admin` has them all).
    pub fn has(&self, role: Role) -> bool {
        self.roles.iter().any(|&r| r == role || r == Role::Admin)
    }

    /// Whether the token may touch `tenant`.
    pub fn allows(&self, tenant: &str) -> bool {
        self.tenants
            .as_ref()
            .is_none_or(|list| list.iter().any(|t| t == tenant))
    }

    /// Whether the token may touch every tenant.
    pub fn all_tenants(&self) -> bool {
        self.tenants.is_none()
    }
}

/// The accepted bearer tokens, kept only as SHA-256 digests (so comparing one costs the same
/// whatever it shares with a valid token), each with its [`Grant`].
#[derive(Clone)]
pub struct Tokens {
    entries: Vec<([u8; 32], Arc<Grant>)>,
    /// The variables they came from, for messages.
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
        let names: Vec<&str> = self.entries.iter().map(|(_, g)| g.name.as_str()).collect();
        write!(f, "Tokens({names:?} from ${})", self.env)
    }
}

impl Tokens {
    /// Tokens from a list, each with every role on every tenant, named `VAR#1`, `VAR#2`, …
    /// (tests and embedders; the service reads them from the environment).
    pub fn new(env: impl Into<String>, tokens: &[&str]) -> Self {
        let env = env.into();
        let mut all = Self::empty(&env);
        for (i, t) in tokens.iter().enumerate() {
            all.add(
                t,
                Grant {
                    name: format!("{env}#{}", i + 1),
                    roles: vec![Role::Admin],
                    tenants: None,
                },
            );
        }
        all
    }

    /// No token yet (see [`Tokens::add`]).
    pub fn empty(env: impl Into<String>) -> Self {
        Self {
            entries: Vec::new(),
            env: env.into(),
        }
    }

    /// Accepts `token` with `grant`.
    pub fn add(&mut self, token: &str, grant: Grant) {
        self.entries
            .push((Sha256::digest(token.as_bytes()).into(), Arc::new(grant)));
    }

    /// Every token's grant, in the order they were added.
    pub fn grants(&self) -> impl Iterator<Item = &Grant> {
        self.entries.iter().map(|(_, g)| g.as_ref())
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
        Ok(Self::new(var, &Self::split(var, value)?))
    }

    /// Accepts each of the comma-separated tokens `value` of `var` holds (checked as
    /// [`Tokens::parse`] does) with `grant`: several tokens under one name let a token be
    /// rotated without a moment when neither works.
    pub fn add_from(&mut self, var: &str, value: &str, grant: Grant) -> Result<(), TokensError> {
        for token in Self::split(var, value)? {
            self.add(token, grant.clone());
        }
        Ok(())
    }

    /// The tokens of a variable's value, each long and printable.
    fn split<'v>(var: &str, value: &'v str) -> Result<Vec<&'v str>, TokensError> {
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
        Ok(tokens)
    }

    /// Whether `presented` is one of the tokens (see [`Tokens::identify`]).
    pub fn accepts(&self, presented: &str) -> bool {
        self.identify(presented).is_some()
    }

    /// The grant of `presented`, if it is one of the tokens, in time independent of its
    /// content: every token is compared, each in constant time.
    pub fn identify(&self, presented: &str) -> Option<Arc<Grant>> {
        use subtle::ConstantTimeEq as _;
        let digest: [u8; 32] = Sha256::digest(presented.as_bytes()).into();
        let mut found = None;
        for (known, grant) in &self.entries {
            if bool::from(known.ct_eq(&digest)) && found.is_none() {
                found = Some(Arc::clone(grant));
            }
        }
        found
    }
}

/// What a route needs: a role, and the tenant its path names (if any). Every route is listed
/// here, by method and path shape; anything unlisted needs `admin` on every tenant.
pub(crate) fn required<'p>(method: &Method, path: &'p str) -> (Role, Access<'p>) {
    // Every route has at most 7 segments; split without allocating (this runs per request).
    let mut parts = [""; 8];
    let mut count = 0;
    for segment in path.trim_start_matches('/').split('/') {
        let Some(slot) = parts.get_mut(count) else {
            return (Role::Admin, Access::Everything);
        };
        *slot = segment;
        count += 1;
    }
    let get = method == Method::GET || method == Method::HEAD;
    match &parts[..count] {
        ["v1", "tenants", tenant, rest @ ..] => {
            let role = match (rest, method.as_str()) {
                (["triggers", _, "execute" | "continue" | "test"], "POST") => Role::Execute,
                (["triggers", _, "cache"], _) if get => Role::Read,
                (["triggers", _, "bindings"], _) if get => Role::Read,
                (["triggers", _, "bindings"], "PUT") => Role::Deploy,
                (["actions"] | ["actions", _, "versions"], _) if get => Role::Read,
                (["actions", _], "PUT") => Role::Deploy,
                (["actions", _, "deploy"], "POST") => Role::Deploy,
                _ => Role::Admin,
            };
            (role, Access::Tenant(tenant))
        }
        ["v1", "flows"] | ["v1", "console", "overview"] | ["metrics"] if get => {
            (Role::Read, Access::Listed)
        }
        _ => (Role::Admin, Access::Everything),
    }
}

/// Which tenants a route touches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Access<'p> {
    /// The one its path names.
    Tenant(&'p str),
    /// Those the token may see (the answer is filtered).
    Listed,
    /// Every tenant (reload): the token must be scoped to `*`.
    Everything,
}

/// The middleware on every authenticated route: with `[auth]`, a request without one of the
/// tokens is answered 401 with `WWW-Authenticate`, and one whose token lacks the route's role
/// or tenant 403, before its handler runs or its body is read. The handler finds the
/// [`Grant`] in the request's extensions.
pub(crate) async fn require_token(
    State(server): State<Server>,
    mut request: Request,
    next: Next,
) -> Response {
    let config = server.config();
    let grant = match &config.auth {
        None => Arc::new(Grant::open()),
        Some(tokens) => {
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
            match presented.and_then(|t| tokens.identify(t)) {
                Some(grant) => grant,
                None => {
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
        }
    };
    let (role, access) = required(request.method(), request.uri().path());
    let refusal = if !grant.has(role) {
        Some(format!(
            "the token `{}` does not have the `{}` role this route needs",
            grant.name,
            role.as_str()
        ))
    } else {
        match access {
            Access::Tenant(tenant) if !grant.allows(tenant) => Some(format!(
                "the token `{}` may not touch tenant `{tenant}`",
                grant.name
            )),
            Access::Everything if !grant.all_tenants() => Some(format!(
                "the token `{}` is scoped to some tenants; this route needs one scoped to `*`",
                grant.name
            )),
            _ => None,
        }
    };
    if let Some(message) = refusal {
        if request.uri().path().ends_with("/execute") {
            server.metrics().rejected("forbidden");
        }
        return error(StatusCode::FORBIDDEN, "forbidden", message);
    }
    request.extensions_mut().insert(grant);
    next.run(request).await
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn every_route_names_its_role_and_tenant() {
        let post = Method::POST;
        let get = Method::GET;
        let t = "/v1/tenants/acme/triggers/post-login";
        for (method, path, role, access) in [
            (
                &post,
                format!("{t}/execute"),
                Role::Execute,
                Access::Tenant("acme"),
            ),
            (
                &post,
                format!("{t}/continue"),
                Role::Execute,
                Access::Tenant("acme"),
            ),
            (
                &post,
                format!("{t}/test"),
                Role::Execute,
                Access::Tenant("acme"),
            ),
            (
                &get,
                format!("{t}/cache"),
                Role::Read,
                Access::Tenant("acme"),
            ),
            (
                &Method::DELETE,
                format!("{t}/cache"),
                Role::Admin,
                Access::Tenant("acme"),
            ),
            (
                &Method::DELETE,
                format!("{t}/cache/k"),
                Role::Admin,
                Access::Tenant("acme"),
            ),
            (
                &Method::PUT,
                format!("{t}/bindings"),
                Role::Deploy,
                Access::Tenant("acme"),
            ),
            (
                &get,
                format!("{t}/bindings"),
                Role::Read,
                Access::Tenant("acme"),
            ),
            (
                &Method::PUT,
                "/v1/tenants/acme/actions/a".into(),
                Role::Deploy,
                Access::Tenant("acme"),
            ),
            (
                &post,
                "/v1/tenants/acme/actions/a/deploy".into(),
                Role::Deploy,
                Access::Tenant("acme"),
            ),
            (
                &get,
                "/v1/tenants/acme/actions/a/versions".into(),
                Role::Read,
                Access::Tenant("acme"),
            ),
            (&get, "/v1/flows".into(), Role::Read, Access::Listed),
            (&get, "/metrics".into(), Role::Read, Access::Listed),
            (
                &get,
                "/v1/console/overview".into(),
                Role::Read,
                Access::Listed,
            ),
            (
                &post,
                "/v1/admin/reload".into(),
                Role::Admin,
                Access::Everything,
            ),
            (
                &post,
                "/v1/anything-new".into(),
                Role::Admin,
                Access::Everything,
            ),
        ] {
            assert_eq!(required(method, &path), (role, access), "{method} {path}");
        }
    }

    #[test]
    fn a_scoped_token_is_known_by_its_name_and_admin_has_every_role() {
        let mut tokens = Tokens::empty("test");
        tokens.add(
            "0123456789abcdef-ci",
            Grant {
                name: "acme-ci".into(),
                roles: vec![Role::Deploy],
                tenants: Some(vec!["acme".into()]),
            },
        );
        let grant = tokens.identify("0123456789abcdef-ci").unwrap();
        assert!(grant.has(Role::Deploy) && !grant.has(Role::Execute));
        assert!(grant.allows("acme") && !grant.allows("globex") && !grant.all_tenants());
        assert!(tokens.identify("0123456789abcdef-cj").is_none());
        assert!(Grant::open().has(Role::Read) && Grant::open().allows("any"));
        let shown = format!("{tokens:?}");
        assert!(
            shown.contains("acme-ci") && !shown.contains("0123"),
            "{shown}"
        );
    }
}
