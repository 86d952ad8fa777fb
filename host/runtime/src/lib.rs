//! The Cachet runtime: runs identity-platform actions as WebAssembly components, each
//! execution in a fresh sandbox, with a bounded cache per trigger that survives between
//! executions.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use cachet_host::{Runtime, Trigger};
//!
//! let runtime = Runtime::builder().build()?;
//! let wasm = std::fs::read("claims.wasm")?;
//! let action = runtime.load_action("claims", Trigger::PostLogin, &wasm, cachet_host::ActionConfig::default())?;
//! runtime.bind("tenant-1", Trigger::PostLogin, vec![action])?;
//!
//! let result = runtime
//!     .execute("tenant-1", Trigger::PostLogin, r#"{"user": {"user_id": "auth0|1"}}"#)
//!     .await?;
//! println!("{}", serde_json::to_string_pretty(&result)?);
//! # Ok(()) }
//! ```
//!
//! The pieces:
//! - [`Runtime`] (built with [`RuntimeBuilder`]): compiles and pre-links actions, binds them
//!   into flows, executes flows. Limits ([`cachet_limits::ExecutionLimits`]: deadline, memory,
//!   event, log, module, commands, tokens, host resources, outbound requests and bodies,
//!   secrets, cache writes) are enforced and reported as typed results; an action cannot crash
//!   the host or make it allocate without bound.
//! - [`CacheStore`]: where partitions live; [`MemoryStore`] is the embedded default,
//!   [`FileStore`] adds a snapshot file, and the `cachet-store-redis` crate shares partitions
//!   between hosts. [`StoreUrl`] names any of them.
//! - [`Clock`]: injectable time; [`ManualClock`] plus [`EpochTicks::Manual`] make the runtime a
//!   deterministic test harness for action authors.
//! - [`FlowResult`]: the outcome, merged commands, and per-action logs, errors and timings.
//!
//! Inside, modules point one way: `runtime` (engine, builder) and `action` (loading) and
//! `flow` (execution) use `trigger` (the per-trigger table), which uses `sandbox` (one
//! execution's store data, linker, epochs), which uses `interfaces/` (one file per WIT
//! interface, each with its own per-execution state and `add_to_linker`), which use only
//! `bindings` (generated), `store`, `clock` and `result`.

mod action;
mod bindings;
mod clock;
mod error;
mod flow;
mod interfaces;
mod log;
mod observe;
mod result;
mod runtime;
mod sandbox;
pub mod state_file;
mod store;
mod trigger;
mod warm;

pub use action::{Action, ActionConfig, CompileStats};
/// Building JavaScript actions (re-exported so embedders need no second dependency).
pub use cachet_js as js;
pub use clock::{Clock, ManualClock, SystemClock};
pub use error::{BuildError, ExecuteError, LoadError};
pub use interfaces::http::{AllowList, MAX_CONNECT_TIMEOUT, MAX_READ_TIMEOUT};
pub use observe::{CacheOp, CacheOpResult, EgressOutcome, Observer};
pub use result::{ActionFailure, ActionResult, Command, FailureKind, FlowResult, Outcome};
pub use runtime::{Runtime, RuntimeBuilder};
pub use sandbox::EpochTicks;
pub use store::{
    CacheStore, EntryReport, FileStore, FileStoreError, FileStoreOptions, LoadReport, MemoryStore,
    PartitionKey, PartitionName, PartitionReport, RedactedValue, RedisUrl, StoreError, StoreUrl,
    StoreUrlError, UsageReport, inspect,
};
pub use trigger::Trigger;
pub use warm::{InstanceMode, WarmOptions};
