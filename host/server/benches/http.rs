//! Load bench of `cachet serve`: the `claims` example on a cache hit through HTTP (`wrk`, 64
//! connections) beside the same action executed in-process in the same run, and beside
//! `GET /healthz` on the same server (the HTTP floor).
//!
//! ```text
//! cargo bench -p cachet-server --bench http            # needs `wrk` (Debian: apt-get install wrk)
//! CACHET_BENCH_SECONDS=20 cargo bench -p cachet-server --bench http
//! ```
//!
//! Prints executions/s and latency percentiles for each, and the ratios recorded in
//! BENCHMARKS.md. Without `wrk` it says so and measures the in-process figure only.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a bench stops on its first problem

use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use cachet_runtime::{ActionConfig, Trigger};
use cachet_server::{Config, Server};
use cachet_tests::guests;

/// The allocator the `cachet` binary uses, so the figures are the binary's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const TOKEN: &str = "bench-token-0123456789abcdef";
const CONNECTIONS: usize = 64;
const EVENT: &str =
    r#"{"user":{"user_id":"auth0|bench","email":"ada@example.com","app_metadata":{"plan":"pro"}}}"#;

fn seconds() -> u64 {
    std::env::var("CACHET_BENCH_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(10)
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` runs this with no such flag and
    // should not spend a minute measuring.
    if !std::env::args().any(|a| a == "--bench") {
        println!("http bench: run with `cargo bench -p cachet-server --bench http`");
        return;
    }
    let tokio = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    tokio.block_on(run());
}

async fn run() {
    let dir = std::env::temp_dir().join(format!("cachet-http-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    startup(&dir).await;
    let path = dir.join("cachet.toml");
    std::fs::write(
        &path,
        format!(
            "listen = \"127.0.0.1:0\"\nmax_inflight = 256\n[auth]\ntokens_env = \"BENCH\"\n\
             [[actions]]\ntenant = \"bench\"\ntrigger = \"post-login\"\nname = \"claims\"\n\
             path = {:?}\n",
            guests::CLAIMS
        ),
    )
    .unwrap();
    let env = |name: &str| (name == "BENCH").then(|| TOKEN.to_owned());
    let config = Config::load_with_env(&path, &env).unwrap();
    let listener = tokio::net::TcpListener::bind(config.listen).await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = Server::start_with_env(config, Arc::new(env)).await.unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let serving = {
        let server = server.clone();
        tokio::spawn(async move {
            server
                .serve(listener, async move {
                    let _ = stopped.await;
                })
                .await
        })
    };
    let secs = seconds();
    println!(
        "cachet serve load bench: claims on a cache hit, {CONNECTIONS} connections, {secs} s each"
    );

    // In-process: the same action through the same runtime, 64 executions at a time.
    let runtime = server.runtime().clone();
    let wasm = std::fs::read(guests::CLAIMS).unwrap();
    let action = runtime
        .load_action("claims", Trigger::PostLogin, &wasm, ActionConfig::default())
        .unwrap();
    // Warm the cache entry so every measured execution is a hit.
    execute_claims(&runtime, &action).await;
    let in_process = in_process(&runtime, &action, Duration::from_secs(secs)).await;
    println!("in-process  {in_process:>10.0} executions/s");

    let Some(wrk) = wrk_available() else {
        println!("wrk is not installed (Debian: apt-get install wrk); HTTP figures skipped");
        let _ = stop.send(());
        return;
    };
    let lua = dir.join("post.lua");
    std::fs::write(
        &lua,
        format!(
            "wrk.method = \"POST\"\nwrk.body = '{EVENT}'\n\
             wrk.headers[\"Content-Type\"] = \"application/json\"\n\
             wrk.headers[\"Authorization\"] = \"Bearer {TOKEN}\"\n"
        ),
    )
    .unwrap();
    let execute_url = format!("http://{addr}/v1/tenants/bench/triggers/post-login/execute");
    let health_url = format!("http://{addr}/healthz");
    let execute = load(&wrk, &execute_url, Some(&lua), secs).await;
    let health = load(&wrk, &health_url, None, secs).await;
    println!("{}", execute.line("HTTP execute"));
    println!("{}", health.line("HTTP healthz"));
    println!(
        "HTTP execute / in-process: {:.2}   HTTP execute / healthz: {:.2}",
        execute.per_sec / in_process,
        execute.per_sec / health.per_sec
    );
    let _ = stop.send(());
    serving.await.unwrap().unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}

/// Start-up with every example action, first with an empty `compiled_cache_dir` (each action
/// compiled) and then, as a restarted service, with it warm (each action loaded precompiled).
async fn startup(dir: &std::path::Path) {
    let compiled = dir.join("compiled");
    let _ = std::fs::remove_dir_all(&compiled);
    let examples = [
        ("claims", "post-login", guests::CLAIMS),
        ("quota-probe", "post-login", guests::QUOTA_PROBE),
        ("mgmt-token", "post-login", guests::MGMT_TOKEN),
        ("m2m-claims", "credentials-exchange", guests::M2M_CLAIMS),
    ];
    let mut text = format!("listen = \"127.0.0.1:0\"\ncompiled_cache_dir = {compiled:?}\n");
    for (name, trigger, path) in examples {
        text.push_str(&format!(
            "[[actions]]\ntenant = \"bench\"\ntrigger = \"{trigger}\"\nname = \"{name}\"\n\
             path = {path:?}\n"
        ));
    }
    let path = dir.join("startup.toml");
    std::fs::write(&path, text).unwrap();
    for label in ["cold (compiling)", "warm (compiled_cache_dir)"] {
        let config = Config::load(&path).unwrap();
        let started = Instant::now();
        let server = Server::start(config).await.unwrap();
        let elapsed = started.elapsed();
        let stats = server.runtime().compile_stats();
        println!(
            "start-up {label:<26} {:>8.1} ms for {} actions ({:.1} ms each; compiled {}, from disk {})",
            elapsed.as_secs_f64() * 1e3,
            examples.len(),
            elapsed.as_secs_f64() * 1e3 / examples.len() as f64,
            stats.compiled,
            stats.disk_hits
        );
    }
}

/// One execution of `claims` on the bench's event, which must succeed.
async fn execute_claims(runtime: &cachet_runtime::Runtime, action: &cachet_runtime::Action) {
    let result = runtime
        .execute_actions(
            "bench",
            Trigger::PostLogin,
            std::slice::from_ref(action),
            EVENT,
        )
        .await
        .unwrap();
    assert_eq!(result.outcome, cachet_runtime::Outcome::Success);
}

/// Executions per second with `CONNECTIONS` executions in flight at a time.
async fn in_process(
    runtime: &cachet_runtime::Runtime,
    action: &cachet_runtime::Action,
    duration: Duration,
) -> f64 {
    let done = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..CONNECTIONS {
        let (runtime, action) = (runtime.clone(), action.clone());
        let (done, stop) = (done.clone(), stop.clone());
        tasks.push(tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                execute_claims(&runtime, &action).await;
                done.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    tokio::time::sleep(duration).await;
    stop.store(true, Ordering::Relaxed);
    for t in tasks {
        t.await.unwrap();
    }
    done.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64()
}

fn wrk_available() -> Option<String> {
    let ok = Command::new("wrk").arg("--version").output().is_ok();
    ok.then(|| "wrk".to_owned())
}

/// What one wrk run measured.
struct Load {
    per_sec: f64,
    p50: String,
    p99: String,
    errors: u64,
}

impl Load {
    fn line(&self, what: &str) -> String {
        format!(
            "{what:<12}{:>10.0} requests/s   p50 {:>8}   p99 {:>8}   non-2xx or errors {}",
            self.per_sec, self.p50, self.p99, self.errors
        )
    }
}

/// Runs wrk against `url` (2 threads, `CONNECTIONS` connections) off the async workers.
async fn load(wrk: &str, url: &str, script: Option<&std::path::Path>, secs: u64) -> Load {
    let mut cmd = Command::new(wrk);
    cmd.args([
        "-t2",
        &format!("-c{CONNECTIONS}"),
        &format!("-d{secs}s"),
        "--latency",
    ]);
    if let Some(script) = script {
        cmd.arg("-s").arg(script);
    }
    cmd.arg(url);
    let out = tokio::task::spawn_blocking(move || cmd.output())
        .await
        .unwrap()
        .expect("run wrk");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "wrk failed: {text}");
    let field = |prefix: &str| {
        text.lines()
            .find_map(|l| l.trim().strip_prefix(prefix).map(|v| v.trim().to_owned()))
    };
    let count = |prefix: &str| -> u64 {
        field(prefix)
            .map(|v| {
                v.split([',', ' '])
                    .filter_map(|n| n.trim().parse::<u64>().ok())
                    .sum()
            })
            .unwrap_or(0)
    };
    Load {
        per_sec: field("Requests/sec:")
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("no Requests/sec in wrk output:\n{text}")),
        p50: field("50%").unwrap_or_default(),
        p99: field("99%").unwrap_or_default(),
        errors: count("Non-2xx or 3xx responses:") + count("Socket errors:"),
    }
}
