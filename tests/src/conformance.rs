//! The store conformance suite: the cache contract (README, "The cache contract") checked
//! through `dyn CacheStore`, once, for every store. A store passes when [`run_all`] returns;
//! each check panics with the rule it found broken.
//!
//! Written against the trait only, with time passed in explicitly, so a store in another
//! process (Redis) is checked exactly like the embedded one.

// A panic is how a check fails: this module is test code, compiled into the test helper crate.
#![allow(clippy::unwrap_used)]

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Instant;

use cachet_limits::{CacheError, CacheLimits, OverflowPolicy, SetOptions, SnapshotEntry};
use cachet_runtime::{CacheStore, PartitionKey, Trigger};

/// Makes an empty store with the default limits and the given policy. Every call must give a
/// store whose partitions are empty (a fresh namespace for a shared server).
pub type MakeStore = dyn Fn(OverflowPolicy) -> StoreFuture;

/// What [`MakeStore`] returns: opening a store may wait (a connection, a file lock).
pub type StoreFuture = Pin<Box<dyn Future<Output = Arc<dyn CacheStore>> + Send>>;

const NOW: u64 = 1_700_000_000_000;
const DAY: u64 = 24 * 60 * 60 * 1000;
const DEFAULT_TTL: u64 = 15 * 60 * 1000;

fn p(tenant: &str) -> PartitionKey {
    PartitionKey::new(tenant, Trigger::PostLogin)
}

fn ttl(ms: u64) -> SetOptions {
    SetOptions {
        ttl_ms: Some(ms),
        ..SetOptions::default()
    }
}

fn claim() -> SetOptions {
    SetOptions {
        if_absent: true,
        ..SetOptions::default()
    }
}

/// Runs every check against stores from `make`.
pub async fn run_all(make: &MakeStore) {
    sizes_are_checked_at_the_boundary_and_one_past_it(make).await;
    empty_keys_and_values_are_entries_like_any_other(make).await;
    lifetimes_follow_precedence_clamping_and_refusals(make).await;
    expired_entries_are_never_returned(make).await;
    if_absent_claims_and_deletes_report_their_codes(make).await;
    strict_refuses_a_full_partition_and_changes_nothing(make).await;
    evict_drops_least_recently_used_first_never_the_entry_written(make).await;
    a_read_ahead_is_the_live_partition_and_its_hits_count_as_uses(make).await;
    snapshot_and_restore_round_trip(make).await;
    partitions_are_isolated_whatever_their_names(make).await;
    a_64_way_if_absent_race_has_exactly_one_winner(make).await;
    concurrent_writers_never_push_a_partition_past_its_quotas(make).await;
    continuations_are_taken_once_by_their_partition_until_they_expire(make).await;
}

/// Continuations of redirected flows: kept beside a partition (not counted in it), found only
/// in their own partition, taken at most once (of 16 concurrent takers exactly one gets it),
/// and gone once expired.
async fn continuations_are_taken_once_by_their_partition_until_they_expire(make: &MakeStore) {
    let store = make(OverflowPolicy::Evict).await;
    let a = p("acme");
    store
        .put_continuation(&a, "state-1", "record-1", NOW + 1000, NOW)
        .await
        .unwrap();
    assert_eq!(
        store.usage(&a).await.unwrap().entries,
        0,
        "not in the partition"
    );
    assert_eq!(store.snapshot(&a, NOW).await.unwrap(), vec![]);
    let other_trigger = PartitionKey::new("acme", Trigger::CredentialsExchange);
    for wrong in [p("evil"), other_trigger] {
        assert_eq!(
            store
                .take_continuation(&wrong, "state-1", NOW)
                .await
                .unwrap(),
            None
        );
    }
    assert_eq!(
        store
            .take_continuation(&a, "state-1", NOW + 999)
            .await
            .unwrap()
            .as_deref(),
        Some("record-1")
    );
    assert_eq!(
        store.take_continuation(&a, "state-1", NOW).await.unwrap(),
        None,
        "used once"
    );

    store
        .put_continuation(&a, "state-2", "record-2", NOW + 1000, NOW)
        .await
        .unwrap();
    assert_eq!(
        store
            .take_continuation(&a, "state-2", NOW + 1000)
            .await
            .unwrap(),
        None,
        "expired"
    );

    store
        .put_continuation(&a, "state-3", &"r".repeat(64 * 1024), NOW + 1000, NOW)
        .await
        .unwrap();
    let takers: Vec<_> = (0..16)
        .map(|_| {
            let (store, a) = (Arc::clone(&store), a.clone());
            tokio::spawn(async move { store.take_continuation(&a, "state-3", NOW).await })
        })
        .collect();
    let mut got = 0;
    for taker in takers {
        if let Some(record) = taker.await.unwrap().unwrap() {
            assert_eq!(record.len(), 64 * 1024);
            got += 1;
        }
    }
    assert_eq!(
        got, 1,
        "exactly one of 16 concurrent takers gets a continuation"
    );
}

async fn sizes_are_checked_at_the_boundary_and_one_past_it(make: &MakeStore) {
    let store = make(OverflowPolicy::Strict).await;
    let a = p("sizes");
    let o = SetOptions::default;
    assert!(store.set(&a, &"k".repeat(64), "v", o(), NOW).await.is_ok());
    assert!(matches!(
        store.set(&a, &"k".repeat(65), "v", o(), NOW).await,
        Err(CacheError::CacheKeySizeExceeded { .. })
    ));
    // Multi-byte characters count in bytes: 32 two-byte characters are 64 bytes.
    assert!(store.set(&a, &"é".repeat(32), "v", o(), NOW).await.is_ok());
    assert!(
        store
            .set(&a, "v", &"x".repeat(4096), o(), NOW)
            .await
            .is_ok()
    );
    assert!(matches!(
        store.set(&a, "w", &"x".repeat(4097), o(), NOW).await,
        Err(CacheError::CacheValueSizeExceeded { .. })
    ));
    let usage = store.usage(&a).await.unwrap();
    assert_eq!(usage.entries, 3);
    assert_eq!(usage.bytes, 64 + 1 + 64 + 1 + 1 + 4096);
}

async fn empty_keys_and_values_are_entries_like_any_other(make: &MakeStore) {
    let store = make(OverflowPolicy::Evict).await;
    let a = p("empty");
    let o = SetOptions::default;
    store.set(&a, "", "", o(), NOW).await.unwrap();
    assert_eq!(store.get(&a, "", NOW).await.unwrap().unwrap().value, "");
    store.set(&a, "", "", o(), NOW).await.unwrap(); // replacing frees zero bytes
    let usage = store.usage(&a).await.unwrap();
    assert_eq!((usage.entries, usage.bytes), (1, 0));
    store.delete(&a, "", NOW).await.unwrap();
    let usage = store.usage(&a).await.unwrap();
    assert_eq!((usage.entries, usage.bytes), (0, 0));
}

async fn lifetimes_follow_precedence_clamping_and_refusals(make: &MakeStore) {
    let store = make(OverflowPolicy::Evict).await;
    let a = p("lifetimes");
    let set = |key: &'static str, options: SetOptions| {
        let store = Arc::clone(&store);
        let a = a.clone();
        async move { store.set(&a, key, "v", options, NOW).await }
    };
    assert_eq!(
        set("default", SetOptions::default())
            .await
            .unwrap()
            .expires_at,
        NOW + DEFAULT_TTL,
        "the default lifetime is Auth0's 15 minutes"
    );
    assert_eq!(
        set("ttl", ttl(1_000)).await.unwrap().expires_at,
        NOW + 1_000
    );
    let both = SetOptions {
        ttl_ms: Some(5_000),
        expires_at_ms: Some(NOW + 2_000),
        ..SetOptions::default()
    };
    assert_eq!(
        set("earlier wins", both).await.unwrap().expires_at,
        NOW + 2_000
    );
    assert_eq!(
        set("clamped", ttl(2 * DAY)).await.unwrap().expires_at,
        NOW + DAY
    );
    assert!(matches!(
        set("ttl 0", ttl(0)).await,
        Err(CacheError::ItemAlreadyExpired)
    ));
    let past = SetOptions {
        expires_at_ms: Some(NOW),
        ..SetOptions::default()
    };
    assert!(matches!(
        set("past", past).await,
        Err(CacheError::ItemAlreadyExpired)
    ));
    assert!(matches!(
        set("overflow", ttl(u64::MAX)).await,
        Err(CacheError::InvalidExpiry)
    ));
    assert_eq!(
        store.usage(&a).await.unwrap().entries,
        4,
        "refused writes stored nothing"
    );
}

async fn expired_entries_are_never_returned(make: &MakeStore) {
    let store = make(OverflowPolicy::Evict).await;
    let a = p("expiry");
    store.set(&a, "k", "v", ttl(1_000), NOW).await.unwrap();
    assert!(store.get(&a, "k", NOW + 999).await.unwrap().is_some());
    assert!(store.get(&a, "k", NOW + 1_000).await.unwrap().is_none());
    assert!(matches!(
        store.delete(&a, "k", NOW + 1_000).await,
        Err(CacheError::CacheKeyDoesNotExist)
    ));
    assert!(store.snapshot(&a, NOW + 1_000).await.unwrap().is_empty());
}

async fn if_absent_claims_and_deletes_report_their_codes(make: &MakeStore) {
    let store = make(OverflowPolicy::Evict).await;
    let a = p("claims");
    store.set(&a, "c", "first", ttl(1_000), NOW).await.unwrap();
    assert!(matches!(
        store.set(&a, "c", "second", claim(), NOW).await,
        Err(CacheError::CacheKeyExists)
    ));
    assert_eq!(
        store.get(&a, "c", NOW).await.unwrap().unwrap().value,
        "first"
    );
    // Once the holder's entry expires, the claim can be taken.
    assert!(
        store
            .set(&a, "c", "second", claim(), NOW + 1_000)
            .await
            .is_ok()
    );
    assert!(store.delete(&a, "c", NOW + 1_000).await.is_ok());
    assert!(matches!(
        store.delete(&a, "c", NOW + 1_000).await,
        Err(CacheError::CacheKeyDoesNotExist)
    ));
}

/// Fills `a` with `n` entries of 400 bytes (key `k00`.. + 397-byte value).
async fn fill(store: &Arc<dyn CacheStore>, a: &PartitionKey, n: usize) {
    for i in 0..n {
        store
            .set(
                a,
                &format!("k{i:02}"),
                &"x".repeat(397),
                SetOptions::default(),
                NOW,
            )
            .await
            .unwrap();
    }
}

async fn strict_refuses_a_full_partition_and_changes_nothing(make: &MakeStore) {
    let store = make(OverflowPolicy::Strict).await;
    // By bytes: 20 x 400 = 8000; the 21st entry would need 8400.
    let bytes = p("strict-bytes");
    fill(&store, &bytes, 20).await;
    let before = store.snapshot(&bytes, NOW).await.unwrap();
    assert!(matches!(
        store
            .set(&bytes, "big", &"x".repeat(300), SetOptions::default(), NOW)
            .await,
        Err(CacheError::CacheSizeExceeded { .. })
    ));
    assert_eq!(
        store.snapshot(&bytes, NOW).await.unwrap(),
        before,
        "nothing changed"
    );
    // By count: 20 tiny entries, then one more.
    let count = p("strict-count");
    for i in 0..20 {
        store
            .set(&count, &format!("{i}"), "v", SetOptions::default(), NOW)
            .await
            .unwrap();
    }
    assert!(matches!(
        store
            .set(&count, "21st", "v", SetOptions::default(), NOW)
            .await,
        Err(CacheError::CacheSizeExceeded { .. })
    ));
    // Replacing a key frees its old bytes first: allowed even when full.
    assert!(
        store
            .set(&count, "3", "w", SetOptions::default(), NOW)
            .await
            .is_ok()
    );
    // Expired entries are purged before a write is refused.
    let expiring = p("strict-expiring");
    for i in 0..20 {
        store
            .set(&expiring, &format!("{i}"), "v", ttl(10), NOW)
            .await
            .unwrap();
    }
    assert!(
        store
            .set(&expiring, "new", "v", SetOptions::default(), NOW + 10)
            .await
            .is_ok()
    );
}

async fn evict_drops_least_recently_used_first_never_the_entry_written(make: &MakeStore) {
    let store = make(OverflowPolicy::Evict).await;
    let a = p("evict");
    fill(&store, &a, 20).await;
    // A hit counts as a use: k00 becomes the most recently used.
    assert!(store.get(&a, "k00", NOW).await.unwrap().is_some());
    store
        .set(&a, "new", &"y".repeat(397), SetOptions::default(), NOW)
        .await
        .unwrap();
    assert!(
        store.get(&a, "k01", NOW).await.unwrap().is_none(),
        "the LRU entry went"
    );
    assert!(
        store.get(&a, "k00", NOW).await.unwrap().is_some(),
        "the used entry stayed"
    );
    assert!(store.get(&a, "new", NOW).await.unwrap().is_some());
    let usage = store.usage(&a).await.unwrap();
    assert!(usage.entries <= 20 && usage.bytes <= 8192, "{usage:?}");
}

/// A store that reads partitions ahead of flows ([`CacheStore::read_ahead`]) answers with the
/// live entries as `get` would, tells the usage, and counts a hit answered from it
/// ([`CacheStore::touched`]) as a use before its next operation, in the order they came. A store
/// that does not read ahead says so with `None`, and a hit reported to it changes nothing.
async fn a_read_ahead_is_the_live_partition_and_its_hits_count_as_uses(make: &MakeStore) {
    let store = make(OverflowPolicy::Evict).await;
    let a = p("read-ahead");
    let asked = Instant::now();
    let Some(empty) = store.read_ahead(&a, NOW).await.unwrap() else {
        store
            .set(&a, "k1", "v1", SetOptions::default(), NOW)
            .await
            .unwrap();
        store
            .set(&a, "k2", "v2", SetOptions::default(), NOW)
            .await
            .unwrap();
        store.touched(&a, &["k1".to_owned()]);
        let order: Vec<_> = store.snapshot(&a, NOW).await.unwrap();
        assert_eq!(
            order[0].key, "k1",
            "a store that does not read ahead ignores touches"
        );
        return;
    };
    assert!(empty.entries().is_empty(), "{empty:?}");
    assert_eq!(
        store.usage_seen_since(&a, asked).map(|u| u.entries),
        Some(0),
        "the read tells the usage"
    );
    store
        .set(&a, "old", "gone soon", ttl(1_000), NOW)
        .await
        .unwrap();
    let k1 = store
        .set(&a, "k1", "v1", SetOptions::default(), NOW)
        .await
        .unwrap();
    let k2 = store.set(&a, "k2", "", ttl(60_000), NOW).await.unwrap();
    let later = NOW + 1_000;
    let ahead = store.read_ahead(&a, later).await.unwrap().unwrap();
    let mut keys: Vec<_> = ahead.entries().iter().map(|e| e.key.as_str()).collect();
    keys.sort_unstable();
    assert_eq!(keys, ["k1", "k2"], "live entries only");
    assert_eq!(ahead.get("k1", later), Some(k1));
    assert_eq!(ahead.get("k2", later), Some(k2.clone()));
    assert_eq!(
        ahead.get("k2", later).as_ref(),
        store.get(&a, "k2", later).await.unwrap().as_ref()
    );
    assert_eq!(ahead.get("old", later), None);
    // Recency is now k1, k2 (the `get` of k2 above used it). Hits answered from the read: k2,
    // then k1; the snapshot (an operation) applies them first.
    store.touched(&a, &["k2".to_owned()]);
    store.touched(&a, &["k1".to_owned()]);
    let order: Vec<_> = store
        .snapshot(&a, later)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.key)
        .collect();
    assert_eq!(
        order,
        ["k2", "k1"],
        "the hits made k1 the most recently used"
    );
}

async fn snapshot_and_restore_round_trip(make: &MakeStore) {
    let store = make(OverflowPolicy::Evict).await;
    let a = p("snapshot");
    store.set(&a, "one", "1", ttl(60_000), NOW).await.unwrap();
    store
        .set(&a, "two", "2", SetOptions::default(), NOW)
        .await
        .unwrap();
    let snapshot = store.snapshot(&a, NOW).await.unwrap();
    assert_eq!(snapshot.len(), 2);
    let other = make(OverflowPolicy::Evict).await;
    let mut entries = snapshot.clone();
    // Restoring re-checks: an expired entry and an oversized one are dropped and reported.
    entries.push(SnapshotEntry {
        key: "expired".into(),
        value: "v".into(),
        expires_at: NOW - 1,
    });
    entries.push(SnapshotEntry {
        key: "huge".into(),
        value: "x".repeat(5_000),
        expires_at: NOW + 1,
    });
    let report = other.restore(&a, entries, NOW).await.unwrap();
    assert_eq!(
        (report.restored, report.expired, report.oversized),
        (2, 1, 1)
    );
    assert_eq!(other.snapshot(&a, NOW).await.unwrap(), snapshot);
}

async fn partitions_are_isolated_whatever_their_names(make: &MakeStore) {
    let store = make(OverflowPolicy::Evict).await;
    // Names that a store joining strings could confuse.
    let tenants = ["a", "a/b", "a:b", "a}b", "{a}", "", " a", "a\n", "é"];
    for (i, tenant) in tenants.iter().enumerate() {
        for trigger in Trigger::ALL {
            let part = PartitionKey::new(*tenant, trigger);
            let value = format!("{i}-{trigger}");
            store
                .set(&part, "k", &value, SetOptions::default(), NOW)
                .await
                .unwrap();
        }
    }
    for (i, tenant) in tenants.iter().enumerate() {
        for trigger in Trigger::ALL {
            let part = PartitionKey::new(*tenant, trigger);
            let hit = store.get(&part, "k", NOW).await.unwrap().unwrap();
            assert_eq!(hit.value, format!("{i}-{trigger}"), "{part}");
            assert_eq!(store.usage(&part).await.unwrap().entries, 1, "{part}");
        }
    }
}

async fn a_64_way_if_absent_race_has_exactly_one_winner(make: &MakeStore) {
    let store = make(OverflowPolicy::Evict).await;
    let a = p("race");
    let tasks: Vec<_> = (0..64)
        .map(|i| {
            let store = Arc::clone(&store);
            let a = a.clone();
            tokio::spawn(async move {
                store
                    .set(&a, "claim", &format!("owner-{i}"), claim(), NOW)
                    .await
                    .is_ok()
            })
        })
        .collect();
    let mut winners = 0;
    for t in tasks {
        winners += usize::from(t.await.unwrap());
    }
    assert_eq!(winners, 1);
}

async fn concurrent_writers_never_push_a_partition_past_its_quotas(make: &MakeStore) {
    for policy in [OverflowPolicy::Evict, OverflowPolicy::Strict] {
        let store = make(policy).await;
        let a = p("writers");
        let limits = CacheLimits::default();
        let tasks: Vec<_> = (0..64)
            .map(|w| {
                let store = Arc::clone(&store);
                let a = a.clone();
                tokio::spawn(async move {
                    for i in 0..10 {
                        let value = "v".repeat(100 + (w * 37 + i * 11) % 300);
                        let _ = store
                            .set(&a, &format!("w{w}-{i}"), &value, SetOptions::default(), NOW)
                            .await;
                        let usage = store.usage(&a).await.unwrap();
                        assert!(
                            usage.entries <= limits.max_entries
                                && usage.bytes <= limits.max_total_bytes,
                            "{policy:?}: {usage:?}"
                        );
                    }
                })
            })
            .collect();
        for t in tasks {
            t.await.unwrap();
        }
    }
}
