//! The service under mixed load for a while: two replicas on one Redis, executes, deploys and
//! cache inspection at once, with memory and file descriptors flat at the end. Its own test
//! binary, so no other test's servers share the process it measures.

#![allow(clippy::unwrap_used)] // a panic is how a test fails

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use cachet_tests::guests;
use cachet_tests::redis_server::RedisServer;
use common::*;

/// The test process's resident memory (bytes) and open file descriptors (Linux `/proc`).
fn rss_and_fds() -> (u64, usize) {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap();
    let pages: u64 = statm.split_whitespace().nth(1).unwrap().parse().unwrap();
    let fds = std::fs::read_dir("/proc/self/fd").unwrap().count();
    (pages * 4096, fds)
}

/// Mixed load against two replicas on one Redis: executes on both, deploys flipping the
/// action between two versions on one, cache inspection and re-uploads on the other. After a
/// warm-up quarter, resident memory and open file descriptors must stay flat to the end.
/// `CACHET_SOAK_SECS` sets the length (default 20 s; BENCHMARKS.md has a 10-minute run).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_under_mixed_load_keep_memory_and_file_descriptors_flat() {
    let secs: u64 = std::env::var("CACHET_SOAK_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20);
    let redis = RedisServer::start("deploy-soak");
    let store = redis.url();
    let (_compiled_dir, compiled) = shared_compiled_dir("soak");
    let a = Arc::new(start("soak-a", &config_with(&store, &compiled, "")).await);
    let b = Arc::new(start("soak-b", &config_with(&store, &compiled, "")).await);
    let v1 = a.ship("claims", guests::CLAIMS).await;
    let v2 = a
        .upload(ACME_DEPLOY, "claims", guests::COUNTER, "")
        .await
        .json()["version"]["version"]
        .as_str()
        .unwrap()
        .to_owned();
    b.serves(CLAIMS_CLAIM).await;
    let started = Instant::now();
    let end = started + Duration::from_secs(secs);
    let mut tasks = Vec::new();
    for i in 0..8 {
        let replica = Arc::clone(if i % 2 == 0 { &a } else { &b });
        tasks.push(tokio::spawn(async move {
            let mut n = 0u64;
            while Instant::now() < end {
                let reply = replica.execute().await;
                assert_eq!(reply.status, 200, "{}", reply.body);
                n += 1;
            }
            n
        }));
    }
    let deployer = {
        let a = Arc::clone(&a);
        tokio::spawn(async move {
            let mut n = 0u64;
            while Instant::now() < end {
                let version = if n.is_multiple_of(2) { &v2 } else { &v1 };
                a.deploy("claims", version).await;
                n += 1;
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            n
        })
    };
    let inspector = {
        let b = Arc::clone(&b);
        tokio::spawn(async move {
            let mut n = 0u64;
            while Instant::now() < end {
                let cache = b
                    .call(
                        ACME_READ,
                        "GET",
                        "/v1/tenants/acme/triggers/post-login/cache",
                        None,
                    )
                    .await;
                assert_eq!(cache.status, 200, "{}", cache.body);
                let again = b.upload(ACME_DEPLOY, "claims", guests::CLAIMS, "").await;
                assert_eq!(again.status, 200, "{}", again.body);
                n += 1;
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            n
        })
    };
    tokio::time::sleep(Duration::from_secs(secs) / 4).await;
    let warm = rss_and_fds();
    let mut executions = 0;
    for task in tasks {
        executions += task.await.unwrap();
    }
    let deploys = deployer.await.unwrap();
    let inspections = inspector.await.unwrap();
    // Connections of the last requests close asynchronously: give them a moment.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let last = rss_and_fds();
    eprintln!(
        "soak {secs} s: {executions} executions, {deploys} deploys, {inspections} inspections \
         and uploads; RSS {:.1} → {:.1} MiB, open fds {} → {}",
        warm.0 as f64 / 1048576.0,
        last.0 as f64 / 1048576.0,
        warm.1,
        last.1
    );
    assert!(executions > 0 && deploys > 0 && inspections > 0);
    assert!(
        last.1 <= warm.1 + 4,
        "open file descriptors grew from {} to {}",
        warm.1,
        last.1
    );
    assert!(
        last.0 <= warm.0 + warm.0 / 4 + 32 * 1048576,
        "resident memory grew from {} to {} bytes",
        warm.0,
        last.0
    );
    Arc::try_unwrap(a).ok().unwrap().shutdown().await;
    Arc::try_unwrap(b).ok().unwrap().shutdown().await;
}
