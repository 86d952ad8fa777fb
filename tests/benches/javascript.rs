//! JavaScript actions: the `claims` logic written as an Auth0 action (`tests/js/claims.js`,
//! built with componentize-js by `tests/build.rs`) on a cache hit, with a fresh instance per
//! execution and with a warm instance, beside the same source in Node.js's `vm` (a fresh
//! context per execution and one reused context) run in the same bench; and how long a
//! precompiled JavaScript component takes to load from `compiled_cache_dir`. Beside them, the
//! same logic written with Node's `crypto` and `Buffer` (`tests/js/claims-node.js`), which
//! `cachet build` bundles with the Node compatibility layer: what the layer costs. And an RS256
//! token signed and verified with Node's `crypto` (`tests/js/sign-node.js`, 2048-bit key):
//! what the layer's host-computed signatures cost. And the same through the `jsonwebtoken` npm
//! package (`tests/js/npm/jwt-rs256.js`), which makes key objects of the PEM keys on every call.
//! And the warm `claims` again with an event the size of a real one (`common::FULL_EVENT`),
//! beside Node on the same event.
//!
//! Run: `cargo bench -p cachet-tests --bench javascript` (needs `node` on PATH for the
//! baseline).

mod common;
use common::{EVENT, FULL_EVENT, TENANT, bound, current_thread, latency, throughput};
use std::hint::black_box;
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use cachet_runtime::{InstanceMode, Outcome, Runtime, Trigger, WarmOptions};
use criterion::Criterion;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn compiled_dir() -> PathBuf {
    root().join("target").join("cachet-compiled-bench")
}

fn runtime(wasm: &[u8], instance: InstanceMode) -> Runtime {
    let builder = Runtime::builder().compiled_cache_dir(compiled_dir());
    bound(builder, "claims-js", wasm, instance)
}

/// [`runtime`] for the Node-style action; its own bound name, so the two never share cache
/// entries' meaning.
fn node_runtime(wasm: &[u8], instance: InstanceMode) -> Runtime {
    let builder = Runtime::builder().compiled_cache_dir(compiled_dir());
    bound(builder, "claims-node-js", wasm, instance)
}

/// The test key pair the RS256 action signs and verifies with.
const RSA_PRIVATE: &str = include_str!("../js/npm/test-rsa-private.pem");
const RSA_PUBLIC: &str = include_str!("../js/npm/test-rsa-public.pem");

/// A warm runtime for an RS256 action (the component at `path`), with the test key pair as its
/// secrets.
fn sign_runtime(path: &str) -> Runtime {
    let wasm = std::fs::read(path).unwrap_or_else(|e| panic!("built {path}: {e}"));
    let rt = Runtime::builder()
        .compiled_cache_dir(compiled_dir())
        .build()
        .expect("runtime");
    let config = cachet_runtime::ActionConfig {
        instance: InstanceMode::Warm(WarmOptions::default()),
        ..cachet_runtime::ActionConfig::default()
    }
    .secret("rsaPrivate", RSA_PRIVATE)
    .secret("rsaPublic", RSA_PUBLIC);
    let action = rt
        .load_action("rs256-js", Trigger::PostLogin, &wasm, config)
        .unwrap_or_else(|e| panic!("load {path}: {e}"));
    rt.bind(TENANT, Trigger::PostLogin, vec![action])
        .expect("bind");
    rt
}

/// One execution, checked every time (a failing execution must not post a fast figure): it
/// succeeds with `commands` commands.
fn execute_checked(tokio: &tokio::runtime::Runtime, rt: &Runtime, commands: usize) {
    execute_event(tokio, rt, EVENT, commands);
}

/// [`execute_checked`] with `event`.
fn execute_event(tokio: &tokio::runtime::Runtime, rt: &Runtime, event: &str, commands: usize) {
    let r = tokio
        .block_on(rt.execute(TENANT, Trigger::PostLogin, event))
        .expect("execute");
    assert_eq!(r.outcome, Outcome::Success, "{:?}", r.actions[0].error);
    assert_eq!(r.commands.len(), commands);
    black_box(r);
}

/// One RS256 execution: its one claim is the signed token.
fn execute_sign(tokio: &tokio::runtime::Runtime, rt: &Runtime) {
    execute_checked(tokio, rt, 1);
}

/// One `claims` execution: its two claims.
fn execute(tokio: &tokio::runtime::Runtime, rt: &Runtime) {
    execute_checked(tokio, rt, 2);
}

/// One `claims` execution with the event the size of a real one.
fn execute_full(tokio: &tokio::runtime::Runtime, rt: &Runtime) {
    execute_event(tokio, rt, FULL_EVENT, 2);
}

/// The Node.js baseline's JSON line for the action at `action` on the event at `event` (both
/// under the repository), with `secrets` as its event's secrets, or why there is none.
fn node_baseline(
    action: &str,
    event: &str,
    secrets: Option<&serde_json::Value>,
    iterations: usize,
) -> String {
    let mut command = Command::new("node");
    command
        .arg(root().join("tests/benches/node-vm.mjs"))
        .arg(root().join(action))
        .arg(root().join(event))
        .arg(iterations.to_string());
    if let Some(secrets) = secrets {
        let path = compiled_dir().join("node-baseline-secrets.json");
        if let Err(e) = std::fs::create_dir_all(compiled_dir())
            .and_then(|()| std::fs::write(&path, secrets.to_string()))
        {
            return format!("node not run: writing {}: {e}", path.display());
        }
        command.arg(path);
    }
    match command.output() {
        Ok(out) if out.status.success() => String::from_utf8_lossy(&out.stdout).trim().to_string(),
        Ok(out) => format!(
            "node failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ),
        Err(e) => format!("node not run: {e}"),
    }
}

/// Minor page faults of this process so far (`/proc/self/stat`, field 10), or 0 where there
/// is no `/proc`.
fn minor_faults() -> u64 {
    std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|stat| {
            // Fields after the command name, which is in parentheses: state is the first.
            let rest = stat.rsplit_once(')')?.1.to_owned();
            rest.split_whitespace().nth(7)?.parse().ok()
        })
        .unwrap_or(0)
}

/// The example event's file, under the repository ([`EVENT`]'s text).
const EXAMPLE_EVENT: &str = "examples/events/post-login.json";

/// [`FULL_EVENT`]'s file, under the repository.
const FULL_EVENT_PATH: &str = "tests/benches/post-login-full.json";

fn us(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

fn main() {
    let wasm = std::fs::read(cachet_tests::guests::JS_CLAIMS).expect("built claims.js");
    // Compile once into the disk cache, then time a load that finds it there.
    let first = Instant::now();
    let rt = runtime(&wasm, InstanceMode::Fresh);
    let first_load = first.elapsed();
    let again = Instant::now();
    let rt_again = runtime(&wasm, InstanceMode::Fresh);
    let cached_load = again.elapsed();
    drop(rt_again);
    let rt_warm = runtime(&wasm, InstanceMode::Warm(WarmOptions::default()));
    // Fresh instances whose slot memory is reset whole instead of by dirty pages (what
    // `SlotReset::Auto` does where swap is configured).
    let rt_whole = bound(
        Runtime::builder()
            .compiled_cache_dir(compiled_dir())
            .slot_reset(cachet_runtime::SlotReset::Whole),
        "claims-js",
        &wasm,
        InstanceMode::Fresh,
    );
    // Fresh instances with 32 MiB of each slot kept resident instead of the default 2 MiB (the
    // JavaScript engine's heap is larger than 2 MiB).
    let rt_resident = bound(
        Runtime::builder()
            .compiled_cache_dir(compiled_dir())
            .keep_resident(32 * 1024 * 1024),
        "claims-js",
        &wasm,
        InstanceMode::Fresh,
    );
    let node_wasm =
        std::fs::read(cachet_tests::guests::JS_CLAIMS_NODE).expect("built claims-node.js");
    let rt_node = node_runtime(&node_wasm, InstanceMode::Fresh);
    let rt_node_warm = node_runtime(&node_wasm, InstanceMode::Warm(WarmOptions::default()));
    let rt_sign = sign_runtime(cachet_tests::guests::JS_SIGN_NODE);
    let rt_jwt = sign_runtime(cachet_tests::guests::JS_JWT_RS256);
    let tokio = current_thread();
    execute_sign(&tokio, &rt_sign);
    execute_sign(&tokio, &rt_jwt);
    execute(&tokio, &rt); // the first login computes and caches; every later one is a hit
    execute(&tokio, &rt_warm);
    execute(&tokio, &rt_whole);
    execute(&tokio, &rt_resident);
    execute(&tokio, &rt_node);
    execute(&tokio, &rt_node_warm);

    let mut c = Criterion::default().configure_from_args();
    c.bench_function("execute_js/claims_cache_hit", |b| {
        b.iter(|| execute(&tokio, &rt))
    });
    c.bench_function("execute_js/claims_cache_hit_warm", |b| {
        b.iter(|| execute(&tokio, &rt_warm))
    });
    c.bench_function("execute_js/claims_node_layer_cache_hit", |b| {
        b.iter(|| execute(&tokio, &rt_node))
    });
    c.bench_function("execute_js/claims_node_layer_cache_hit_warm", |b| {
        b.iter(|| execute(&tokio, &rt_node_warm))
    });
    c.bench_function("execute_js/rs256_sign_and_verify_warm", |b| {
        b.iter(|| execute_sign(&tokio, &rt_sign))
    });
    c.bench_function("execute_js/jsonwebtoken_rs256_sign_and_verify_warm", |b| {
        b.iter(|| execute_sign(&tokio, &rt_jwt))
    });
    c.final_summary();

    let n = 2_000;
    let node = node_baseline("tests/js/claims.js", EXAMPLE_EVENT, None, n);
    println!();
    println!(
        "claims.js component: {:.1} MB; load with compiling (or an earlier run's disk cache) {:.1} ms, \
         load from compiled_cache_dir {:.2} ms",
        wasm.len() as f64 / 1e6,
        first_load.as_secs_f64() * 1e3,
        cached_load.as_secs_f64() * 1e3
    );
    println!(
        "claims-node.js component (Node compatibility layer: crypto, Buffer): {:.1} MB",
        node_wasm.len() as f64 / 1e6
    );
    for (name, rt, per_thread) in [
        ("fresh", &rt, 2_000),
        ("fresh, SlotReset::Whole", &rt_whole, 2_000),
        ("fresh, keep_resident 32 MiB", &rt_resident, 2_000),
        ("warm", &rt_warm, 20_000),
        ("fresh, Node layer", &rt_node, 2_000),
        ("warm, Node layer", &rt_node_warm, 20_000),
    ] {
        let faults = minor_faults();
        let (p50, p99) = latency(rt, n, execute);
        let per_execution = (minor_faults() - faults) as f64 / n as f64;
        let one = throughput(rt, 1, per_thread, execute);
        let two = throughput(rt, 2, per_thread, execute);
        println!(
            "cachet {name:5}: p50 {:8.1} µs  p99 {:8.1} µs  {:8.0} exec/s on 1 thread  {:8.0} on 2  \
             {per_execution:7.1} page faults per execution",
            us(p50),
            us(p99),
            one,
            two
        );
    }
    println!("node:vm baseline ({n} executions each): {node}");
    // The warm figure again with an event the size of a real one (`FULL_EVENT`), beside Node
    // on the same event: the event's `JSON.parse` is a large part of an execution.
    execute_full(&tokio, &rt_warm);
    let (p50, p99) = latency(&rt_warm, n, execute_full);
    println!(
        "cachet warm, {}-byte event (the example's is {} bytes): p50 {:8.1} µs  p99 {:8.1} µs",
        FULL_EVENT.len(),
        EVENT.len(),
        us(p50),
        us(p99)
    );
    println!(
        "node:vm baseline, {}-byte event ({n} executions each): {}",
        FULL_EVENT.len(),
        node_baseline("tests/js/claims.js", FULL_EVENT_PATH, None, n)
    );
    let (p50, p99) = latency(&rt_sign, 300, execute_sign);
    println!(
        "cachet RS256 sign and verify (sign-node.js, 2048-bit key), warm: p50 {:8.1} µs  p99 {:8.1} µs",
        us(p50),
        us(p99)
    );
    let secrets = serde_json::json!({
        "rsaPrivate": RSA_PRIVATE,
        "rsaPublic": RSA_PUBLIC,
    });
    println!(
        "node:vm baseline, RS256 sign and verify (300 executions each): {}",
        node_baseline("tests/js/sign-node.js", EXAMPLE_EVENT, Some(&secrets), 300)
    );
    let (p50, p99) = latency(&rt_jwt, 300, execute_sign);
    println!(
        "cachet jsonwebtoken RS256 sign and verify (jwt-rs256.js), warm: p50 {:8.1} µs  p99 {:8.1} µs",
        us(p50),
        us(p99)
    );
    println!(
        "node:vm baseline, jsonwebtoken RS256 sign and verify (300 executions each): {}",
        node_baseline(
            "tests/js/npm/jwt-rs256.js",
            EXAMPLE_EVENT,
            Some(&secrets),
            300
        )
    );
}
