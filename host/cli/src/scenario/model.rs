//! The scenario file's shape: what `cachet test` reads, field by field (TOML, or the same
//! shape in JSON). Every table refuses unknown fields, so a typo fails with its line.

use std::collections::BTreeMap;
use std::time::Duration;

use cachet_dev_idp::TokenMode;
use cachet_limits::{CacheLimits, OverflowPolicy};
use cachet_runtime::Trigger;
use serde::Deserialize;
use serde_json::Value;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Raw {
    pub(super) name: Option<String>,
    pub(super) trigger: Trigger,
    #[serde(default = "default_tenant")]
    pub(super) tenant: String,
    #[serde(default)]
    pub(super) policy: OverflowPolicy,
    pub(super) actions: Vec<String>,
    #[serde(default)]
    pub(super) secrets: BTreeMap<String, String>,
    #[serde(default)]
    pub(super) allow_hosts: Vec<String>,
    #[serde(default)]
    pub(super) limits: Option<CacheLimits>,
    #[serde(default)]
    pub(super) idp: Option<RawIdp>,
    #[serde(default)]
    pub(super) cache: Vec<RawEntry>,
    pub(super) steps: Vec<Step>,
}

pub(super) fn default_tenant() -> String {
    "default".into()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawIdp {
    /// Lifetime of the tokens it issues, in seconds (default 3600).
    pub(super) token_ttl_secs: Option<u64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawEntry {
    pub(super) key: String,
    pub(super) value: String,
    /// Lifetime from the scenario's start, in seconds (default: the cache's default lifetime,
    /// 15 min, as for `api.cache.set` without a `ttl`).
    pub(super) ttl_secs: Option<u64>,
}

#[derive(Deserialize, Clone)]
#[serde(deny_unknown_fields)]
pub(super) struct Step {
    pub(super) name: Option<String>,
    pub(super) run: Option<Run>,
    /// Continues the flow the last `run` redirected, with what the user came back with.
    #[serde(rename = "continue")]
    pub(super) resume: Option<Continue>,
    pub(super) advance_secs: Option<u64>,
    pub(super) idp: Option<String>,
    #[serde(default)]
    pub(super) expect: Expect,
}

#[derive(Deserialize, Clone, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct Run {
    pub(super) event: Option<Value>,
    pub(super) event_file: Option<String>,
    #[serde(default)]
    pub(super) set: BTreeMap<String, Value>,
    #[serde(default = "one")]
    pub(super) logins: usize,
}

/// A `continue` step: the parameters the user came back with from the redirect.
#[derive(Deserialize, Clone, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct Continue {
    /// Query parameters.
    #[serde(default)]
    pub(super) query: serde_json::Map<String, Value>,
    /// Form (body) parameters.
    #[serde(default)]
    pub(super) body: serde_json::Map<String, Value>,
    /// Query parameters of the redirect's URL to send back as they are.
    #[serde(default)]
    pub(super) from_redirect: Vec<String>,
    /// The page's signed answer, as a page signs it for `api.redirect.validateToken`.
    pub(super) answer: Option<Answer>,
}

/// A page's answer to a redirect: an HS256 token of `claims` with the redirect's `state` and
/// an `exp` five minutes ahead, in the query parameter `parameter`.
#[derive(Deserialize, Clone)]
#[serde(deny_unknown_fields)]
pub(super) struct Answer {
    /// The secret shared with the action (a scenario secret's value, or `{{idp.…}}`).
    pub(super) secret: String,
    /// The query parameter (Auth0's default `session_token`).
    #[serde(default = "session_token")]
    pub(super) parameter: String,
    /// The claims besides `state` and `exp`.
    #[serde(default)]
    pub(super) claims: serde_json::Map<String, Value>,
}

fn session_token() -> String {
    "session_token".into()
}

pub(super) fn one() -> usize {
    1
}

#[derive(Deserialize, Clone, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct Expect {
    pub(super) outcome: Option<String>,
    /// The URL a redirect sends the user to starts with this.
    pub(super) redirect_to: Option<String>,
    pub(super) commands: Option<Vec<Value>>,
    pub(super) commands_contain: Option<Vec<Value>>,
    pub(super) error: Option<ExpectError>,
    pub(super) cache: Option<ExpectCache>,
    pub(super) codes: Option<Vec<String>>,
    pub(super) token_requests: Option<u64>,
    pub(super) management_requests: Option<u64>,
}

#[derive(Deserialize, Clone)]
#[serde(deny_unknown_fields)]
pub(super) struct ExpectError {
    pub(super) action: String,
    pub(super) kind: Option<String>,
    pub(super) message_contains: Option<String>,
}

#[derive(Deserialize, Clone)]
#[serde(deny_unknown_fields)]
pub(super) struct ExpectCache {
    pub(super) entries: Option<usize>,
    pub(super) bytes: Option<usize>,
    /// Exactly these live keys (any order).
    pub(super) keys: Option<Vec<String>>,
    /// At least these live keys.
    pub(super) contains_keys: Option<Vec<String>>,
    /// Remaining lifetime of entries, in seconds (within one second).
    pub(super) expires_in_secs: Option<BTreeMap<String, u64>>,
}

pub(super) fn parse_idp(spec: &str) -> Option<IdpCommand> {
    match spec.split_once(':') {
        None if spec == "revoke" => Some(IdpCommand::Revoke),
        None if spec == "normal" => Some(IdpCommand::Mode(TokenMode::Normal)),
        Some(("slow", ms)) => ms
            .parse()
            .ok()
            .map(|ms| IdpCommand::Mode(TokenMode::Slow(Duration::from_millis(ms)))),
        Some(("fail", status)) => status
            .parse()
            .ok()
            .map(|s| IdpCommand::Mode(TokenMode::Status(s))),
        _ => None,
    }
}

pub(super) enum IdpCommand {
    Revoke,
    Mode(TokenMode),
}

pub(super) fn step_kind(step: &Step) -> &'static str {
    if step.run.is_some() {
        "run"
    } else if step.resume.is_some() {
        "continue"
    } else if step.advance_secs.is_some() {
        "advance"
    } else {
        "idp"
    }
}
