//! Many executions at once, on one partition and on many.

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use cachet_runtime::{PartitionKey, Runtime, Trigger};
use cachet_tests::{T0, harness};
use serde_json::{Value, json};

use crate::cache_ops;

async fn all<F: std::future::Future<Output = Vec<Value>> + Send + 'static>(
    futures: Vec<F>,
) -> Vec<Vec<Value>> {
    let handles: Vec<_> = futures.into_iter().map(tokio::spawn).collect();
    let mut out = Vec::new();
    for h in handles {
        out.push(h.await.unwrap());
    }
    out
}

fn rt() -> Runtime {
    harness().0.build().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sixty_four_concurrent_executions_on_one_partition_keep_every_invariant() {
    let rt = rt();
    // How many executions were in flight at once, at most: proof that they overlapped.
    let in_flight = Arc::new(AtomicUsize::new(0));
    let most = Arc::new(AtomicUsize::new(0));
    let runs = (0..64)
        .map(|i| {
            let rt = rt.clone();
            let (in_flight, most) = (Arc::clone(&in_flight), Arc::clone(&most));
            let value = format!("{i:03}").repeat(100);
            async move {
                let now = in_flight.fetch_add(1, Ordering::SeqCst) + 1;
                most.fetch_max(now, Ordering::SeqCst);
                let results = cache_ops(
                    &rt,
                    "acme",
                    json!([
                        { "op": "set", "key": format!("k{i}"), "value": value },
                        { "op": "get", "key": format!("k{i}") },
                    ]),
                )
                .await;
                in_flight.fetch_sub(1, Ordering::SeqCst);
                results
            }
        })
        .collect();
    for (i, results) in all(runs).await.into_iter().enumerate() {
        let mine = format!("{i:03}").repeat(100);
        assert_eq!(results[0]["value"], json!(mine), "set {i} succeeded");
        // Its own value, or nothing if concurrent writers evicted it meanwhile: never another.
        assert!(
            results[1].is_null() || results[1]["value"] == json!(mine),
            "get {i} read {}",
            results[1]
        );
    }
    let most = most.load(Ordering::SeqCst);
    assert!(
        most > 1,
        "the executions never overlapped (at most {most} at once)"
    );
    // 64 entries of about 303 bytes went through: the 20-entry quota binds first, exactly.
    let usage = rt.partition_usage("acme", Trigger::PostLogin).await;
    assert_eq!(usage.entries, 20, "{usage:?}");
    assert!(usage.bytes <= 8192, "{usage:?}");
    let snapshot = rt
        .store()
        .snapshot(&PartitionKey::new("acme", Trigger::PostLogin), T0)
        .await
        .unwrap();
    for e in &snapshot {
        let i: usize = e.key[1..].parse().unwrap();
        assert_eq!(
            e.value,
            format!("{i:03}").repeat(100),
            "no value was torn or mixed up"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sixty_four_concurrent_executions_on_sixty_four_partitions_are_independent() {
    let rt = rt();
    let runs = (0..64)
        .map(|i| {
            let rt = rt.clone();
            async move {
                let tenant = format!("tenant-{i}");
                let ops = json!([
                    { "op": "set", "key": "a", "value": tenant },
                    { "op": "set", "key": "b", "value": tenant },
                    { "op": "get", "key": "a" },
                ]);
                cache_ops(&rt, &tenant, ops).await
            }
        })
        .collect();
    for (i, results) in all(runs).await.into_iter().enumerate() {
        assert_eq!(results[2]["value"], json!(format!("tenant-{i}")));
    }
    for i in 0..64 {
        let usage = rt
            .partition_usage(&format!("tenant-{i}"), Trigger::PostLogin)
            .await;
        assert_eq!(
            (usage.entries, usage.bytes),
            (2, 2 * (1 + format!("tenant-{i}").len()))
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn if_absent_lets_exactly_one_of_sixty_four_concurrent_claims_win() {
    let rt = rt();
    let runs = (0..64)
        .map(|i| {
            let rt = rt.clone();
            async move {
                let ops = json!([{ "op": "set", "key": "refresh-lock", "value": format!("{i}"), "ttl": 5000, "if_absent": true }]);
                cache_ops(&rt, "acme", ops).await
            }
        })
        .collect();
    let results: Vec<Value> = all(runs)
        .await
        .into_iter()
        .map(|mut r| r.remove(0))
        .collect();
    let winners: Vec<&Value> = results
        .iter()
        .filter(|r| r.get("value").is_some())
        .collect();
    assert_eq!(winners.len(), 1, "{results:?}");
    let losers: HashSet<&Value> = results
        .iter()
        .filter(|r| r.get("error").is_some())
        .collect();
    assert_eq!(
        losers,
        HashSet::from([&json!({ "error": "CacheKeyExists" })])
    );
    let held = rt
        .store()
        .get(
            &PartitionKey::new("acme", Trigger::PostLogin),
            "refresh-lock",
            T0,
        )
        .await
        .unwrap();
    assert_eq!(
        Some(held.unwrap().value.as_str()),
        winners[0]["value"].as_str()
    );
}
