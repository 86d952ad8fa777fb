//! Fresh-instance execution of the `claims` example action on a cache hit, beside the native
//! floor of the same logic.
//!
//! Run: `cargo bench -p cachet-host --bench execute`
//!
//! The bench builds the action from source first (`--profile guest`, as the tests do). After
//! criterion's figures it prints p50/p99 latency and executions/s on 1 and 2 threads, for the
//! default engine and with component-model concurrency support on.

use std::hint::black_box;
use std::path::Path;
use std::process::Command as Process;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use cachet_guest::PostLoginEvent;
use cachet_host::{Command, Outcome, Runtime, Trigger};
use cachet_limits::{BoundedCache, CacheLimits, OverflowPolicy, SetOptions};
use criterion::Criterion;
use serde_json::Value;

const EVENT: &str = include_str!("../../examples/events/post-login.json");
const TENANT: &str = "bench";

fn build_claims() -> Vec<u8> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root");
    let target = root.join("target").join("guests");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = Process::new(cargo)
        .current_dir(root)
        .args([
            "build",
            "--locked",
            "--target",
            "wasm32-wasip2",
            "--profile",
            "guest",
            "-p",
            "claims",
            "--target-dir",
        ])
        .arg(&target)
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .status()
        .expect("run cargo");
    assert!(status.success(), "building the claims action failed");
    std::fs::read(target.join("wasm32-wasip2/guest/claims.wasm")).expect("claims.wasm")
}

fn runtime(wasm: &[u8], concurrency_support: bool) -> Runtime {
    let rt = Runtime::builder()
        .concurrency_support(concurrency_support)
        .build()
        .expect("runtime");
    let action = rt
        .load_action(
            "claims",
            Trigger::PostLogin,
            wasm,
            cachet_host::ActionConfig::default(),
        )
        .expect("load claims");
    rt.bind(TENANT, Trigger::PostLogin, vec![action])
        .expect("bind");
    rt
}

fn execute(tokio: &tokio::runtime::Runtime, rt: &Runtime) {
    let r = tokio
        .block_on(rt.execute(TENANT, Trigger::PostLogin, EVENT))
        .expect("execute");
    debug_assert_eq!(r.outcome, Outcome::Success);
    black_box(r);
}

/// The same work natively: parse the event, hit the cache, parse the cached claims, and
/// build the two commands (each value through JSON, as it crosses the sandbox boundary).
fn native_floor(cache: &Mutex<BoundedCache>, event_json: &str, now: u64) -> Vec<Command> {
    let event: PostLoginEvent = serde_json::from_str(event_json).expect("event");
    let key = claims::cache_key(&event.user.user_id);
    let hit = cache.lock().expect("lock").get(&key, now);
    let claims: Value = match hit {
        Some(r) => serde_json::from_str(&r.value).expect("cached claims"),
        None => {
            let c = claims::compute_claims(&event);
            let _ = cache.lock().expect("lock").set(
                &key,
                &c.to_string(),
                SetOptions {
                    ttl_ms: Some(600_000),
                    ..SetOptions::default()
                },
                now,
            );
            c
        }
    };
    let through_json = |v: &Value| -> Value {
        serde_json::from_str(&serde_json::to_string(v).expect("ser")).expect("de")
    };
    vec![
        Command::SetIdTokenClaim {
            name: "https://cachet.example/plan".into(),
            value: through_json(&claims["plan"]),
        },
        Command::SetAccessTokenClaim {
            name: "https://cachet.example/entitlements".into(),
            value: through_json(&claims["entitlements"]),
        },
    ]
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

fn latency(rt: &Runtime, n: usize) -> (Duration, Duration) {
    let tokio = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio");
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

fn throughput(rt: &Runtime, threads: usize, per_thread: usize) -> f64 {
    let start = Instant::now();
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| {
                let tokio = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("tokio");
                for _ in 0..per_thread {
                    execute(&tokio, rt);
                }
            });
        }
    });
    (threads * per_thread) as f64 / start.elapsed().as_secs_f64()
}

fn main() {
    let wasm = build_claims();
    let rt = runtime(&wasm, false);
    let tokio = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio");
    execute(&tokio, &rt); // the first login computes and caches; every later one is a hit

    let now = 1_700_000_000_000;
    let cache = Mutex::new(BoundedCache::new(
        CacheLimits::default(),
        OverflowPolicy::Evict,
    ));
    native_floor(&cache, EVENT, now);

    let mut c = Criterion::default().configure_from_args();
    c.bench_function("execute/claims_cache_hit", |b| {
        b.iter(|| execute(&tokio, &rt))
    });
    c.bench_function("native_floor/claims_cache_hit", |b| {
        b.iter(|| black_box(native_floor(&cache, black_box(EVENT), now)))
    });
    c.final_summary();

    // Percentiles and throughput, which criterion does not report.
    let floor = {
        let mut samples: Vec<Duration> = (0..20_000)
            .map(|_| {
                let t = Instant::now();
                black_box(native_floor(&cache, EVENT, now));
                t.elapsed()
            })
            .collect();
        samples.sort_unstable();
        percentile(&samples, 0.5)
    };
    let rt_cm = runtime(&wasm, true);
    execute(&tokio, &rt_cm);
    for (label, rt) in [
        ("concurrency_support(false)", &rt),
        ("concurrency_support(true)", &rt_cm),
    ] {
        let (p50, p99) = latency(rt, 20_000);
        let t1 = throughput(rt, 1, 20_000);
        let t2 = throughput(rt, 2, 20_000);
        println!(
            "{label}: p50 {:.1} µs, p99 {:.1} µs, {:.0} exec/s on 1 thread, {:.0} exec/s on 2 threads; \
             native floor p50 {:.2} µs (ratio {:.0}x)",
            p50.as_secs_f64() * 1e6,
            p99.as_secs_f64() * 1e6,
            t1,
            t2,
            floor.as_secs_f64() * 1e6,
            p50.as_secs_f64() / floor.as_secs_f64(),
        );
    }
}
