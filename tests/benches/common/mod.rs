//! Measurement helpers shared by the execution benches (`execute.rs`, `javascript.rs`): the
//! latency percentiles and throughput figures printed after criterion's.

use std::time::{Duration, Instant};

use cachet_runtime::{ActionConfig, InstanceMode, Runtime, RuntimeBuilder, Trigger};

/// The event every execution bench runs: the example post-login event.
pub const EVENT: &str = include_str!("../../../examples/events/post-login.json");

/// A post-login event the size of a real one (2 996 bytes, compact, as an auth server sends it):
/// the fields Auth0 documents for the trigger, filled as a login through a web app fills them
/// (two identities, metadata, the request's geolocation and query, the transaction, the
/// authentication methods, an organization, a session). The example event above has 612 bytes;
/// parsing an event is a large part of an execution, so the benches show both.
pub const FULL_EVENT: &str = include_str!("../post-login-full.json");

/// The tenant the benched flow is bound to.
pub const TENANT: &str = "bench";

/// A runtime from `builder` with `wasm` loaded as `name` (a post-login action, with
/// `instance`) and bound as [`TENANT`]'s flow.
pub fn bound(builder: RuntimeBuilder, name: &str, wasm: &[u8], instance: InstanceMode) -> Runtime {
    let rt = builder.build().expect("runtime");
    let config = ActionConfig {
        instance,
        ..ActionConfig::default()
    };
    let action = rt
        .load_action(name, Trigger::PostLogin, wasm, config)
        .unwrap_or_else(|e| panic!("load {name}: {e}"));
    rt.bind(TENANT, Trigger::PostLogin, vec![action])
        .expect("bind");
    rt
}

/// A current-thread Tokio runtime, as each measuring thread uses.
pub fn current_thread() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio")
}

/// The `p` quantile (0..=1) of sorted samples.
pub fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

/// p50 and p99 of `n` sequential calls of `execute` on one current-thread runtime.
pub fn latency(
    rt: &Runtime,
    n: usize,
    execute: fn(&tokio::runtime::Runtime, &Runtime),
) -> (Duration, Duration) {
    let tokio = current_thread();
    let mut samples: Vec<Duration> = (0..n)
        .map(|_| {
            let t = Instant::now();
            execute(&tokio, rt);
            t.elapsed()
        })
        .collect();
    samples.sort_unstable();
    (percentile(&samples, 0.5), percentile(&samples, 0.99))
}

/// Executions per second of `threads` threads, each on its own current-thread runtime,
/// calling `execute` `per_thread` times.
pub fn throughput(
    rt: &Runtime,
    threads: usize,
    per_thread: usize,
    execute: fn(&tokio::runtime::Runtime, &Runtime),
) -> f64 {
    let start = Instant::now();
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| {
                let tokio = current_thread();
                for _ in 0..per_thread {
                    execute(&tokio, rt);
                }
            });
        }
    });
    (threads * per_thread) as f64 / start.elapsed().as_secs_f64()
}
