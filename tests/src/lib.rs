//! Shared helpers for the integration tests in `tests/integration/`: the paths of the action
//! components that `build.rs` builds from source, and a runtime set up as a test harness
//! (manual clock, manual epochs); [`conformance`], the suite every cache store must pass; and
//! [`redis_server`], a throwaway Redis for the tests that need one; [`http`], a small client
//! for the tests of `cachet serve`; [`scratch`], directories that tests remove when done.

pub mod conformance;
pub mod http;
pub mod redis_server;
pub mod scratch;

use std::sync::Arc;

use cachet_runtime::{Action, EpochTicks, ManualClock, Runtime, RuntimeBuilder, Trigger};

/// The README's Rust examples, compiled as doctests of this crate so they cannot drift from
/// the API (`no_run`: they need a component and an event).
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
pub struct ReadmeDoctests;

/// Paths of the action components, built from source by `build.rs`.
pub mod guests {
    include!(concat!(env!("OUT_DIR"), "/guests.rs"));
}

/// A fixed start time for tests: 2023-11-14T22:13:20Z.
pub const T0: u64 = 1_700_000_000_000;

/// A runtime builder for tests: manual clock at [`T0`], manual epochs, a pool big enough for
/// the concurrency tests.
pub fn harness() -> (RuntimeBuilder, ManualClock) {
    let clock = ManualClock::new(T0);
    let builder = Runtime::builder()
        .clock(Arc::new(clock.clone()))
        .epoch_ticks(EpochTicks::Manual)
        .instance_pool_size(80);
    (builder, clock)
}

/// [`harness`] for JavaScript actions: compiled components are also kept on disk (in the
/// workspace's target directory), because each JavaScript component is ~12 MB of SpiderMonkey
/// that takes seconds to compile, and every test builds its own runtime.
pub fn js_harness() -> (RuntimeBuilder, ManualClock) {
    let (builder, clock) = harness();
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join("target")
        .join("cachet-compiled-tests");
    (builder.compiled_cache_dir(dir), clock)
}

/// Loads the component at `path` as `trigger`, with no secrets.
pub fn load(runtime: &Runtime, path: &str, trigger: Trigger) -> Action {
    load_with(
        runtime,
        path,
        trigger,
        cachet_runtime::ActionConfig::default(),
    )
}

/// Loads the component at `path` as `trigger` with `config`, named after its file.
pub fn load_with(
    runtime: &Runtime,
    path: &str,
    trigger: Trigger,
    config: cachet_runtime::ActionConfig,
) -> Action {
    let wasm = std::fs::read(path).unwrap_or_else(|e| panic!("cannot read {path}: {e}"));
    let name = std::path::Path::new(path)
        .file_stem()
        .map(|s| s.to_string_lossy().replace('_', "-"))
        .unwrap_or_default();
    runtime
        .load_action(&name, trigger, &wasm, config)
        .unwrap_or_else(|e| panic!("cannot load {name}: {e}"))
}
