//! What an execution returns: the flow's outcome, the merged commands, and per-action detail.
//!
//! These types serialize to the JSON `cachet run` prints, so their field names are a contract.

use cachet_limits::Usage;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// How a flow (or one action) ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// Every action ran to completion; apply the commands.
    Success,
    /// An action denied; the flow stopped after it. Refuse the login/exchange.
    Denied,
    /// An action failed (error, trap, limit); the flow stopped. Fail the login/exchange.
    Failed,
}

/// One call an action made to its trigger API, recorded for the caller to apply.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum Command {
    /// Refuse the login or token exchange.
    Deny {
        /// OAuth 2 error code (credentials-exchange only): `invalid_scope`, `invalid_request`
        /// or `server_error`.
        #[serde(skip_serializing_if = "Option::is_none", default)]
        code: Option<String>,
        /// Reason shown to the user or client.
        reason: String,
    },
    /// Add a custom claim to the ID token.
    SetIdTokenClaim {
        /// Claim name.
        name: String,
        /// Claim value.
        value: Value,
    },
    /// Add a custom claim to the access token.
    SetAccessTokenClaim {
        /// Claim name.
        name: String,
        /// Claim value.
        value: Value,
    },
    /// Add a scope to the access token.
    AddAccessTokenScope {
        /// The scope.
        scope: String,
    },
    /// Remove a scope from the access token.
    RemoveAccessTokenScope {
        /// The scope.
        scope: String,
    },
    /// Set one key of the user's app_metadata.
    SetAppMetadata {
        /// Metadata key.
        key: String,
        /// Metadata value.
        value: Value,
    },
    /// Set one key of the user's user_metadata.
    SetUserMetadata {
        /// Metadata key.
        key: String,
        /// Metadata value.
        value: Value,
    },
}

/// Why an action failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FailureKind {
    /// The action returned an error (like a thrown error in JavaScript).
    ActionError,
    /// The flow's deadline passed while the action ran.
    DeadlineExceeded,
    /// The action tried to grow its memory past the per-instance limit.
    MemoryLimitExceeded,
    /// The action overflowed its stack (e.g. unbounded recursion).
    StackOverflow,
    /// The action trapped: a panic, an abort, or another WebAssembly trap.
    Trap,
    /// The action could not be instantiated (e.g. the instance pool is exhausted).
    Instantiation,
}

/// An action's failure: a kind to branch on and a message for people.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActionFailure {
    /// What kind of failure.
    pub kind: FailureKind,
    /// What happened and, where it helps, what to do.
    pub message: String,
}

/// One action's part of a flow execution.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ActionResult {
    /// The action's name.
    pub name: String,
    /// How it ended.
    pub outcome: Outcome,
    /// Why it failed, when it did.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub error: Option<ActionFailure>,
    /// What it wrote to stdout and stderr (capped; a marker says when output was cut).
    pub logs: String,
    /// Its commands, in call order (also merged into [`FlowResult::commands`]).
    #[serde(skip)]
    pub commands: Vec<Command>,
    /// Cache writes (set + delete) it made.
    pub cache_writes: u32,
    /// Wall time from instantiation to return, in microseconds.
    pub duration_us: u64,
}

/// The result of executing a flow.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FlowResult {
    /// How the flow ended.
    pub outcome: Outcome,
    /// Commands of every action that ran to completion, in order. Apply them only on
    /// [`Outcome::Success`]; on [`Outcome::Denied`] they include the denial.
    pub commands: Vec<Command>,
    /// Each action that ran, in order (actions after a denial or failure do not run).
    pub actions: Vec<ActionResult>,
    /// The partition's usage after the flow.
    pub cache: Usage,
    /// Wall time of the whole flow, in microseconds.
    pub duration_us: u64,
}
