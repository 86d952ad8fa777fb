//! `cachet test`: scenario files that run actions in the real sandbox, with exact quotas, a
//! manual clock and an in-process dev IdP, and check what happened after each step.
//!
//! A scenario (TOML, or the same shape in JSON) names the actions, trigger, tenant, secrets,
//! policy and limits, an optional initial cache, and ordered steps. A step runs an event
//! (`[steps.run]`: inline, from a file, or the realistic default with dotted overrides; `logins
//! = N` runs N at once), advances the clock (`advance_secs`), or tells the dev IdP what to do
//! (`idp = "revoke" | "slow:MS" | "fail:STATUS" | "normal"`). `[steps.expect]` then checks the
//! outcome, commands (exact or contained), an action's error, the cache, the error codes
//! actions met, and the dev IdP's token and management requests (cumulative).
//!
//! Secrets and allow-listed hosts may use `{{idp.url}}`, `{{idp.host}}`, `{{idp.token_url}}`,
//! `{{idp.audience}}`, `{{idp.client_id}}`, `{{idp.client_secret}}`, `{{idp.jwks_url}}`,
//! `{{idp.issuer}}`: a dev IdP is then started for the scenario (sharing its clock) and put on
//! every action's allow-list, so the token pattern is testable with no network. `https://`
//! requests to it go over plain HTTP, so `{{idp.host}}` serves as a tenant's domain for a
//! client library that writes `https://DOMAIN/…` itself (node-auth0).

mod expect;
mod model;
mod parse;
mod report;
mod run;
mod update;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use serde_json::Value;

pub use parse::discover;
pub use report::junit;
pub use run::run;
pub use update::update;

/// The time every scenario starts at: 2023-11-14T22:13:20Z (tokens and expiries are relative).
pub(super) const T0: u64 = 1_700_000_000_000;

/// A scenario file that cannot be used: the file, the line and what is wrong.
#[derive(Debug, thiserror::Error)]
#[error("{}:{line}: {message}", path.display())]
pub struct ScenarioError {
    /// The file.
    pub path: PathBuf,
    /// 1-based line (0 when the file could not be read at all).
    pub line: usize,
    /// What is wrong, naming the field.
    pub message: String,
}

/// A parsed scenario, its paths resolved.
pub struct Scenario {
    /// Its name (`name`, else the file stem).
    pub name: String,
    /// The file.
    pub path: PathBuf,
    raw: model::Raw,
    actions: Vec<PathBuf>,
    events: Vec<Option<Value>>,
}

/// How one scenario went.
pub struct Outcome {
    /// The scenario's name.
    pub name: String,
    /// Its file.
    pub path: PathBuf,
    /// The first difference, or `None` when every expectation held.
    pub failure: Option<String>,
    /// How long it took.
    pub elapsed: Duration,
    /// The actual commands of each step that expects exact commands, for `--update`.
    pub actual_commands: BTreeMap<usize, Vec<Value>>,
}
