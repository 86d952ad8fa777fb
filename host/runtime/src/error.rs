//! Errors of the runtime's own operations: building it, loading actions, executing flows.
//! (An action's own failure is not an error of `execute`: it is data in the result.)

use cachet_limits::{ConfigError, LimitError};
use thiserror::Error;

use crate::Trigger;

/// The runtime could not be built.
#[derive(Debug, Error)]
pub enum BuildError {
    /// A limit configuration is inconsistent.
    #[error("invalid limits: {0}")]
    Config(#[from] ConfigError),
    /// wasmtime refused the engine configuration (e.g. the pooling allocator could not
    /// reserve its address space).
    #[error("could not create the wasm engine: {0}; lower instance_pool_size or max_memory_bytes")]
    Engine(String),
}

/// An action could not be loaded. Every variant names the action.
#[derive(Debug, Error)]
pub enum LoadError {
    /// The module is larger than the configured maximum.
    #[error("action `{name}`: {source}")]
    TooLarge {
        /// The action.
        name: String,
        /// The limit exceeded.
        source: LimitError,
    },
    /// The bytes are not WebAssembly at all.
    #[error(
        "action `{name}` is not a WebAssembly file (no `\\0asm` header); give the component an action's build produced (Rust: `cargo build --target wasm32-wasip2`)"
    )]
    NotWasm {
        /// The action.
        name: String,
    },
    /// The bytes are a core module, not a component.
    #[error(
        "action `{name}` is a core WebAssembly module, not a component; build a component against `wit/action.wit` (Rust: target `wasm32-wasip2`, not wasm32-unknown-unknown or wasip1)"
    )]
    CoreModule {
        /// The action.
        name: String,
    },
    /// The component failed to validate or compile.
    #[error("action `{name}` is not a valid component: {reason}")]
    Invalid {
        /// The action.
        name: String,
        /// What wasmtime reported.
        reason: String,
    },
    /// The component is an action of the other trigger.
    #[error("action `{name}` is a {actual} action (it exports `{}`), but was bound to {expected}", actual.export_name())]
    WrongTrigger {
        /// The action.
        name: String,
        /// The trigger it was loaded for.
        expected: Trigger,
        /// The trigger it implements.
        actual: Trigger,
    },
    /// The component does not export the trigger's entry point.
    #[error("action `{name}` does not export `{export}` (world `{world}` of wit/action.wit); export it: {how}", export = trigger.export_name(), world = trigger.world())]
    MissingExport {
        /// The action.
        name: String,
        /// The trigger it was loaded for.
        trigger: Trigger,
        /// How each SDK exports the entry point.
        how: &'static str,
    },
    /// The component imports something the trigger's world does not provide (filesystem,
    /// sockets, another trigger's API, ...).
    #[error("action `{name}` cannot run as a {trigger} action: {reason}")]
    UnsatisfiedImports {
        /// The action.
        name: String,
        /// The trigger it was loaded for.
        trigger: Trigger,
        /// What wasmtime reported as missing.
        reason: String,
    },
    /// An allow-list entry is malformed (e.g. a port out of range, or a URL instead of a host).
    #[error("action `{name}`: {source}")]
    AllowList {
        /// The action.
        name: String,
        /// Which entry and what is wrong with it.
        source: crate::egress::AllowListError,
    },
    /// The action's secrets break a limit.
    #[error("action `{name}`: {source}")]
    Secrets {
        /// The action.
        name: String,
        /// The limit broken.
        source: LimitError,
    },
}

/// A flow could not be executed at all (no action ran).
#[derive(Debug, Error)]
pub enum ExecuteError {
    /// Too many actions, or an oversized event.
    #[error(transparent)]
    Limit(#[from] LimitError),
    /// The event is not valid JSON.
    #[error("the event is not valid JSON: {0}")]
    EventNotJson(String),
    /// The event is JSON but not an object.
    #[error("the event must be a JSON object")]
    EventNotObject,
    /// An action of another trigger was passed.
    #[error("action `{name}` is a {actual} action and cannot run in a {expected} flow")]
    TriggerMismatch {
        /// The action.
        name: String,
        /// The flow's trigger.
        expected: Trigger,
        /// The action's trigger.
        actual: Trigger,
    },
}

/// A redirected flow could not be continued (nothing ran).
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum ContinueError {
    /// No continuation has this state in the tenant's trigger: it never existed, was already
    /// continued (a continuation is used once), or expired.
    #[error(
        "no redirected flow is waiting with this state: it is unknown, was already continued, \
         or expired (execution_limits.continuation_ttl_ms); the login must start again"
    )]
    UnknownState,
    /// The trigger's actions cannot redirect, so nothing of it can be continued.
    #[error("{0} actions cannot redirect, so a {0} flow cannot be continued")]
    CannotRedirect(Trigger),
    /// The flow bound now no longer has the redirecting action at its place.
    #[error(
        "the flow changed since the redirect: action `{action}` is no longer at its place in it; \
         the login must start again"
    )]
    FlowChanged {
        /// The action that redirected.
        action: String,
    },
    /// The store could not be read.
    #[error("the redirected flow could not be read: {0}")]
    Store(crate::store::StoreError),
    /// The stored continuation is not one this build wrote.
    #[error("the redirected flow's continuation is unreadable ({0}); the login must start again")]
    Unreadable(String),
    /// The event with what the user came back with is too large.
    #[error(transparent)]
    Limit(LimitError),
    /// The actions given cannot run as this trigger's flow.
    #[error(transparent)]
    Flow(ExecuteError),
}

impl From<crate::event::EventError> for ExecuteError {
    fn from(e: crate::event::EventError) -> Self {
        match e {
            crate::event::EventError::NotJson(reason) => Self::EventNotJson(reason),
            crate::event::EventError::NotObject => Self::EventNotObject,
        }
    }
}
