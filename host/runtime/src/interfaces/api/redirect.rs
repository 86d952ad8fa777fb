//! `api.redirect` of post-login (and password-reset-post-challenge, which has the same but
//! `canRedirect`), as Auth0's reference documents it: `sendUserTo` pauses the flow
//! after the action returns and sends the user to a URL with the flow's `state`;
//! `encodeToken` signs data for the page the user is sent to (an HS256 JWT that names the
//! state, so it cannot be replayed on another login); `validateToken`, in
//! `onContinuePostLogin`, checks the token the page sent back; `canRedirect` says whether the
//! login can be redirected at all.
//!
//! The flow's pausing and resuming is the flow's business (`flow.rs`); this file checks the
//! calls and says where the user goes.

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde_json::{Map, Value};

use super::{Call, kind};
use crate::interfaces::commands::{CallRefused, Leg};

/// `encodeToken`'s lifetime when `expiresInSeconds` is left out (Auth0's default).
const DEFAULT_TOKEN_SECONDS: u64 = 900;

/// Longest URL `sendUserTo` accepts, query and state included.
const MAX_URL_BYTES: usize = 8 * 1024;

/// The `typ` header of the tokens `encodeToken` makes. `validateToken` refuses them: a page
/// must answer with a token of its own, or the user could skip the page and send the token it
/// was given straight back.
const OUTGOING_TYP: &str = "cachet-redirect+jwt";

/// Longest session token `validateToken` reads.
const MAX_SESSION_TOKEN_BYTES: usize = 16 * 1024;

/// Protocols of logins that have no browser to redirect (`event.transaction.protocol`): the
/// password and refresh-token grants, token exchange, WS-Trust and delegation.
const NON_INTERACTIVE: &[&str] = &[
    "oauth2-resource-owner",
    "oauth2-resource-owner-jwt-bearer",
    "oauth2-password",
    "oauth2-refresh-token",
    "oauth2-token-exchange",
    "wstrust-usernamemixed",
    "delegation",
];

impl Call<'_> {
    /// The flow leg: every post-login execution has one.
    fn leg(&self) -> Result<std::sync::Arc<Leg>, CallRefused> {
        self.commands
            .leg
            .clone()
            .ok_or_else(|| CallRefused::NotHere {
                message: "this trigger's actions cannot redirect".into(),
            })
    }

    /// Counts the call against the execution's budget without recording a command.
    fn charge(&mut self) -> Result<(), CallRefused> {
        let payload = self.payload;
        self.commands.charge(payload)
    }
}

/// Whether `url`'s host is this machine.
fn is_loopback(url: &url::Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d == "localhost",
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

/// Whether the login can be redirected: it has a browser (its protocol is not a password,
/// refresh-token or token-exchange grant).
fn interactive(leg: &Leg) -> bool {
    leg.event
        .str_at(&["transaction", "protocol"])
        .is_none_or(|p| !NON_INTERACTIVE.contains(&p.as_str()))
}

/// `redirect.canRedirect()`.
pub(crate) fn can_redirect(call: &mut Call<'_>) -> Result<Value, CallRefused> {
    let leg = call.leg()?;
    Ok(Value::Bool(interactive(&leg)))
}

/// `redirect.sendUserTo(url, { query? })`: the user goes to `url` with `query` and the flow's
/// `state` added once the action returns; the flow pauses there. A later call replaces an
/// earlier one.
pub(crate) fn send_user_to(call: &mut Call<'_>) -> Result<Value, CallRefused> {
    let leg = call.leg()?;
    let target = call.string(0, "the URL")?;
    let mut url = match url::Url::parse(&target) {
        Ok(url) if url.scheme() == "https" && url.has_host() => url,
        // The state and tokens travel in the URL: plain http only to this machine.
        Ok(url) if url.scheme() == "http" && is_loopback(&url) => url,
        _ => {
            return Err(call.bad(
                "the URL must be an absolute https URL, like https://consent.example.com/terms \
                 (http only for localhost)",
            ));
        }
    };
    if url.query_pairs().any(|(name, _)| name == "state") {
        return Err(call.bad(
            "the URL must not have a `state` parameter: Cachet adds the flow's state itself",
        ));
    }
    let options = call.options(1, "the options")?;
    let query = match options.get("query") {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(query)) => query.clone(),
        Some(other) => {
            return Err(call.bad(format!(
                "options.query must be an object of parameters, not {}",
                kind(other)
            )));
        }
    };
    {
        let mut pairs = url.query_pairs_mut();
        for (name, value) in &query {
            let text = match value {
                Value::String(s) => s.clone(),
                Value::Number(n) => n.to_string(),
                Value::Bool(b) => b.to_string(),
                other => {
                    return Err(call.bad(format!(
                        "options.query.{name} must be a string, number or boolean, not {}",
                        kind(other)
                    )));
                }
            };
            if name == "state" {
                return Err(call.bad(
                    "options.query must not set `state`: Cachet adds the flow's state itself",
                ));
            }
            pairs.append_pair(name, &text);
        }
        pairs.append_pair("state", leg.state());
    }
    if url.as_str().len() > MAX_URL_BYTES {
        return Err(call.bad(format!(
            "the URL with its query would be {} bytes; at most {MAX_URL_BYTES} are allowed \
             (send an encodeToken token rather than data in the query)",
            url.as_str().len()
        )));
    }
    if !interactive(&leg) {
        return Err(CallRefused::NotHere {
            message: "this login has no browser to redirect (its protocol is a password, \
                      refresh-token or token-exchange grant); check api.redirect.canRedirect() \
                      first"
                .into(),
        });
    }
    call.charge()?;
    call.commands.redirect = Some(url.into());
    Ok(Value::Null)
}

/// `redirect.encodeToken({ secret, expiresInSeconds?, payload })`: an HS256 JWT of `payload`
/// with `iat`, `exp` and the flow's `state`, and (unless the payload sets them) `iss` (the
/// login's host), `sub` (the user) and `ip` (the user's address).
pub(crate) fn encode_token(call: &mut Call<'_>) -> Result<Value, CallRefused> {
    let leg = call.leg()?;
    let options = call.options(0, "the options")?;
    let secret = secret(call, &options)?;
    let seconds = match options.get("expiresInSeconds") {
        None | Some(Value::Null) => DEFAULT_TOKEN_SECONDS,
        Some(v) => match v.as_f64() {
            #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
            Some(s) if (1.0..1e12).contains(&s) => s as u64,
            _ => return Err(call.bad("options.expiresInSeconds must be a positive number")),
        },
    };
    let mut claims = match options.get("payload") {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(payload)) => payload.clone(),
        Some(other) => {
            return Err(call.bad(format!(
                "options.payload must be an object, not {}",
                kind(other)
            )));
        }
    };
    call.charge()?;
    let now = leg.clock.now_ms() / 1000;
    let event = &leg.event;
    for (claim, path) in [
        ("sub", &["user", "user_id"][..]),
        ("ip", &["request", "ip"][..]),
    ] {
        if !claims.contains_key(claim)
            && let Some(value) = event.str_at(path)
        {
            claims.insert(claim.into(), Value::String(value));
        }
    }
    if !claims.contains_key("iss")
        && let Some(host) = event.str_at(&["request", "hostname"])
    {
        claims.insert("iss".into(), Value::String(host));
    }
    claims.insert("iat".into(), now.into());
    claims.insert("exp".into(), now.saturating_add(seconds).into());
    claims.insert("state".into(), leg.state().into());
    let mut header = Header::new(Algorithm::HS256);
    header.typ = Some(OUTGOING_TYP.into());
    jsonwebtoken::encode(
        &header,
        &claims,
        &EncodingKey::from_secret(secret.as_bytes()),
    )
    .map(Value::String)
    .map_err(|e| call.bad(format!("the token could not be signed: {e}")))
}

/// `redirect.validateToken({ secret, tokenParameterName? })`, in `onContinuePostLogin`: the
/// claims of the HS256 JWT the user came back with (query or form parameter
/// `tokenParameterName`, default `session_token`), once its signature, `exp` and `state` (this
/// login's) are checked.
pub(crate) fn validate_token(call: &mut Call<'_>) -> Result<Value, CallRefused> {
    let leg = call.leg()?;
    let options = call.options(0, "the options")?;
    let secret = secret(call, &options)?;
    let name = match options.get("tokenParameterName") {
        None | Some(Value::Null) => "session_token".to_owned(),
        Some(Value::String(name)) if !name.is_empty() => name.clone(),
        Some(_) => return Err(call.bad("options.tokenParameterName must be a non-empty string")),
    };
    let resumed = match (&leg.resumed, call.commands.continuing) {
        (Some(resumed), true) => resumed,
        _ => {
            return Err(CallRefused::NotHere {
                message: "redirect.validateToken can only be called in onContinuePostLogin \
                          (or onContinuePostChallenge), when the user is back from a redirect"
                    .into(),
            });
        }
    };
    call.charge()?;
    let Some(token) = resumed
        .params
        .query
        .get(&name)
        .or_else(|| resumed.params.body.get(&name))
        .and_then(Value::as_str)
    else {
        return Err(call.bad(format!(
            "the user came back without a `{name}` parameter (query or form); the page the \
             user was sent to must send the token back in it"
        )));
    };
    if token.len() > MAX_SESSION_TOKEN_BYTES {
        return Err(call.bad(format!(
            "the session token is {} bytes; at most {MAX_SESSION_TOKEN_BYTES} are read",
            token.len()
        )));
    }
    if jsonwebtoken::decode_header(token).is_ok_and(|h| h.typ.as_deref() == Some(OUTGOING_TYP)) {
        return Err(call.bad(
            "the session token is invalid: it is the token encodeToken made for the page, sent \
             back as it was; the page must answer with a token of its own (signed with the \
             shared secret, naming the state)",
        ));
    }
    let mut validation = Validation::new(Algorithm::HS256);
    // Times are checked below against the runtime's clock, not the system's.
    validation.validate_exp = false;
    validation.validate_aud = false;
    validation.required_spec_claims.clear();
    let claims = match jsonwebtoken::decode::<Map<String, Value>>(
        token,
        &DecodingKey::from_secret(secret.as_bytes()),
        &validation,
    ) {
        Ok(data) => data.claims,
        Err(e) => {
            use jsonwebtoken::errors::ErrorKind;
            let why = match e.kind() {
                ErrorKind::InvalidSignature => {
                    "its signature does not verify with this secret (altered, or signed with \
                     another secret)"
                        .to_owned()
                }
                ErrorKind::InvalidAlgorithm => "it is not signed with HS256".to_owned(),
                _ => format!("it is not a valid JWT ({e})"),
            };
            return Err(call.bad(format!("the session token is invalid: {why}")));
        }
    };
    let now_s = leg.clock.now_ms() / 1000;
    match claims.get("exp").and_then(Value::as_f64) {
        #[allow(clippy::cast_precision_loss)]
        Some(exp) if exp > now_s as f64 => {}
        Some(_) => return Err(call.bad("the session token is invalid: it expired")),
        None => {
            return Err(call.bad(
                "the session token is invalid: it has no `exp` claim (a token that never \
                 expires could be replayed)",
            ));
        }
    }
    if claims.get("state").and_then(Value::as_str) != Some(resumed.state.as_str()) {
        return Err(call.bad(
            "the session token is invalid: its `state` claim is not this login's state (it \
             was made for another login)",
        ));
    }
    Ok(Value::Object(claims))
}

/// `options.secret`: a non-empty string.
fn secret(call: &Call<'_>, options: &Map<String, Value>) -> Result<String, CallRefused> {
    match options.get("secret") {
        Some(Value::String(s)) if !s.is_empty() => Ok(s.clone()),
        _ => Err(call.bad(
            "options.secret must be a non-empty string (keep it in the action's secrets: \
             event.secrets)",
        )),
    }
}
