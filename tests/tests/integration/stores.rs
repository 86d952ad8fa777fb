//! Every store passes the one conformance suite (`cachet_tests::conformance`); the snapshot
//! file keeps what was flushed through restarts, corruption and `SIGKILL`; the Redis store
//! agrees with the reference model and survives an outage.

use crate::Bounded as _;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use cachet_limits::reference::{Model, Op, START, limits_strategy, op_strategy, resolve};
use cachet_limits::{CacheError, CacheLimits, OverflowPolicy, SetOptions, SnapshotEntry};
use cachet_runtime::state_file::{self, PartitionSnapshot, StateFile};
use cachet_runtime::{
    CacheStore, FileStore, FileStoreOptions, ManualClock, MemoryStore, PartitionKey, RedisUrl,
    StoreUrl, Trigger,
};
use cachet_store_redis::{RedisOptions, RedisStore, RedisStoreError};
use cachet_tests::redis_server::{RedisCluster, RedisServer};
use cachet_tests::scratch::Scratch;
use proptest::prelude::*;

const NOW: u64 = 1_700_000_000_000;

/// A fresh, empty directory for one test, removed when the test is done with it.
fn temp_dir(tag: &str) -> Scratch {
    Scratch::dir(&format!("stores-{tag}"))
}

fn redis_url(server: &RedisServer) -> RedisUrl {
    match server.url().parse().unwrap() {
        StoreUrl::Redis(url) => url,
        other => panic!("not a Redis URL: {other}"),
    }
}

/// A Redis store on `server` in a namespace of its own.
async fn redis_store(
    server: &RedisServer,
    limits: CacheLimits,
    policy: OverflowPolicy,
) -> RedisStore {
    static N: AtomicUsize = AtomicUsize::new(0);
    let options = RedisOptions {
        key_prefix: format!("test{}", N.fetch_add(1, Ordering::Relaxed)),
        // Generous: this is a loaded 2-core machine running tests in parallel, not production.
        timeout: Duration::from_secs(5),
        ..RedisOptions::default()
    };
    RedisStore::connect(&redis_url(server), limits, policy, options)
        .await
        .unwrap()
}

fn p(tenant: &str) -> PartitionKey {
    PartitionKey::new(tenant, Trigger::PostLogin)
}

/// A file store at `path` with the default limits and the given options, and what it loaded.
async fn open_file_report(
    path: &Path,
    clock: &ManualClock,
    options: FileStoreOptions,
) -> (FileStore, cachet_runtime::LoadReport) {
    FileStore::open(
        path,
        CacheLimits::default(),
        OverflowPolicy::Evict,
        Arc::new(clock.clone()),
        options,
    )
    .await
    .unwrap()
}

async fn open_file(path: &Path, clock: &ManualClock, options: FileStoreOptions) -> FileStore {
    open_file_report(path, clock, options).await.0
}

// ---------------------------------------------------------------------------------------------
// The conformance suite, once per store

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_memory_store_passes_the_conformance_suite() {
    cachet_tests::conformance::run_all(&|policy| {
        Box::pin(async move {
            Arc::new(MemoryStore::new(CacheLimits::default(), policy)) as Arc<dyn CacheStore>
        })
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_snapshot_file_store_passes_the_conformance_suite() {
    let dir = temp_dir("conformance");
    let n = Arc::new(AtomicUsize::new(0));
    cachet_tests::conformance::run_all(&move |policy| {
        let path = dir.join(format!("{}.json", n.fetch_add(1, Ordering::Relaxed)));
        Box::pin(async move {
            let (store, _) = FileStore::open(
                path,
                CacheLimits::default(),
                policy,
                Arc::new(ManualClock::new(NOW)),
                FileStoreOptions::default(),
            )
            .await
            .unwrap();
            Arc::new(store) as Arc<dyn CacheStore>
        })
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_redis_store_passes_the_conformance_suite() {
    let server = RedisServer::start("the_redis_store_passes_the_conformance_suite");
    let server = Arc::new(server);
    cachet_tests::conformance::run_all(&move |policy| {
        let server = Arc::clone(&server);
        Box::pin(async move {
            Arc::new(redis_store(&server, CacheLimits::default(), policy).await)
                as Arc<dyn CacheStore>
        })
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cache_hit_login_on_redis_is_one_round_trip_and_its_result_carries_the_usage() {
    let server = RedisServer::start("a_cache_hit_login_on_redis_is_one_round_trip");
    let store = Arc::new(redis_store(&server, CacheLimits::default(), OverflowPolicy::Evict).await);
    let (builder, _clock) = cachet_tests::harness();
    let rt = builder.store(store.clone()).build().unwrap();
    let claims = cachet_tests::load(&rt, cachet_tests::guests::CLAIMS, Trigger::PostLogin);
    let event =
        serde_json::json!({ "user": { "user_id": "auth0|7", "app_metadata": { "plan": "pro" } } })
            .to_string();
    let login = || async {
        rt.execute_actions(
            "acme",
            Trigger::PostLogin,
            std::slice::from_ref(&claims),
            &event,
        )
        .bounded()
        .await
        .unwrap()
    };
    // A miss: the get, then the set (whose reply carries the usage).
    let before = store.round_trips();
    let first = login().await;
    assert_eq!(store.round_trips() - before, 2);
    assert_eq!(first.actions[0].cache_writes, 1);
    // A hit: the get alone, and the result's usage is the partition's.
    let before = store.round_trips();
    let second = login().await;
    assert_eq!(store.round_trips() - before, 1, "a hit is one round trip");
    assert_eq!(second.actions[0].cache_writes, 0);
    let usage = store.usage(&p("acme")).await.unwrap();
    assert_eq!(second.cache, usage);
    assert_eq!(usage.entries, 1);
    assert!(usage.bytes > 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_redis_a_flow_reads_from_one_read_ahead_until_it_writes_and_its_hits_count_as_uses() {
    let server = RedisServer::start("a_flow_reads_from_one_read_ahead");
    let store = Arc::new(redis_store(&server, CacheLimits::default(), OverflowPolicy::Evict).await);
    let (builder, clock) = cachet_tests::harness();
    let rt = builder.store(store.clone()).build().unwrap();
    let now = cachet_runtime::Clock::now_ms(&clock);
    let a = p("acme");
    // Full: 20 entries of 400 bytes, k00 the least recently used.
    for i in 0..20 {
        let key = format!("k{i:02}");
        store
            .set(&a, &key, &"x".repeat(397), SetOptions::default(), now)
            .await
            .unwrap();
    }

    // Reads only: one round trip, whatever the number of reads.
    let before = store.round_trips();
    let results = crate::cache_ops(
        &rt,
        "acme",
        serde_json::json!([
            { "op": "get", "key": "k00" },
            { "op": "get", "key": "k01" },
            { "op": "get", "key": "absent" },
        ]),
    )
    .await;
    assert_eq!(store.round_trips() - before, 1, "{results:?}");
    assert_eq!(results[0]["value"], "x".repeat(397));
    assert_eq!(results[1]["value"], "x".repeat(397));
    assert_eq!(results[2], serde_json::Value::Null);

    // The flow's hits on k00 and k01 made them the most recently used: the next write, which
    // must evict one entry, takes k02.
    store
        .set(&a, "new", &"y".repeat(397), SetOptions::default(), now)
        .await
        .unwrap();
    let keys: Vec<String> = store
        .snapshot(&a, now)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.key)
        .collect();
    assert!(!keys.contains(&"k02".to_owned()), "{keys:?}");
    assert_eq!(keys[keys.len() - 3..], ["k00", "k01", "new"]);

    // After a write the flow reads from the store: its own writes, not what it read ahead.
    let results = crate::cache_ops(
        &rt,
        "acme",
        serde_json::json!([
            { "op": "get", "key": "k03" },
            { "op": "set", "key": "k03", "value": "changed" },
            { "op": "get", "key": "k03" },
            { "op": "delete", "key": "k04" },
            { "op": "get", "key": "k04" },
        ]),
    )
    .await;
    assert_eq!(results[0]["value"], "x".repeat(397));
    assert_eq!(results[2]["value"], "changed");
    assert_eq!(results[3], "ok");
    assert_eq!(results[4], serde_json::Value::Null, "deleted in this flow");
}

/// Read-aheads of one partition asked for at once share reads: the first is sent at once, and
/// every later one waits for it and then shares the next, sent after all of them asked (so each
/// sees every write that completed before it asked).
#[tokio::test(flavor = "current_thread")]
async fn read_aheads_asked_for_at_once_share_two_round_trips() {
    let server = RedisServer::start("read_aheads_asked_for_at_once_share_two_round_trips");
    let store = redis_store(&server, CacheLimits::default(), OverflowPolicy::Evict).await;
    let a = p("acme");
    store
        .set(&a, "k", "v", SetOptions::default(), START)
        .await
        .unwrap();
    let before = store.round_trips();
    let reads = (0..32).map(|_| store.read_ahead(&a, START));
    let all = futures::future::join_all(reads).await;
    assert_eq!(store.round_trips() - before, 2);
    for ahead in all {
        let ahead = ahead.unwrap().unwrap();
        assert_eq!(ahead.get("k", START).unwrap().value, "v");
    }
    // One at a time, each is its own read.
    let before = store.round_trips();
    for _ in 0..3 {
        store.read_ahead(&a, START).await.unwrap().unwrap();
    }
    assert_eq!(store.round_trips() - before, 3);
}

/// A read-ahead whose flow gave up while waiting (its future dropped) leaves the others of its
/// group to read for themselves; and a write that completes while one read is in flight is in
/// the next.
#[tokio::test(flavor = "current_thread")]
async fn read_aheads_survive_a_dropped_asker_and_the_next_read_sees_writes_made_meanwhile() {
    use std::future::Future as _;
    let server = RedisServer::start("read_aheads_survive_a_dropped_asker");
    let store = redis_store(&server, CacheLimits::default(), OverflowPolicy::Evict).await;
    let a = p("acme");
    store
        .set(&a, "k", "old", SetOptions::default(), START)
        .await
        .unwrap();
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    // The first sends its read; the second waits for it, leading the next group.
    let mut first = Box::pin(store.read_ahead(&a, START));
    assert!(first.as_mut().poll(&mut cx).is_pending());
    let mut second = Box::pin(store.read_ahead(&a, START));
    assert!(second.as_mut().poll(&mut cx).is_pending());
    // A write sent after the first read, answered before the next read is sent.
    store
        .set(&a, "k", "new", SetOptions::default(), START)
        .await
        .unwrap();
    // The second gives up; a third joins its group, which must still be read.
    drop(second);
    let third = store.read_ahead(&a, START);
    let (first, third) =
        tokio::time::timeout(Duration::from_secs(30), futures::future::join(first, third))
            .await
            .expect("the group whose first asker gave up was never read");
    assert_eq!(
        first.unwrap().unwrap().get("k", START).unwrap().value,
        "old"
    );
    assert_eq!(
        third.unwrap().unwrap().get("k", START).unwrap().value,
        "new"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_redis_store_passes_the_conformance_suite_on_a_three_node_cluster() {
    let cluster = RedisCluster::start("conformance_on_a_cluster");
    let StoreUrl::Redis(url) = cluster.url().parse().unwrap() else {
        panic!("not a Redis URL")
    };
    assert!(url.cluster());
    let url = Arc::new(url);
    let n = Arc::new(AtomicUsize::new(0));
    cachet_tests::conformance::run_all(&move |policy| {
        let url = Arc::clone(&url);
        let prefix = format!("c{}", n.fetch_add(1, Ordering::Relaxed));
        Box::pin(async move {
            let options = RedisOptions {
                key_prefix: prefix,
                timeout: Duration::from_secs(5),
                ..RedisOptions::default()
            };
            Arc::new(
                RedisStore::connect(&url, CacheLimits::default(), policy, options)
                    .await
                    .unwrap(),
            ) as Arc<dyn CacheStore>
        })
    })
    .await;
    // The suite's partitions were spread over the nodes: every node holds some.
    for port in cluster.ports() {
        let client = redis::Client::open(format!("redis://127.0.0.1:{port}")).unwrap();
        let mut conn = client.get_multiplexed_async_connection().await.unwrap();
        let keys: i64 = redis::cmd("DBSIZE").query_async(&mut conn).await.unwrap();
        assert!(keys > 0, "node {port} holds no partition");
    }
}

// ---------------------------------------------------------------------------------------------
// Redis: the reference model, keys, failures

/// Runs one generated sequence against a fresh Redis partition and the model, checking after
/// every step what `limits/tests/model.rs` checks for `BoundedCache`.
async fn redis_agrees_with_the_model(
    server: &RedisServer,
    limits: CacheLimits,
    policy: OverflowPolicy,
    ops: Vec<Op>,
) -> Result<(), TestCaseError> {
    let store = redis_store(server, limits, policy).await;
    let mut model = Model::new(limits, policy);
    let part = p("model");
    let mut now = START;
    for (i, op) in ops.into_iter().enumerate() {
        let before = store.snapshot(&part, now).await.unwrap();
        let failed = match op {
            // Every other read as a flow makes it: answered from a read-ahead, its hit reported
            // with `touched` and applied by the next operation (the snapshot below).
            Op::Get(key) if i % 2 == 1 => {
                let ahead = store.read_ahead(&part, now).await.unwrap().unwrap();
                let got = ahead.get(&key, now);
                if got.is_some() {
                    store.touched(&part, std::slice::from_ref(&key));
                }
                prop_assert_eq!(&got, &model.get(&key, now));
                false
            }
            Op::Get(key) => {
                let got = store.get(&part, &key, now).await.unwrap();
                prop_assert_eq!(&got, &model.get(&key, now));
                false
            }
            Op::Set(key, value, opts) => {
                let opts = resolve(opts, now);
                let got = store.set(&part, &key, &value, opts, now).await;
                prop_assert_eq!(&got, &model.set(&key, &value, opts, now));
                got.is_err()
            }
            Op::Delete(key) => {
                let got = store.delete(&part, &key, now).await;
                prop_assert_eq!(&got, &model.delete(&key, now));
                got.is_err()
            }
            Op::Advance(ms) => {
                now += ms;
                model.drop_expired(now);
                false
            }
        };
        let after = store.snapshot(&part, now).await.unwrap();
        if failed {
            prop_assert_eq!(&after, &before, "a failed operation changed the partition");
        }
        prop_assert_eq!(
            &after,
            &model.snapshot(),
            "contents or recency order differ"
        );
        let usage = store.usage(&part).await.unwrap();
        prop_assert!(usage.entries <= limits.max_entries);
        prop_assert!(usage.bytes <= limits.max_total_bytes);
        for (entry, written) in after.iter().zip(&model.entries) {
            prop_assert!(entry.expires_at <= written.written_at + limits.max_ttl_ms);
        }
    }
    Ok(())
}

#[test]
fn the_redis_store_agrees_with_the_reference_model_over_500_sequences() {
    let server =
        RedisServer::start("the_redis_store_agrees_with_the_reference_model_over_500_sequences");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let config = ProptestConfig {
        cases: 500,
        // Shrinking replays sequences against a server: keep a failure's report prompt.
        max_shrink_iters: 200,
        ..ProptestConfig::default()
    };
    let strategy = (
        limits_strategy(),
        any::<bool>(),
        proptest::collection::vec(op_strategy(), 1..40),
    );
    proptest::test_runner::TestRunner::new(config)
        .run(&strategy, |(limits, strict, ops)| {
            let policy = if strict {
                OverflowPolicy::Strict
            } else {
                OverflowPolicy::Evict
            };
            rt.block_on(redis_agrees_with_the_model(&server, limits, policy, ops))
        })
        .unwrap();
}

#[tokio::test]
async fn an_unreachable_redis_at_start_up_is_an_error_naming_the_url_without_its_password() {
    // A port nothing listens on: bound, never listening, held for the whole test.
    let closed = tokio::net::TcpSocket::new_v4().unwrap();
    closed.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let port = closed.local_addr().unwrap().port();
    let url: StoreUrl = format!("redis://cachet:hunter2@127.0.0.1:{port}/0")
        .parse()
        .unwrap();
    let StoreUrl::Redis(url) = url else { panic!() };
    let options = RedisOptions {
        connect_timeout: Duration::from_millis(500),
        ..RedisOptions::default()
    };
    let err = RedisStore::connect(&url, CacheLimits::default(), OverflowPolicy::Evict, options)
        .await
        .unwrap_err();
    assert!(
        matches!(err, RedisStoreError::Unreachable { .. }),
        "{err:?}"
    );
    let text = err.to_string();
    assert!(
        text.contains(&format!("redis://cachet:***@127.0.0.1:{port}/0")),
        "{text}"
    );
    assert!(!text.contains("hunter2"), "{text}");
    assert!(!format!("{err:?}").contains("hunter2"));
    drop(closed);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_partition_is_three_keys_in_one_cluster_slot_that_redis_reclaims_by_itself() {
    let server = RedisServer::start("partition_keys");
    let store = redis_store(&server, CacheLimits::default(), OverflowPolicy::Evict).await;
    let tricky = PartitionKey::new("a}{b/c:d", Trigger::CredentialsExchange);
    store
        .set(&tricky, "k", "v", SetOptions::default(), NOW)
        .await
        .unwrap();
    let keys = store.partition_keys(&tricky);
    let client = redis::Client::open(server.url()).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let mut slots = Vec::new();
    for key in &keys {
        // One hash tag: the text between the first `{` and the next `}`.
        let tag = key.split_once('{').unwrap().1.split_once('}').unwrap().0;
        assert_eq!(tag, "a%7D%7Bb%2Fc%3Ad/credentials-exchange", "{key}");
        let slot: i64 = redis::cmd("CLUSTER")
            .arg("KEYSLOT")
            .arg(key)
            .query_async(&mut conn)
            .await
            .unwrap_or_else(|_| keyslot(tag));
        slots.push(slot);
        let ttl: i64 = redis::cmd("PTTL")
            .arg(key)
            .query_async(&mut conn)
            .await
            .unwrap();
        let day = 24 * 60 * 60 * 1000;
        assert!(
            ttl > day && ttl <= day + 60 * 60 * 1000,
            "{key}: PTTL {ttl}"
        );
    }
    assert!(slots.windows(2).all(|w| w[0] == w[1]), "{slots:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_partition_whose_keys_redis_evicted_one_at_a_time_heals_before_the_next_operation() {
    let server = RedisServer::start("partition_heals");
    let store = redis_store(&server, CacheLimits::default(), OverflowPolicy::Evict).await;
    let a = p("heal");
    for i in 0..20 {
        store
            .set(&a, &format!("k{i:02}"), "v", SetOptions::default(), NOW)
            .await
            .unwrap();
    }
    let full = store.usage(&a).await.unwrap();
    assert_eq!((full.entries, full.bytes), (20, 20 * 4));
    let [entries, recency, meta] = store.partition_keys(&a);
    let client = redis::Client::open(server.url()).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let del = async |conn: &mut redis::aio::MultiplexedConnection, key: &str| {
        let _: i64 = redis::cmd("DEL").arg(key).query_async(conn).await.unwrap();
    };

    // The byte total and sequence gone: rebuilt from the entries.
    del(&mut conn, &meta).await;
    assert_eq!(store.usage(&a).await.unwrap(), full);
    // The recency set gone: rebuilt, and the quota still holds on the next write.
    del(&mut conn, &recency).await;
    store
        .set(&a, "k20", "v", SetOptions::default(), NOW)
        .await
        .unwrap();
    let usage = store.usage(&a).await.unwrap();
    assert_eq!((usage.entries, usage.bytes), (20, 20 * 4));
    assert!(
        store.get(&a, "k20", NOW).await.unwrap().is_some(),
        "the new entry stays"
    );
    // The entries gone: the partition is empty, not haunted by its old totals.
    del(&mut conn, &entries).await;
    assert_eq!(
        store.usage(&a).await.unwrap(),
        cachet_limits::Usage::default()
    );
    store
        .set(&a, "fresh", "v", SetOptions::default(), NOW)
        .await
        .unwrap();
    let usage = store.usage(&a).await.unwrap();
    assert_eq!((usage.entries, usage.bytes), (1, 6));
}

/// Redis Cluster's slot of a hash tag (CRC16/XMODEM mod 16384), for servers without cluster
/// mode, which refuse `CLUSTER KEYSLOT`.
fn keyslot(tag: &str) -> i64 {
    let mut crc: u16 = 0;
    for b in tag.bytes() {
        crc ^= u16::from(b) << 8;
        for _ in 0..8 {
            crc = if crc & 0x8000 != 0 {
                (crc << 1) ^ 0x1021
            } else {
                crc << 1
            };
        }
    }
    i64::from(crc % 16384)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_redis_down_reads_miss_writes_fail_with_their_codes_and_it_recovers_by_itself() {
    let mut server = RedisServer::start("redis_down");
    let url = redis_url(&server);
    let options = RedisOptions {
        timeout: Duration::from_millis(300),
        connect_timeout: Duration::from_millis(300),
        ..RedisOptions::default()
    };
    let store = RedisStore::connect(&url, CacheLimits::default(), OverflowPolicy::Evict, options)
        .await
        .unwrap();
    let a = p("outage");
    store
        .set(&a, "k", "v", SetOptions::default(), NOW)
        .await
        .unwrap();

    server.kill();
    assert!(store.get(&a, "k", NOW).await.is_err(), "a failed read");
    assert!(matches!(
        store.set(&a, "k2", "v", SetOptions::default(), NOW).await,
        Err(CacheError::FailedToSetCacheRecord { .. })
    ));
    assert!(matches!(
        store.delete(&a, "k", NOW).await,
        Err(CacheError::FailedToDeleteCacheRecord { .. })
    ));
    assert!(
        store.failures() >= 3,
        "{} failures counted",
        store.failures()
    );

    // Back, empty (persistence is off): the same store reconnects by itself. Reconnection
    // runs in the background, so the first calls after the restart may still fail.
    server.restart();
    let mut recovered = false;
    for _ in 0..100 {
        if store
            .set(&a, "k3", "v", SetOptions::default(), NOW)
            .await
            .is_ok()
        {
            recovered = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(recovered, "the store never reconnected");
    assert_eq!(store.get(&a, "k3", NOW).await.unwrap().unwrap().value, "v");
}

// ---------------------------------------------------------------------------------------------
// Snapshot file

fn entry(key: &str, value: &str, expires_at: u64) -> SnapshotEntry {
    SnapshotEntry {
        key: key.into(),
        value: value.into(),
        expires_at,
    }
}

#[tokio::test]
async fn a_reopened_file_store_has_every_partition_in_its_recency_order() {
    let dir = temp_dir("reopen");
    let path = dir.join("cache.json");
    let clock = ManualClock::new(NOW);
    let store = open_file(&path, &clock, FileStoreOptions::default()).await;
    for tenant in ["a", "b", "c"] {
        for k in ["x", "y", "z"] {
            store
                .set(&p(tenant), k, tenant, SetOptions::default(), NOW)
                .await
                .unwrap();
        }
    }
    store.get(&p("b"), "x", NOW).await.unwrap(); // x becomes b's most recently used
    store.flush().await.unwrap();
    let before: Vec<_> = [
        store.snapshot(&p("a"), NOW).await.unwrap(),
        store.snapshot(&p("b"), NOW).await.unwrap(),
    ]
    .into();
    drop(store);

    let (store, report) = open_file_report(&path, &clock, FileStoreOptions::default()).await;
    assert_eq!((report.partitions, report.entries.restored), (3, 9));
    let after: Vec<_> = [
        store.snapshot(&p("a"), NOW).await.unwrap(),
        store.snapshot(&p("b"), NOW).await.unwrap(),
    ]
    .into();
    assert_eq!(after, before);
    let b_keys: Vec<_> = after[1].iter().map(|e| e.key.as_str()).collect();
    assert_eq!(b_keys, ["y", "z", "x"]);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}

/// A file store in a fresh directory, its timer off, after one write of `k`.
async fn store_without_timer_holding_k(tag: &str) -> (Scratch, FileStore) {
    let path = Scratch::file(&format!("stores-{tag}"), "cache.json");
    let options = FileStoreOptions {
        flush_interval: Duration::ZERO,
    };
    let store = open_file(&path, &ManualClock::new(NOW), options).await;
    store
        .set(&p("t"), "k", "v", SetOptions::default(), NOW)
        .await
        .unwrap();
    (path, store)
}

#[tokio::test]
async fn dropping_a_file_store_writes_what_changed_since_the_last_flush() {
    let (path, store) = store_without_timer_holding_k("drop").await;
    assert!(store.is_dirty());
    assert!(
        !path.exists(),
        "nothing is written before a flush, the timer or a drop"
    );
    drop(store);
    let file = state_file::read(&path).unwrap().unwrap();
    assert_eq!(
        file.partitions[0].entries,
        [entry("k", "v", NOW + 900_000)] // the 15 min default lifetime
    );
}

#[tokio::test]
async fn a_flush_writes_only_when_something_changed() {
    let (path, store) = store_without_timer_holding_k("clean").await;
    store.flush().await.unwrap();
    std::fs::remove_file(&path).unwrap();
    store.flush().await.unwrap();
    assert!(
        !path.exists(),
        "a flush with nothing changed wrote the file"
    );
    // A miss changes nothing either; a hit moves recency, which is worth keeping.
    assert!(store.get(&p("t"), "nope", NOW).await.unwrap().is_none());
    store.flush().await.unwrap();
    assert!(!path.exists(), "a miss made the store dirty");
    store.get(&p("t"), "k", NOW).await.unwrap().unwrap();
    store.flush().await.unwrap();
    assert!(path.exists(), "a hit was not written");
}

#[tokio::test(start_paused = true)]
async fn the_timer_writes_changes_without_a_flush() {
    let dir = temp_dir("timer");
    let path = dir.join("cache.json");
    let clock = ManualClock::new(NOW);
    let store = open_file(&path, &clock, FileStoreOptions::default()).await;
    tokio::task::yield_now().await; // the timer task starts and takes its immediate tick
    store
        .set(&p("t"), "k", "v", SetOptions::default(), NOW)
        .await
        .unwrap();
    tokio::time::advance(Duration::from_millis(999)).await;
    tokio::task::yield_now().await;
    assert!(store.is_dirty(), "written before the interval passed");
    tokio::time::advance(Duration::from_millis(2)).await;
    // The write runs on a blocking thread: wait for it (bounded), driving the timer task.
    for _ in 0..5_000 {
        if !store.is_dirty() {
            break;
        }
        tokio::task::yield_now().await;
        std::thread::sleep(Duration::from_millis(1));
    }
    assert!(!store.is_dirty(), "the timer did not write");
    let file = state_file::read(&path).unwrap().unwrap();
    assert_eq!(file.partitions.len(), 1);
}

#[tokio::test]
async fn a_corrupt_file_is_moved_aside_and_the_store_starts_empty() {
    let dir = temp_dir("corrupt");
    let path = dir.join("cache.json");
    std::fs::write(&path, b"{\"version\": 2, \"partitions\": [ trunc").unwrap();
    let clock = ManualClock::new(NOW);
    let (store, report) = open_file_report(&path, &clock, FileStoreOptions::default()).await;
    let aside = report.set_aside.clone().expect("moved aside");
    assert_eq!(
        aside,
        dir.join(format!("cache.json.corrupt-{}", NOW / 1000))
    );
    assert_eq!(
        std::fs::read(&aside).unwrap(),
        b"{\"version\": 2, \"partitions\": [ trunc"
    );
    assert_eq!(report.entries.restored, 0);
    assert_eq!(store.usage(&p("t")).await.unwrap().entries, 0);
    // And the store works and writes a fresh file.
    store
        .set(&p("t"), "k", "v", SetOptions::default(), NOW)
        .await
        .unwrap();
    store.flush().await.unwrap();
    assert_eq!(
        state_file::read(&path).unwrap().unwrap().partitions.len(),
        1
    );
}

#[tokio::test]
async fn loading_rechecks_every_entry_and_reports_what_it_dropped() {
    let dir = temp_dir("recheck");
    let path = dir.join("cache.json");
    let day = 86_400_000;
    let file = StateFile {
        version: state_file::VERSION,
        saved_at_ms: NOW,
        partitions: vec![
            PartitionSnapshot {
                tenant: "acme".into(),
                trigger: "post-login".into(),
                entries: vec![
                    entry("expired", "v", NOW),
                    entry("too-big", &"x".repeat(4097), NOW + 1),
                    entry("far", "v", NOW + 10 * day),
                    entry("fine", "v", NOW + 5),
                    entry("fine", "again", NOW + 6),
                ],
            },
            PartitionSnapshot {
                tenant: "acme".into(),
                // A trigger Cachet does not have.
                trigger: "pre-login".into(),
                entries: vec![entry("k", "v", NOW + 5)],
            },
        ],
        continuations: Vec::new(),
    };
    state_file::write(&path, &file).unwrap();
    let clock = ManualClock::new(NOW);
    let (store, report) = open_file_report(&path, &clock, FileStoreOptions::default()).await;
    let e = report.entries;
    assert_eq!(
        (e.restored, e.expired, e.oversized, e.clamped, e.duplicates),
        (2, 1, 1, 1, 1)
    );
    assert_eq!(report.unknown_triggers, 1);
    assert!(report.set_aside.is_none());
    let kept = store.snapshot(&p("acme"), NOW).await.unwrap();
    assert_eq!(
        kept,
        [
            entry("far", "v", NOW + day),
            entry("fine", "again", NOW + 6)
        ]
    );
}

/// The writer process: `snapshot-writer PATH` counts up in one partition, flushing after each
/// step and printing the number it flushed, until it is killed.
fn spawn_writer(path: &Path) -> std::process::Child {
    std::process::Command::new(env!("CARGO_BIN_EXE_snapshot-writer"))
        .arg(path)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::inherit())
        .spawn()
        .unwrap()
}

fn counter_in(path: &Path) -> u64 {
    let file = state_file::read(path)
        .unwrap_or_else(|e| panic!("the file is not a complete snapshot: {e}"))
        .expect("a file");
    let counter = file
        .partitions
        .iter()
        .find(|p| p.tenant == "counter")
        .expect("the counter partition");
    counter
        .entries
        .iter()
        .find(|e| e.key == "n")
        .unwrap()
        .value
        .parse()
        .unwrap()
}

#[test]
fn a_writer_killed_at_any_moment_leaves_the_previous_or_next_snapshot_and_loses_nothing_flushed() {
    use std::io::BufRead;
    let dir = temp_dir("sigkill");
    let path = dir.join("cache.json");
    let mut last_flushed: Option<u64> = None;
    for round in 0..25u64 {
        let mut child = spawn_writer(&path);
        let mut lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
        // Kill after a varying number of flushes, while the next write (and the timer's) runs.
        let wait_for = 1 + (round * 7) % 13;
        for _ in 0..wait_for {
            let line = lines.next().expect("the writer exited early").unwrap();
            let n: u64 = line.parse().unwrap();
            if let Some(prev) = last_flushed {
                assert!(n > prev, "the writer went back from {prev} to {n}");
            }
            last_flushed = Some(n);
        }
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        // What it flushed and printed after the lines read, before the kill landed (on a busy
        // machine it runs on for several steps). A line cut by the kill is a prefix of its
        // number, smaller than the one before it, so it is never taken.
        for line in lines.map_while(Result::ok) {
            if let Ok(n) = line.parse::<u64>()
                && last_flushed.is_none_or(|prev| n > prev)
            {
                last_flushed = Some(n);
            }
        }
        let last = last_flushed.unwrap();
        let found = counter_in(&path);
        assert!(
            found == last || found == last + 1,
            "round {round}: flushed {last}, the file has {found}"
        );
        // The next writer continues from the file; reports must go on increasing.
        last_flushed = Some(found);
    }
    // A store opened afterwards removes the killed writers' temporary files.
    let rt = tokio::runtime::Runtime::new().unwrap();
    let report = rt.block_on(async {
        let (_, report) = FileStore::open(
            &path,
            CacheLimits::default(),
            OverflowPolicy::Evict,
            Arc::new(ManualClock::new(NOW)),
            FileStoreOptions::default(),
        )
        .await
        .unwrap();
        report
    });
    assert!(report.set_aside.is_none());
    let leftovers: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

// ---------------------------------------------------------------------------------------------
// A store that fails, as seen by an action

/// A memory store that can be switched to fail every operation, as an unreachable remote
/// store does, or to never answer, as a hung one does.
struct FailingStore {
    inner: MemoryStore,
    failing: std::sync::atomic::AtomicBool,
    hanging: std::sync::atomic::AtomicBool,
    /// Reads partitions ahead of flows, as a remote store does (from `inner`'s snapshot).
    reads_ahead: std::sync::atomic::AtomicBool,
    /// Calls of `get`.
    gets: AtomicUsize,
    /// Moves this clock by this much after each read-ahead (time passing while the flow runs).
    after_read: std::sync::Mutex<Option<(ManualClock, u64)>>,
}

impl FailingStore {
    fn new() -> Self {
        Self {
            inner: MemoryStore::new(CacheLimits::default(), OverflowPolicy::Evict),
            failing: std::sync::atomic::AtomicBool::new(false),
            hanging: std::sync::atomic::AtomicBool::new(false),
            reads_ahead: std::sync::atomic::AtomicBool::new(false),
            gets: AtomicUsize::new(0),
            after_read: std::sync::Mutex::new(None),
        }
    }

    /// Whether to fail now (after hanging forever, if told to hang).
    async fn failing(&self) -> bool {
        if self.hanging.load(Ordering::Relaxed) {
            std::future::pending::<()>().await;
        }
        self.failing.load(Ordering::Relaxed)
    }
}

#[async_trait::async_trait]
impl CacheStore for FailingStore {
    async fn get(
        &self,
        partition: &PartitionKey,
        key: &str,
        now_ms: u64,
    ) -> Result<Option<cachet_limits::CacheRecord>, cachet_runtime::StoreError> {
        self.gets.fetch_add(1, Ordering::Relaxed);
        if self.failing().await {
            return Err(cachet_runtime::StoreError::Backend(
                "injected outage".into(),
            ));
        }
        self.inner.get(partition, key, now_ms).await
    }

    async fn set(
        &self,
        partition: &PartitionKey,
        key: &str,
        value: &str,
        options: SetOptions,
        now_ms: u64,
    ) -> Result<cachet_limits::CacheRecord, CacheError> {
        if self.failing().await {
            return Err(CacheError::FailedToSetCacheRecord {
                reason: "injected outage".into(),
            });
        }
        self.inner.set(partition, key, value, options, now_ms).await
    }

    async fn delete(
        &self,
        partition: &PartitionKey,
        key: &str,
        now_ms: u64,
    ) -> Result<(), CacheError> {
        if self.failing().await {
            return Err(CacheError::FailedToDeleteCacheRecord {
                reason: "injected outage".into(),
            });
        }
        self.inner.delete(partition, key, now_ms).await
    }

    async fn usage(
        &self,
        partition: &PartitionKey,
    ) -> Result<cachet_limits::Usage, cachet_runtime::StoreError> {
        self.inner.usage(partition).await
    }

    async fn read_ahead(
        &self,
        partition: &PartitionKey,
        now_ms: u64,
    ) -> Result<Option<cachet_runtime::ReadAhead>, cachet_runtime::StoreError> {
        if !self.reads_ahead.load(Ordering::Relaxed) {
            return Ok(None);
        }
        if self.failing().await {
            return Err(cachet_runtime::StoreError::Backend(
                "injected outage".into(),
            ));
        }
        let entries = self.inner.snapshot(partition, now_ms).await?;
        if let Some((clock, ms)) = &*self.after_read.lock().unwrap() {
            clock.advance(*ms);
        }
        Ok(Some(cachet_runtime::ReadAhead::new(entries)))
    }

    async fn snapshot(
        &self,
        partition: &PartitionKey,
        now_ms: u64,
    ) -> Result<Vec<SnapshotEntry>, cachet_runtime::StoreError> {
        self.inner.snapshot(partition, now_ms).await
    }

    async fn restore(
        &self,
        partition: &PartitionKey,
        entries: Vec<SnapshotEntry>,
        now_ms: u64,
    ) -> Result<cachet_limits::RestoreReport, cachet_runtime::StoreError> {
        self.inner.restore(partition, entries, now_ms).await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_store_reads_as_a_miss_and_writes_fail_with_codes_charged_to_the_budget() {
    let store = Arc::new(FailingStore::new());
    let (builder, clock) = cachet_tests::harness();
    let rt = builder.store(store.clone()).build().unwrap();
    let healthy = crate::cache_ops(
        &rt,
        "acme",
        serde_json::json!([{ "op": "set", "key": "k", "value": "v" }]),
    )
    .await;
    assert_eq!(healthy[0]["value"], "v");
    let before = store
        .inner
        .snapshot(&p("acme"), cachet_runtime::Clock::now_ms(&clock))
        .await
        .unwrap();

    store.failing.store(true, Ordering::Relaxed);
    let action = cachet_tests::load(&rt, cachet_tests::guests::CACHE_OPS, Trigger::PostLogin);
    let ops = serde_json::json!([
        { "op": "get", "key": "k" },
        { "op": "set", "key": "k2", "value": "v" },
        { "op": "delete", "key": "k" },
    ]);
    let r = rt
        .execute_actions(
            "acme",
            Trigger::PostLogin,
            &[action],
            &crate::ops_event(ops),
        )
        .bounded()
        .await
        .unwrap();
    assert_eq!(r.outcome, cachet_runtime::Outcome::Success, "{r:#?}");
    let results = crate::claim(&r, "results").as_array().unwrap().clone();
    assert_eq!(
        results[0],
        serde_json::Value::Null,
        "a failed read is a miss"
    );
    assert_eq!(results[1]["error"], "FailedToSetCacheRecord");
    assert_eq!(results[2]["error"], "FailedToDeleteCacheRecord");
    assert_eq!(
        r.actions[0].cache_writes, 2,
        "failed writes are charged to the budget"
    );
    let after = store
        .inner
        .snapshot(&p("acme"), cachet_runtime::Clock::now_ms(&clock))
        .await
        .unwrap();
    assert_eq!(after, before, "the partition is unchanged");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn when_the_read_ahead_fails_the_flows_reads_miss_without_asking_again_and_writes_still_try()
{
    let store = Arc::new(FailingStore::new());
    store.reads_ahead.store(true, Ordering::Relaxed);
    let (builder, _clock) = cachet_tests::harness();
    let rt = builder.store(store.clone()).build().unwrap();
    let set = serde_json::json!([{ "op": "set", "key": "k", "value": "v" }]);
    crate::cache_ops(&rt, "acme", set).await;
    // Healthy: the read is answered from the read-ahead, not by `get`.
    let read = serde_json::json!([{ "op": "get", "key": "k" }]);
    let results = crate::cache_ops(&rt, "acme", read).await;
    assert_eq!(results[0]["value"], "v");
    assert_eq!(store.gets.load(Ordering::Relaxed), 0);

    store.failing.store(true, Ordering::Relaxed);
    let ops = serde_json::json!([
        { "op": "get", "key": "k" },
        { "op": "get", "key": "k" },
        { "op": "set", "key": "k2", "value": "v" },
        { "op": "get", "key": "k2" },
    ]);
    let results = crate::cache_ops(&rt, "acme", ops).await;
    assert_eq!(results[0], serde_json::Value::Null, "a miss");
    assert_eq!(results[1], serde_json::Value::Null, "a miss");
    assert_eq!(results[2]["error"], "FailedToSetCacheRecord");
    assert_eq!(results[3], serde_json::Value::Null);
    assert_eq!(
        store.gets.load(Ordering::Relaxed),
        1,
        "only the read after the write asked the store"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_that_never_answers_costs_a_miss_and_failed_writes_at_the_deadline_not_the_login() {
    never_answering_store_costs_misses_and_failed_writes_not_the_login(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_ahead_that_never_answers_costs_misses_and_failed_writes_not_the_login() {
    never_answering_store_costs_misses_and_failed_writes_not_the_login(true).await;
}

async fn never_answering_store_costs_misses_and_failed_writes_not_the_login(reads_ahead: bool) {
    let store = Arc::new(FailingStore::new());
    store.hanging.store(true, Ordering::Relaxed);
    store.reads_ahead.store(reads_ahead, Ordering::Relaxed);
    let (builder, _clock) = cachet_tests::harness();
    let limits = cachet_limits::ExecutionLimits {
        flow_deadline_ms: 300,
        ..cachet_limits::ExecutionLimits::default()
    };
    let rt = builder
        .store(store.clone())
        .execution_limits(limits)
        .build()
        .unwrap();
    let action = cachet_tests::load(&rt, cachet_tests::guests::CACHE_OPS, Trigger::PostLogin);
    let ops = serde_json::json!([
        { "op": "get", "key": "k" },
        { "op": "set", "key": "k", "value": "v" },
        { "op": "delete", "key": "k" },
    ]);
    let actions = [action];
    let event = crate::ops_event(ops);
    let run = rt.execute_actions("acme", Trigger::PostLogin, &actions, &event);
    let r = tokio::time::timeout(Duration::from_secs(30), run)
        .await
        .expect("the execution hung with its store")
        .unwrap();
    assert_eq!(r.outcome, cachet_runtime::Outcome::Success, "{r:#?}");
    let results = crate::claim(&r, "results").as_array().unwrap().clone();
    assert_eq!(results[0], serde_json::Value::Null);
    assert_eq!(results[1]["error"], "FailedToSetCacheRecord");
    assert_eq!(results[2]["error"], "FailedToDeleteCacheRecord");
    if reads_ahead {
        assert_eq!(
            store.gets.load(Ordering::Relaxed),
            0,
            "the read missed at once"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_ahead_answers_reads_for_250_ms_of_the_flow_and_later_reads_ask_the_store() {
    for (elapsed, gets) in [(250, 0), (251, 1)] {
        let store = Arc::new(FailingStore::new());
        let (builder, clock) = cachet_tests::harness();
        let rt = builder.store(store.clone()).build().unwrap();
        let set = serde_json::json!([{ "op": "set", "key": "k", "value": "v" }]);
        crate::cache_ops(&rt, "acme", set).await;
        store.reads_ahead.store(true, Ordering::Relaxed);
        *store.after_read.lock().unwrap() = Some((clock.clone(), elapsed));
        let read = serde_json::json!([{ "op": "get", "key": "k" }]);
        let results = crate::cache_ops(&rt, "acme", read).await;
        assert_eq!(results[0]["value"], "v");
        assert_eq!(
            store.gets.load(Ordering::Relaxed),
            gets,
            "a read {elapsed} ms after the read-ahead was asked for"
        );
    }
}

/// What every deployment store must do (`cachet_deploy::DeployStore`): versions stored once
/// and listed oldest first, a deploy of a version never stored refused with nothing changed,
/// rollback, bindings set and removed, and the generation moving with every change and only
/// then; a component's bytes come back exactly.
async fn deploy_store_conformance(store: &dyn cachet_deploy::DeployStore) {
    use cachet_deploy::{Settings, VersionMeta};
    let component = |n: u8| -> Vec<u8> { (0..=255u8).chain([n]).collect() };
    let meta = |n: u8, at: u64| {
        VersionMeta::new(
            "acme",
            "claims",
            "post-login",
            Settings::default(),
            &component(n),
            "ci",
            at,
        )
    };
    let start = store.generation().await.unwrap();
    let (v1, v2) = (meta(1, 10), meta(2, 20));
    assert!(store.put_version(&v1, &component(1)).await.unwrap());
    assert!(
        !store.put_version(&v1, &component(1)).await.unwrap(),
        "stored once"
    );
    assert!(store.put_version(&v2, &component(2)).await.unwrap());
    assert_eq!(
        store.generation().await.unwrap(),
        start + 2,
        "one step per new version"
    );
    assert_eq!(
        store.versions("acme", "claims").await.unwrap(),
        vec![v1.clone(), v2.clone()]
    );
    assert!(store.versions("globex", "claims").await.unwrap().is_empty());
    assert_eq!(
        store
            .component("acme", "claims", &v2.version)
            .await
            .unwrap(),
        Some(component(2))
    );
    assert_eq!(
        store.version("acme", "claims", &v1.version).await.unwrap(),
        Some(v1.clone())
    );
    assert_eq!(
        store.component("acme", "claims", "missing").await.unwrap(),
        None
    );

    let refused = store.deploy("acme", "claims", "missing", "ci", 30).await;
    assert!(matches!(
        refused,
        Err(cachet_deploy::DeployStoreError::NoSuchVersion { .. })
    ));
    assert_eq!(
        store.generation().await.unwrap(),
        start + 2,
        "a refusal changes nothing"
    );
    store
        .deploy("acme", "claims", &v2.version, "ci", 30)
        .await
        .unwrap();
    store
        .bind("acme", "post-login", &["claims".to_owned()], "ci")
        .await
        .unwrap();
    let snapshot = store.snapshot().await.unwrap();
    assert_eq!(snapshot.generation, start + 4);
    assert_eq!(snapshot.deployed.len(), 1);
    assert_eq!(snapshot.deployed[0].version, v2.version);
    assert_eq!(snapshot.deployed[0].deployed_by, "ci");
    assert_eq!(snapshot.bindings[0].actions, vec!["claims".to_owned()]);
    // Rollback.
    store
        .deploy("acme", "claims", &v1.version, "ops", 40)
        .await
        .unwrap();
    let snapshot = store.snapshot().await.unwrap();
    assert_eq!(snapshot.deployed[0].version, v1.version);
    assert_eq!(snapshot.deployed[0].deployed_by, "ops");
    // Triggers are checked with the write: a credentials-exchange version of an action bound
    // into post-login is not deployed, and no action joins a flow of another trigger.
    let other = VersionMeta::new(
        "acme",
        "claims",
        "credentials-exchange",
        Settings::default(),
        &component(3),
        "ci",
        50,
    );
    assert!(store.put_version(&other, &component(3)).await.unwrap());
    let before = store.generation().await.unwrap();
    let refused = store
        .deploy("acme", "claims", &other.version, "ci", 60)
        .await;
    assert!(
        matches!(&refused, Err(cachet_deploy::DeployStoreError::TriggerMismatch { deployed, bound, .. })
            if deployed == "credentials-exchange" && bound == "post-login"),
        "{refused:?}"
    );
    let refused = store
        .bind("acme", "credentials-exchange", &["claims".to_owned()], "ci")
        .await;
    assert!(
        matches!(
            &refused,
            Err(cachet_deploy::DeployStoreError::TriggerMismatch { .. })
        ),
        "{refused:?}"
    );
    let refused = store
        .bind("acme", "post-login", &["ghost".to_owned()], "ci")
        .await;
    assert!(
        matches!(&refused, Err(cachet_deploy::DeployStoreError::NotDeployed { action, .. }) if action == "ghost"),
        "{refused:?}"
    );
    assert_eq!(
        store.generation().await.unwrap(),
        before,
        "refusals change nothing"
    );
    assert_eq!(
        store.snapshot().await.unwrap().deployed[0].version,
        v1.version
    );
    store.bind("acme", "post-login", &[], "ci").await.unwrap();
    let snapshot = store.snapshot().await.unwrap();
    assert!(snapshot.bindings.is_empty());
    assert_eq!(snapshot.generation, store.generation().await.unwrap());
}

#[tokio::test]
async fn the_memory_and_directory_deployment_stores_pass_the_deployment_conformance_suite() {
    deploy_store_conformance(&cachet_deploy::LocalDeployStore::in_memory()).await;
    let dir = temp_dir("deploy-dir");
    deploy_store_conformance(&cachet_deploy::LocalDeployStore::open(&dir).unwrap()).await;
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn the_redis_deployment_store_passes_the_deployment_conformance_suite() {
    let server = RedisServer::start("deploy-conformance");
    let store = cachet_store_redis::RedisDeployStore::connect(
        &redis_url(&server),
        "cachet",
        Duration::from_secs(5),
    )
    .await
    .unwrap();
    deploy_store_conformance(&store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_redis_deployment_store_passes_the_deployment_conformance_suite_on_a_cluster() {
    let cluster = RedisCluster::start("deploy-conformance-cluster");
    let StoreUrl::Redis(url) = cluster.url().parse().unwrap() else {
        panic!("not a Redis URL")
    };
    let store =
        cachet_store_redis::RedisDeployStore::connect(&url, "cachet", Duration::from_secs(5))
            .await
            .unwrap();
    deploy_store_conformance(&store).await;
}
