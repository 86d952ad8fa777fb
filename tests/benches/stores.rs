//! The cache stores: Redis `get`/`set` on loopback beside the memory store, a cache-hit login
//! on each, and a snapshot write of 1 000 full partitions.
//!
//! Run: `cargo bench -p cachet-tests --bench stores` (needs `redis-server` on PATH; the Redis
//! rows are skipped with a message without it).
//!
//! After criterion's medians it prints p50/p99 over many single operations, which criterion
//! does not report. The baseline of each Redis figure is the memory store, in the same run.

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use cachet_dev_idp::{DevIdp, DevIdpConfig};
use cachet_limits::{CacheLimits, OverflowPolicy, SetOptions};
use cachet_runtime::{
    CacheStore, FileStore, FileStoreOptions, ManualClock, MemoryStore, Outcome, PartitionKey,
    Runtime, StoreUrl, Trigger,
};
use cachet_store_redis::{RedisOptions, RedisStore};
use cachet_tests::redis_server::RedisServer;
use criterion::Criterion;

const NOW: u64 = 1_700_000_000_000;

fn tokio() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio")
}

/// A partition at its 20-entry quota with 300-byte values, keys like Auth0 users write.
async fn fill(store: &dyn CacheStore, p: &PartitionKey) {
    for i in 0..20 {
        store
            .set(
                p,
                &format!("mgmt-token:{i:02}"),
                &"v".repeat(300),
                SetOptions::default(),
                NOW,
            )
            .await
            .expect("fill");
    }
}

async fn get_hit(store: &dyn CacheStore, p: &PartitionKey) {
    let hit = store.get(p, "mgmt-token:07", NOW).await.expect("get");
    assert!(hit.is_some(), "a hit");
    black_box(hit);
}

async fn set_replace(store: &dyn CacheStore, p: &PartitionKey, value: &str) {
    let r = store
        .set(p, "mgmt-token:07", value, SetOptions::default(), NOW)
        .await
        .expect("set");
    black_box(r);
}

/// p50 and p99 of `n` timed runs of `f`, in µs.
fn percentiles(n: usize, mut f: impl FnMut()) -> (f64, f64) {
    let mut samples: Vec<Duration> = (0..n)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed()
        })
        .collect();
    samples.sort_unstable();
    let at = |q: f64| samples[((samples.len() as f64 * q) as usize).min(samples.len() - 1)];
    (at(0.50).as_secs_f64() * 1e6, at(0.99).as_secs_f64() * 1e6)
}

/// A runtime on `store` with the token helper action, its token already cached: each login
/// is a cache hit (one `get`, a `jwt.decode`, claims).
fn token_login(
    rt: &tokio::runtime::Runtime,
    store: Arc<dyn CacheStore>,
    idp: &DevIdp,
    clock: &ManualClock,
) -> Runtime {
    let runtime = Runtime::builder()
        .store(store)
        .clock(Arc::new(clock.clone()))
        .build()
        .expect("runtime");
    let config = idp.action_config();
    let wasm = std::fs::read(cachet_tests::guests::TOKEN_ONLY).expect("built action");
    let action = runtime
        .load_action("token-only", Trigger::PostLogin, &wasm, config)
        .expect("load");
    runtime
        .bind("bench", Trigger::PostLogin, vec![action])
        .expect("bind");
    login(rt, &runtime); // fetches and caches the token
    runtime
}

const EVENT: &str = include_str!("../../examples/events/post-login.json");

fn login(rt: &tokio::runtime::Runtime, runtime: &Runtime) {
    let r = rt
        .block_on(runtime.execute("bench", Trigger::PostLogin, EVENT))
        .expect("execute");
    assert_eq!(r.outcome, Outcome::Success, "{:?}", r.actions[0].error);
    black_box(r);
}

fn main() {
    let mut c = Criterion::default().configure_from_args();
    let rt = tokio();
    let p = PartitionKey::new("bench", Trigger::PostLogin);
    let memory: Arc<dyn CacheStore> = Arc::new(MemoryStore::new(
        CacheLimits::default(),
        OverflowPolicy::Evict,
    ));
    rt.block_on(fill(memory.as_ref(), &p));
    let server = RedisServer::try_start("bench stores");
    let redis: Option<Arc<dyn CacheStore>> = server.as_ref().map(|server| {
        let StoreUrl::Redis(url) = server.url().parse().expect("url") else {
            unreachable!("a redis URL")
        };
        let store = rt
            .block_on(RedisStore::connect(
                &url,
                CacheLimits::default(),
                OverflowPolicy::Evict,
                RedisOptions::default(),
            ))
            .expect("connect");
        rt.block_on(fill(&store, &p));
        Arc::new(store) as Arc<dyn CacheStore>
    });
    let token = "t".repeat(800);
    let mut stores = vec![("memory", Arc::clone(&memory))];
    if let Some(redis) = &redis {
        stores.push(("redis", Arc::clone(redis)));
    }

    let mut group = c.benchmark_group("store");
    for (name, store) in &stores {
        group.bench_function(format!("{name}/get hit"), |b| {
            b.iter(|| rt.block_on(get_hit(store.as_ref(), &p)));
        });
        group.bench_function(format!("{name}/set replace"), |b| {
            b.iter(|| rt.block_on(set_replace(store.as_ref(), &p, &token)));
        });
    }
    group.finish();

    // Cache-hit logins (the token helper on a cached token) on each store.
    let clock = ManualClock::new(NOW);
    let idp = rt
        .block_on(DevIdp::start(DevIdpConfig {
            clock: Arc::new(clock.clone()),
            ..DevIdpConfig::default()
        }))
        .expect("dev idp");
    let logins: Vec<(&str, Runtime)> = stores
        .iter()
        .map(|(name, _)| {
            // A fresh namespace each: the memory store above holds the bench partition.
            let store: Arc<dyn CacheStore> = match *name {
                "memory" => Arc::new(MemoryStore::new(
                    CacheLimits::default(),
                    OverflowPolicy::Evict,
                )),
                _ => Arc::clone(redis.as_ref().expect("redis")),
            };
            (*name, token_login(&rt, store, &idp, &clock))
        })
        .collect();
    let mut group = c.benchmark_group("login");
    for (name, runtime) in &logins {
        group.bench_function(format!("{name}/cache-hit login"), |b| {
            b.iter(|| login(&rt, runtime));
        });
    }
    group.finish();
    assert_eq!(
        idp.stats().token_requests,
        logins.len() as u64,
        "one fetch per store, then hits"
    );

    // A snapshot write of 1 000 full partitions (20 entries of 300 bytes each: ~6.6 MB).
    let dir = std::env::temp_dir().join(format!("cachet-bench-snapshot-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let (file, _) = rt
        .block_on(FileStore::open(
            dir.join("cache.json"),
            CacheLimits::default(),
            OverflowPolicy::Evict,
            Arc::new(clock.clone()),
            FileStoreOptions {
                flush_interval: Duration::ZERO,
            },
        ))
        .expect("file store");
    rt.block_on(async {
        for t in 0..1000 {
            fill(
                &file,
                &PartitionKey::new(format!("tenant-{t:04}"), Trigger::PostLogin),
            )
            .await;
        }
    });
    let mut group = c.benchmark_group("snapshot");
    group.sample_size(20);
    group.bench_function("write 1000 full partitions", |b| {
        b.iter(|| {
            rt.block_on(async {
                // One change, so the flush writes.
                set_replace(
                    &file,
                    &PartitionKey::new("tenant-0000", Trigger::PostLogin),
                    &token,
                )
                .await;
                file.flush().await.expect("flush");
            });
            assert!(!file.is_dirty());
        });
    });
    group.finish();
    let bytes = std::fs::metadata(dir.join("cache.json"))
        .expect("written")
        .len();

    c.final_summary();
    println!("\np50 / p99 over single operations (µs):");
    for (name, store) in &stores {
        let (g50, g99) = percentiles(20_000, || rt.block_on(get_hit(store.as_ref(), &p)));
        let (s50, s99) = percentiles(20_000, || {
            rt.block_on(set_replace(store.as_ref(), &p, &token))
        });
        println!(
            "  {name:<6} get hit {g50:>7.1} / {g99:>7.1}   set replace {s50:>7.1} / {s99:>7.1}"
        );
    }
    for (name, runtime) in &logins {
        let (l50, l99) = percentiles(5_000, || login(&rt, runtime));
        println!("  {name:<6} cache-hit login {l50:>7.1} / {l99:>7.1}");
    }
    if let Some(server) = &server {
        // The floor: a PING over the same kind of connection (a reconnecting multiplexed
        // connection), from the same runtime.
        let client = redis::Client::open(server.url()).expect("client");
        let mut conn = rt
            .block_on(redis::aio::ConnectionManager::new(client))
            .expect("connect");
        let (p50, p99) = percentiles(20_000, || {
            let pong: String = rt
                .block_on(redis::cmd("PING").query_async(&mut conn))
                .expect("ping");
            assert_eq!(pong, "PONG");
        });
        println!("  redis  PING (baseline) {p50:>7.1} / {p99:>7.1}");
    }
    println!("  snapshot file of 1000 full partitions: {bytes} bytes");
    drop(file);
    let _ = std::fs::remove_dir_all(dir);
}
