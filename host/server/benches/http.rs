//! Load bench of `cachet serve`: the `claims` example on a cache hit through HTTP (`wrk`, 64
//! connections) beside the same action executed in-process in the same run, and beside
//! `GET /healthz` on the same server (the HTTP floor). Then, where `redis-server` is installed,
//! the same load on a server whose store is a throwaway Redis, alternating with the memory
//! store round by round: the Redis / memory ratio of the performance issue, each Redis figure
//! beside the memory figure measured just before it.
//!
//! ```text
//! cargo bench -p cachet-server --bench http            # needs `wrk` (Debian: apt-get install wrk)
//! CACHET_BENCH_SECONDS=20 CACHET_BENCH_ROUNDS=5 cargo bench -p cachet-server --bench http
//! ```
//!
//! Prints executions/s and latency percentiles for each, and the ratios recorded in
//! BENCHMARKS.md. Without `wrk` it says so and measures the in-process figure only; without
//! `redis-server` it leaves the store rounds out.
//!
//! Each store round also prints where the CPU went per request: this process (the server),
//! `redis-server`, and `wrk`, in µs of CPU time, and how often the server's threads were
//! preempted (involuntary context switches). On a machine whose cores the load generator and
//! Redis share with the server, these tell a slower server from a busier machine.

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

/// How many memory-then-Redis rounds the store comparison runs (`CACHET_BENCH_ROUNDS`, default
/// 3): on two shared cores one round can differ from the next by a third.
fn rounds() -> usize {
    std::env::var("CACHET_BENCH_ROUNDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(3)
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
    // Removed when the bench ends, also when it fails.
    let dir = cachet_tests::scratch::Scratch::dir("http-bench");
    startup(&dir).await;
    let running = Running::start(&dir, None).await;
    let secs = seconds();
    println!(
        "cachet serve load bench: claims on a cache hit, {CONNECTIONS} connections, {secs} s each"
    );

    // In-process: the same action through the same runtime, 64 executions at a time.
    let runtime = running.server.runtime().clone();
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
        running.stop().await;
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
    let health_url = format!("http://{}/healthz", running.addr);
    let execute = load(&wrk, &running.execute_url(), Some(&lua), secs).await;
    let health = load(&wrk, &health_url, None, secs).await;
    println!("{}", execute.line("HTTP execute"));
    println!("{}", health.line("HTTP healthz"));
    println!(
        "HTTP execute / in-process: {:.2}   HTTP execute / healthz: {:.2}",
        execute.per_sec / in_process,
        execute.per_sec / health.per_sec
    );
    running.stop().await;
    if let Some(redis) = cachet_tests::redis_server::RedisServer::try_start("http bench") {
        stores(&wrk, &dir, &lua, &redis, secs).await;
    }
}

/// The execute load on the memory store, then on Redis, `rounds()` times, each on a server of
/// its own (started, one login to fill the cache, measured, stopped).
async fn stores(
    wrk: &str,
    dir: &std::path::Path,
    lua: &std::path::Path,
    redis: &cachet_tests::redis_server::RedisServer,
    secs: u64,
) {
    let redis_pid = redis.pid();
    println!(
        "store rounds: memory then Redis ({}), {} rounds; CPU and preemptions per request",
        redis.url(),
        rounds()
    );
    let mut ratios = Vec::new();
    for round in 1..=rounds() {
        let mut memory_rate = None;
        for (label, store) in [("memory", None), ("redis", Some(redis.url()))] {
            let running = Running::start(dir, store.as_deref()).await;
            let before = Sample::take(redis_pid);
            let measured = load(wrk, &running.execute_url(), Some(lua), secs).await;
            let spent = Sample::take(redis_pid).since(&before);
            running.stop().await;
            let requests = measured.per_sec * secs as f64;
            println!(
                "round {round} {}   server {:>5.1} µs, redis-server {:>5.1} µs, wrk {:>5.1} µs of CPU \
                 per request; server preempted {:.2} times per request",
                measured.line(label),
                spent.server_cpu.as_secs_f64() * 1e6 / requests,
                spent.redis_cpu.as_secs_f64() * 1e6 / requests,
                spent.children_cpu.as_secs_f64() * 1e6 / requests,
                spent.preempted as f64 / requests,
            );
            match memory_rate {
                None => memory_rate = Some(measured.per_sec),
                Some(memory) => ratios.push(measured.per_sec / memory),
            }
        }
    }
    let shown: Vec<String> = ratios.iter().map(|r| format!("{r:.2}")).collect();
    ratios.sort_by(f64::total_cmp);
    println!(
        "HTTP execute, Redis / memory store, per round: {}   median {:.2}",
        shown.join(", "),
        ratios[ratios.len() / 2]
    );
}

/// A server on its own loopback port with the `claims` action and `store` (the memory store
/// when `None`), its cache entry filled.
struct Running {
    server: Server,
    addr: std::net::SocketAddr,
    stop: tokio::sync::oneshot::Sender<()>,
    serving: tokio::task::JoinHandle<Result<(), cachet_server::ServerError>>,
}

impl Running {
    async fn start(dir: &std::path::Path, store: Option<&str>) -> Self {
        let path = dir.join("store.toml");
        let store = store.map_or(String::new(), |url| format!("store = {url:?}\n"));
        std::fs::write(
            &path,
            format!(
                "listen = \"127.0.0.1:0\"\nmax_inflight = 256\n{store}compiled_cache_dir = {:?}\n\
                 [auth]\ntokens_env = \"BENCH\"\n\
                 [[actions]]\ntenant = \"bench\"\ntrigger = \"post-login\"\nname = \"claims\"\n\
                 path = {:?}\n",
                dir.join("compiled"),
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
        let running = Self {
            server,
            addr,
            stop,
            serving,
        };
        running.fill_cache().await;
        running
    }

    fn execute_url(&self) -> String {
        format!(
            "http://{}/v1/tenants/bench/triggers/post-login/execute",
            self.addr
        )
    }

    /// One login through HTTP, so that every measured one is a cache hit.
    async fn fill_cache(&self) {
        let mut stream = tokio::net::TcpStream::connect(self.addr).await.unwrap();
        let request = format!(
            "POST /v1/tenants/bench/triggers/post-login/execute HTTP/1.1\r\nHost: bench\r\n\
             Authorization: Bearer {TOKEN}\r\nContent-Type: application/json\r\n\
             Content-Length: {}\r\nConnection: close\r\n\r\n{EVENT}",
            EVENT.len()
        );
        tokio::io::AsyncWriteExt::write_all(&mut stream, request.as_bytes())
            .await
            .unwrap();
        let mut response = Vec::new();
        tokio::io::AsyncReadExt::read_to_end(&mut stream, &mut response)
            .await
            .unwrap();
        let response = String::from_utf8_lossy(&response);
        assert!(
            response.starts_with("HTTP/1.1 200"),
            "the first login failed: {response}"
        );
    }

    async fn stop(self) {
        let _ = self.stop.send(());
        self.serving.await.unwrap().unwrap();
    }
}

/// CPU time and preemptions so far: this process's (the server's), its waited-for children's
/// (each `wrk` run), and `redis-server`'s.
struct Sample {
    server_cpu: Duration,
    children_cpu: Duration,
    preempted: u64,
    redis_cpu: Duration,
}

impl Sample {
    fn take(redis_pid: Option<u32>) -> Self {
        let own = stat_ticks("self");
        Self {
            server_cpu: ticks(own.get(11..13)),
            children_cpu: ticks(own.get(13..15)),
            preempted: preemptions(),
            redis_cpu: redis_pid.map_or(Duration::ZERO, |pid| {
                ticks(stat_ticks(&pid.to_string()).get(11..13))
            }),
        }
    }

    fn since(&self, before: &Self) -> Self {
        Self {
            server_cpu: self.server_cpu.saturating_sub(before.server_cpu),
            children_cpu: self.children_cpu.saturating_sub(before.children_cpu),
            preempted: self.preempted.saturating_sub(before.preempted),
            redis_cpu: self.redis_cpu.saturating_sub(before.redis_cpu),
        }
    }
}

/// The numeric fields of `/proc/PROCESS/stat` after the command name (which may contain
/// spaces, in parentheses): utime and stime are the 12th and 13th of them, cutime and cstime
/// (waited-for children) the 14th and 15th. Empty off Linux.
fn stat_ticks(process: &str) -> Vec<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{process}/stat")).unwrap_or_default();
    let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    after
        .split_whitespace()
        .map(|f| f.parse().unwrap_or(0))
        .collect()
}

/// A sum of `/proc` clock ticks as time: `/proc` counts in USER_HZ, which Linux fixes at 100
/// whatever the kernel's own tick rate.
fn ticks(fields: Option<&[u64]>) -> Duration {
    Duration::from_millis(fields.unwrap_or_default().iter().sum::<u64>() * 10)
}

/// Involuntary context switches of this process's threads (the server's workers preempted).
fn preemptions() -> u64 {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return 0;
    };
    tasks
        .filter_map(|task| std::fs::read_to_string(task.ok()?.path().join("status")).ok())
        .filter_map(|status| {
            status
                .lines()
                .find_map(|l| l.strip_prefix("nonvoluntary_ctxt_switches:"))
                .and_then(|n| n.trim().parse::<u64>().ok())
        })
        .sum()
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
