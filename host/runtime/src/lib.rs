//! The Cachet runtime: runs identity-platform actions as WebAssembly components, each
//! execution in a fresh sandbox, with a bounded cache per trigger that survives between
//! executions.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use cachet_runtime::{Runtime, Trigger};
//!
//! let runtime = Runtime::builder().build()?;
//! let wasm = std::fs::read("claims.wasm")?;
//! let action = runtime.load_action("claims", Trigger::PostLogin, &wasm, cachet_runtime::ActionConfig::default())?;
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
//! - [`FunctionCache`]: compiled functions kept for later compilations in the process, so
//!   actions that share code (every JavaScript action embeds the same engine) compile once.
//!
//! Inside, modules are layered, and a module imports only from its own layer or the layers
//! below it (`tests/layout.rs` reads this list and checks every `crate::` path against it,
//! and that no module imports one that imports it back):
//!
//! 1. `bindings` (generated from the WIT), `clock`, `log`, `result`, `trigger`, `state_file`,
//!    `store`, `observe`, `event`, `function_cache`: data and plumbing (`trigger` is the
//!    per-trigger table); nothing here runs wasm.
//! 2. `egress`: the outbound HTTP policy and transport (allow-list, address policy, budget,
//!    connections).
//! 3. `interfaces`: one file per WIT interface, each with its own per-execution state and
//!    `add_to_linker`.
//! 4. `sandbox`: one execution's store data, linker, epochs, limiter.
//! 5. `error`, `warm`: the library's errors; warm instances.
//! 6. `action`: loading, validating and compiling actions.
//! 7. `flow`: executing a flow of actions.
//! 8. `runtime`: the engine and its builder, flows by partition: the library's face.

mod action;
mod bindings;
mod clock;
mod egress;
mod error;
mod event;
mod flow;
mod function_cache;
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
pub use clock::{Clock, ManualClock, SystemClock};
pub use egress::{AllowList, AllowListError, MAX_CONNECT_TIMEOUT, MAX_READ_TIMEOUT};
pub use error::{BuildError, ContinueError, ExecuteError, LoadError};
pub use function_cache::{DEFAULT_FUNCTION_CACHE_BYTES, FunctionCache, FunctionCacheStats};
pub use observe::{CacheOp, CacheOpResult, EgressOutcome, ErrorCodes, Observer};
pub use result::{
    ActionFailure, ActionResult, Command, ContinueParams, Factor, FailureKind, FlowResult, Outcome,
    Redirect,
};
pub use runtime::{DEFAULT_KEEP_RESIDENT, Runtime, RuntimeBuilder, SlotReset};
pub use sandbox::EpochTicks;
pub use store::{
    CacheStore, EntryReport, FileStore, FileStoreError, FileStoreOptions, LoadReport, MemoryStore,
    PartitionKey, PartitionName, PartitionReport, ReadAhead, RedactedValue, RedisUrl, StoreError,
    StoreUrl, StoreUrlError, UsageReport, inspect,
};
pub use trigger::{Trigger, UnknownTrigger};
pub use warm::{InstanceMode, WarmOptions};
