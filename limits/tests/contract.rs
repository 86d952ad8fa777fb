//! The cache contract (README, "The cache contract"; `cachet_limits::BoundedCache`), row by row: every limit at its boundary and one past it,
//! every error code, lifetimes, replacement, eviction order and the strict policy.

use cachet_limits::{
    ActionLimits, BoundedCache, CacheError, CacheLimits, CacheRecord, ConfigError, DAY_MS,
    DEFAULT_TTL_MS, ExecutionLimits, LimitError, OverflowPolicy, SetOptions, SnapshotEntry, Usage,
    WriteBudget,
};

const NOW: u64 = 1_700_000_000_000;

fn evict() -> BoundedCache {
    BoundedCache::new(CacheLimits::default(), OverflowPolicy::Evict)
}

fn strict() -> BoundedCache {
    BoundedCache::new(CacheLimits::default(), OverflowPolicy::Strict)
}

fn ttl(ms: u64) -> SetOptions {
    SetOptions {
        ttl_ms: Some(ms),
        ..SetOptions::default()
    }
}

fn at(ms: u64) -> SetOptions {
    SetOptions {
        expires_at_ms: Some(ms),
        ..SetOptions::default()
    }
}

fn put(c: &mut BoundedCache, key: &str, value: &str) -> Result<CacheRecord, CacheError> {
    c.set(key, value, SetOptions::default(), NOW)
}

fn keys(c: &BoundedCache) -> Vec<String> {
    c.snapshot(NOW).into_iter().map(|e| e.key).collect()
}

// --- key and value sizes -------------------------------------------------------------------

#[test]
fn key_of_64_bytes_is_accepted_and_65_is_refused() {
    let mut c = evict();
    assert!(put(&mut c, &"k".repeat(64), "v").is_ok());
    let err = put(&mut c, &"k".repeat(65), "v").unwrap_err();
    assert_eq!(err, CacheError::CacheKeySizeExceeded { bytes: 65, max: 64 });
    assert_eq!(err.code(), "CacheKeySizeExceeded");
}

#[test]
fn value_of_4096_bytes_is_accepted_and_4097_is_refused() {
    let mut c = evict();
    assert!(put(&mut c, "k", &"v".repeat(4096)).is_ok());
    let err = put(&mut c, "k2", &"v".repeat(4097)).unwrap_err();
    assert_eq!(
        err,
        CacheError::CacheValueSizeExceeded {
            bytes: 4097,
            max: 4096
        }
    );
    assert_eq!(err.code(), "CacheValueSizeExceeded");
}

#[test]
fn multibyte_utf8_is_counted_in_bytes_not_characters() {
    let mut c = evict();
    // "é" is 2 bytes: 32 of them are 64 bytes, 33 are 66.
    assert!(put(&mut c, &"é".repeat(32), "v").is_ok());
    assert_eq!(
        put(&mut c, &"é".repeat(33), "v").unwrap_err().code(),
        "CacheKeySizeExceeded"
    );
    // "€" is 3 bytes: 1365 of them are 4095 bytes, 1366 are 4098.
    assert!(put(&mut c, "a", &"€".repeat(1365)).is_ok());
    assert_eq!(
        put(&mut c, "b", &"€".repeat(1366)).unwrap_err().code(),
        "CacheValueSizeExceeded"
    );
    assert_eq!(
        c.usage().bytes,
        64 + 1 + 1 + 4095,
        "usage counts bytes of both keys and values"
    );
}

#[test]
fn an_oversized_key_is_reported_before_an_oversized_value() {
    let mut c = evict();
    let err = put(&mut c, &"k".repeat(65), &"v".repeat(5000)).unwrap_err();
    assert_eq!(err.code(), "CacheKeySizeExceeded");
}

// --- entry and byte quotas -----------------------------------------------------------------

#[test]
fn twenty_entries_fit_and_the_21st_evicts_the_least_recently_used() {
    let mut c = evict();
    for i in 0..20 {
        put(&mut c, &format!("k{i}"), "v").unwrap();
    }
    assert_eq!(c.usage().entries, 20);
    put(&mut c, "k20", "v").unwrap();
    assert_eq!(c.usage().entries, 20);
    assert_eq!(c.get("k0", NOW), None, "k0 was least recently used");
    assert!(c.get("k1", NOW).is_some());
    assert!(c.get("k20", NOW).is_some());
}

#[test]
fn a_get_refreshes_recency_so_the_next_oldest_entry_is_evicted() {
    let mut c = evict();
    for i in 0..20 {
        put(&mut c, &format!("k{i}"), "v").unwrap();
    }
    assert!(c.get("k0", NOW).is_some());
    put(&mut c, "new", "v").unwrap();
    assert!(c.get("k0", NOW).is_some(), "k0 was used, so it stays");
    assert_eq!(c.get("k1", NOW), None, "k1 became the least recently used");
}

#[test]
fn a_set_of_an_existing_key_refreshes_its_recency() {
    let mut c = evict();
    for i in 0..20 {
        put(&mut c, &format!("k{i}"), "v").unwrap();
    }
    put(&mut c, "k0", "again").unwrap();
    put(&mut c, "new", "v").unwrap();
    assert_eq!(c.get("k0", NOW).unwrap().value, "again");
    assert_eq!(c.get("k1", NOW), None);
}

#[test]
fn total_of_8192_bytes_fits_and_one_byte_more_evicts() {
    let mut c = evict();
    // Two entries of 1 + 4095 bytes each = 8192 exactly.
    put(&mut c, "a", &"x".repeat(4095)).unwrap();
    put(&mut c, "b", &"x".repeat(4095)).unwrap();
    assert_eq!(
        c.usage(),
        Usage {
            entries: 2,
            bytes: 8192
        }
    );
    // One more byte overflows: "a" (least recently used) goes.
    put(&mut c, "c", "").unwrap();
    assert_eq!(keys(&c), ["b", "c"]);
    assert_eq!(c.usage().bytes, 4096 + 1);
}

#[test]
fn eviction_removes_as_many_old_entries_as_a_large_write_needs() {
    let mut c = evict();
    for i in 0..10 {
        put(&mut c, &format!("k{i}"), &"x".repeat(700)).unwrap(); // 702 bytes each: 7020
    }
    // 4096 + 3 bytes need 4099 - (8192 - 7020) = 2927 bytes freed: five entries (3510).
    put(&mut c, "big", &"y".repeat(4096)).unwrap();
    assert_eq!(keys(&c), ["k5", "k6", "k7", "k8", "k9", "big"]);
    assert!(c.usage().bytes <= 8192);
}

#[test]
fn the_entry_being_written_is_never_its_own_eviction_victim() {
    let mut c = evict();
    put(&mut c, "a", &"x".repeat(4000)).unwrap(); // 4001 bytes
    put(&mut c, "b", &"x".repeat(4095)).unwrap(); // 4096 bytes
    // Growing "a" to 4097 bytes makes 8193: only fits if "b" goes; "a" itself must survive,
    // although it is the least recently used entry.
    put(&mut c, "a", &"y".repeat(4096)).unwrap();
    assert_eq!(keys(&c), ["a"]);
    assert_eq!(c.get("a", NOW).unwrap().value.len(), 4096);
}

#[test]
fn replacing_a_key_frees_its_old_bytes_before_checking_room() {
    let mut c = strict();
    put(&mut c, "a", &"x".repeat(4095)).unwrap();
    put(&mut c, "b", &"x".repeat(4095)).unwrap();
    // Full at 8192; replacing "a" with a same-size value must still fit under strict.
    put(&mut c, "a", &"z".repeat(4095)).unwrap();
    assert_eq!(c.usage().bytes, 8192);
    // Shrinking frees bytes.
    put(&mut c, "a", "small").unwrap();
    assert_eq!(c.usage().bytes, 1 + 5 + 1 + 4095);
}

#[test]
fn expired_entries_are_purged_before_any_live_entry_is_evicted() {
    let mut c = evict();
    put(&mut c, "old-live", "v").unwrap();
    c.set("short", "v", ttl(10), NOW).unwrap();
    for i in 0..18 {
        put(&mut c, &format!("k{i}"), "v").unwrap();
    }
    // 20 entries; "short" has expired by NOW + 10. The next write purges it and evicts nothing.
    c.set("new", "v", SetOptions::default(), NOW + 10).unwrap();
    assert!(c.get("old-live", NOW + 10).is_some());
    assert_eq!(c.usage().entries, 20);
}

#[test]
fn strict_refuses_the_21st_entry_and_changes_nothing() {
    let mut c = strict();
    for i in 0..20 {
        put(&mut c, &format!("k{i}"), "v").unwrap();
    }
    let before = c.snapshot(NOW);
    let err = put(&mut c, "k20", "v").unwrap_err();
    assert_eq!(
        err,
        CacheError::CacheSizeExceeded {
            max_entries: 20,
            max_bytes: 8192
        }
    );
    assert_eq!(err.code(), "CacheSizeExceeded");
    assert_eq!(c.snapshot(NOW), before, "contents and recency unchanged");
}

#[test]
fn strict_refuses_a_write_past_8192_bytes_and_changes_nothing() {
    let mut c = strict();
    put(&mut c, "a", &"x".repeat(4095)).unwrap();
    put(&mut c, "b", &"x".repeat(4095)).unwrap();
    let before = c.snapshot(NOW);
    assert_eq!(
        put(&mut c, "c", "").unwrap_err().code(),
        "CacheSizeExceeded"
    );
    assert_eq!(
        put(&mut c, "a", &"x".repeat(4096)).unwrap_err().code(),
        "CacheSizeExceeded"
    );
    assert_eq!(c.snapshot(NOW), before);
}

#[test]
fn strict_makes_room_from_expired_entries() {
    let mut c = strict();
    c.set("a", &"x".repeat(4095), ttl(5), NOW).unwrap();
    put(&mut c, "b", &"x".repeat(4095)).unwrap();
    c.set("c", &"x".repeat(4095), SetOptions::default(), NOW + 5)
        .unwrap();
    assert_eq!(keys_at(&c, NOW + 5), ["b", "c"]);
}

fn keys_at(c: &BoundedCache, now: u64) -> Vec<String> {
    c.snapshot(now).into_iter().map(|e| e.key).collect()
}

// --- lifetimes -----------------------------------------------------------------------------

#[test]
fn default_lifetime_is_15_minutes_as_auth0_documents() {
    let mut c = evict();
    let rec = put(&mut c, "k", "v").unwrap();
    assert_eq!(rec.expires_at, NOW + DEFAULT_TTL_MS);
    assert_eq!(DEFAULT_TTL_MS, 15 * 60 * 1000);
    assert!(c.get("k", NOW + DEFAULT_TTL_MS - 1).is_some());
    assert_eq!(c.get("k", NOW + DEFAULT_TTL_MS), None);
}

#[test]
fn ttl_sets_the_expiry_relative_to_now() {
    let mut c = evict();
    assert_eq!(c.set("k", "v", ttl(1), NOW).unwrap().expires_at, NOW + 1);
    assert!(c.get("k", NOW).is_some());
    assert_eq!(c.get("k", NOW + 1), None);
}

#[test]
fn with_both_ttl_and_expires_at_the_earlier_expiry_wins() {
    let mut c = evict();
    let both = |t, a| SetOptions {
        ttl_ms: Some(t),
        expires_at_ms: Some(a),
        if_absent: false,
    };
    assert_eq!(
        c.set("k", "v", both(1_000, NOW + 5_000), NOW)
            .unwrap()
            .expires_at,
        NOW + 1_000
    );
    assert_eq!(
        c.set("k", "v", both(5_000, NOW + 1_000), NOW)
            .unwrap()
            .expires_at,
        NOW + 1_000
    );
}

#[test]
fn lifetimes_beyond_24_hours_are_clamped_and_the_record_says_so() {
    let mut c = evict();
    assert_eq!(
        c.set("k", "v", ttl(DAY_MS + 1), NOW).unwrap().expires_at,
        NOW + DAY_MS
    );
    assert_eq!(
        c.set("k", "v", at(NOW + 10 * DAY_MS), NOW)
            .unwrap()
            .expires_at,
        NOW + DAY_MS
    );
    assert_eq!(
        c.set("k", "v", ttl(DAY_MS), NOW).unwrap().expires_at,
        NOW + DAY_MS,
        "exactly 24 h is not clamped"
    );
}

#[test]
fn zero_ttl_or_past_expires_at_is_item_already_expired() {
    let mut c = evict();
    assert_eq!(
        c.set("k", "v", ttl(0), NOW).unwrap_err(),
        CacheError::ItemAlreadyExpired
    );
    assert_eq!(
        c.set("k", "v", at(NOW), NOW).unwrap_err().code(),
        "ItemAlreadyExpired"
    );
    assert_eq!(
        c.set("k", "v", at(NOW - 1), NOW).unwrap_err().code(),
        "ItemAlreadyExpired"
    );
    assert!(c.set("k", "v", at(NOW + 1), NOW).is_ok());
    assert_eq!(c.usage().entries, 1);
}

#[test]
fn an_expiry_that_overflows_is_invalid_expiry() {
    let mut c = evict();
    let err = c.set("k", "v", ttl(u64::MAX), NOW).unwrap_err();
    assert_eq!(err, CacheError::InvalidExpiry);
    assert_eq!(err.code(), "InvalidExpiry");
    assert_eq!(c.usage().entries, 0);
}

#[test]
fn expired_entries_are_invisible_to_get_and_delete() {
    let mut c = evict();
    c.set("k", "v", ttl(100), NOW).unwrap();
    assert_eq!(c.get("k", NOW + 100), None);
    c.set("j", "v", ttl(100), NOW).unwrap();
    assert_eq!(
        c.delete("j", NOW + 100).unwrap_err(),
        CacheError::CacheKeyDoesNotExist
    );
    assert_eq!(c.usage(), Usage::default(), "both dropped on the way");
}

// --- delete, if_absent ---------------------------------------------------------------------

#[test]
fn delete_removes_a_live_entry_and_frees_its_bytes() {
    let mut c = evict();
    put(&mut c, "k", "value").unwrap();
    c.delete("k", NOW).unwrap();
    assert_eq!(c.get("k", NOW), None);
    assert_eq!(c.usage(), Usage::default());
}

#[test]
fn delete_of_an_absent_key_is_cache_key_does_not_exist() {
    let mut c = evict();
    let err = c.delete("nope", NOW).unwrap_err();
    assert_eq!(err.code(), "CacheKeyDoesNotExist");
}

#[test]
fn if_absent_claims_an_empty_key_once_and_the_second_claim_changes_nothing() {
    let mut c = evict();
    let claim = SetOptions {
        ttl_ms: Some(5_000),
        if_absent: true,
        ..SetOptions::default()
    };
    c.set("lock", "first", claim, NOW).unwrap();
    let err = c.set("lock", "second", claim, NOW).unwrap_err();
    assert_eq!(err, CacheError::CacheKeyExists);
    assert_eq!(err.code(), "CacheKeyExists");
    assert_eq!(c.get("lock", NOW).unwrap().value, "first");
    // Once the claim expires, it can be taken again.
    c.set("lock", "third", claim, NOW + 5_000).unwrap();
    assert_eq!(c.get("lock", NOW + 5_000).unwrap().value, "third");
}

// --- error codes, budget, snapshot ---------------------------------------------------------

#[test]
fn every_error_has_the_exact_auth0_code() {
    let all = [
        CacheError::CacheKeySizeExceeded { bytes: 0, max: 0 },
        CacheError::CacheValueSizeExceeded { bytes: 0, max: 0 },
        CacheError::CacheSizeExceeded {
            max_entries: 0,
            max_bytes: 0,
        },
        CacheError::ItemAlreadyExpired,
        CacheError::InvalidExpiry,
        CacheError::MaxSideEffectsExceeded { max: 0 },
        CacheError::FailedToSetCacheRecord { reason: "x".into() },
        CacheError::FailedToDeleteCacheRecord { reason: "x".into() },
        CacheError::CacheKeyDoesNotExist,
        CacheError::CacheKeyExists,
    ];
    let codes: Vec<&str> = all.iter().map(CacheError::code).collect();
    // Auth0's code strings, spelled out here rather than taken from the crate, so a typo in
    // the crate's table cannot pass.
    assert_eq!(
        codes,
        [
            "CacheKeySizeExceeded",
            "CacheValueSizeExceeded",
            "CacheSizeExceeded",
            "ItemAlreadyExpired",
            "InvalidExpiry",
            "MaxSideEffectsExceeded",
            "FailedToSetCacheRecord",
            "FailedToDeleteCacheRecord",
            "CacheKeyDoesNotExist",
            "CacheKeyExists",
        ]
    );
    assert_eq!(
        CacheError::CODES,
        codes.as_slice(),
        "the crate's list agrees"
    );
}

#[test]
fn the_101st_write_of_an_execution_is_max_side_effects_exceeded() {
    let mut budget = ExecutionLimits::default().write_budget();
    for _ in 0..100 {
        budget.charge().unwrap();
    }
    let err = budget.charge().unwrap_err();
    assert_eq!(err, CacheError::MaxSideEffectsExceeded { max: 100 });
    assert_eq!(budget.remaining(), 0);
    assert_eq!(
        WriteBudget::new(0).charge().unwrap_err().code(),
        "MaxSideEffectsExceeded"
    );
}

#[test]
fn snapshot_and_restore_keep_contents_and_recency() {
    let mut c = evict();
    for i in 0..20 {
        put(&mut c, &format!("k{i}"), "v").unwrap();
    }
    c.get("k0", NOW);
    let (mut r, report) = BoundedCache::restore(
        CacheLimits::default(),
        OverflowPolicy::Evict,
        c.snapshot(NOW),
        NOW,
    );
    assert_eq!(report.restored, 20);
    assert_eq!(r.snapshot(NOW), c.snapshot(NOW));
    put(&mut r, "new", "v").unwrap();
    assert_eq!(r.get("k1", NOW), None, "recency survived the round trip");
}

#[test]
fn restore_drops_expired_oversized_and_duplicate_entries_and_clamps_far_expiries() {
    let e = |k: &str, v: &str, exp| SnapshotEntry {
        key: k.into(),
        value: v.into(),
        expires_at: exp,
    };
    let snap = vec![
        e("expired", "v", NOW),
        e(&"k".repeat(65), "v", NOW + 1),
        e("dup", "old", NOW + 1),
        e("dup", "new", NOW + 1),
        e("far", "v", u64::MAX),
    ];
    let (c, report) =
        BoundedCache::restore(CacheLimits::default(), OverflowPolicy::Evict, snap, NOW);
    assert_eq!(
        (
            report.restored,
            report.expired,
            report.oversized,
            report.duplicates,
            report.clamped
        ),
        (2, 1, 1, 1, 1)
    );
    assert_eq!(c.peek("dup", NOW).unwrap().value, "new");
    assert_eq!(c.peek("far", NOW).unwrap().expires_at, NOW + DAY_MS);
}

#[test]
fn restore_under_lowered_limits_evicts_the_least_recently_used() {
    let snap: Vec<SnapshotEntry> = (0..10)
        .map(|i| SnapshotEntry {
            key: format!("k{i}"),
            value: "v".into(),
            expires_at: NOW + 1,
        })
        .collect();
    let limits = CacheLimits {
        max_entries: 3,
        ..CacheLimits::default()
    };
    let (c, report) = BoundedCache::restore(limits, OverflowPolicy::Strict, snap, NOW);
    assert_eq!(report.evicted, 7);
    assert_eq!(keys(&c), ["k7", "k8", "k9"]);
}

// --- configuration -------------------------------------------------------------------------

#[test]
fn inconsistent_limits_are_refused_with_a_reason() {
    let too_big_key = CacheLimits {
        max_key_bytes: 8192,
        ..CacheLimits::default()
    };
    assert!(matches!(
        too_big_key.validate(),
        Err(ConfigError::EntryLargerThanPartition { .. })
    ));
    let zero = CacheLimits {
        max_entries: 0,
        ..CacheLimits::default()
    };
    assert_eq!(
        zero.validate(),
        Err(ConfigError::Zero {
            field: "max_entries"
        })
    );
    let default_above_max = CacheLimits {
        default_ttl_ms: DAY_MS + 1,
        ..CacheLimits::default()
    };
    assert!(
        default_above_max
            .validate()
            .unwrap_err()
            .to_string()
            .contains("default_ttl_ms")
    );
    assert!(serde_json::from_str::<ExecutionLimits>(r#"{"flow_deadline_ms": 0}"#).is_err());
    assert!(serde_json::from_str::<ExecutionLimits>(r#"{"deadline": 5}"#).is_err());
    let small = serde_json::from_str::<ExecutionLimits>(r#"{"request_body_chunk_bytes": 1024}"#);
    assert!(small.unwrap_err().to_string().contains("at least 4096"));
}

#[test]
fn execution_and_action_limits_have_the_documented_defaults() {
    let e = ExecutionLimits::default();
    assert_eq!(
        (
            e.flow_deadline_ms,
            e.max_actions_per_flow,
            e.max_cache_writes,
            e.max_memory_bytes,
            e.max_event_bytes,
            e.max_log_bytes,
            e.max_module_bytes
        ),
        (20_000, 20, 100, 64 << 20, 1 << 20, 256 << 10, 64 << 20)
    );
    let a = ActionLimits::default();
    assert_eq!(
        (
            a.max_secrets,
            a.max_secret_name_chars,
            a.max_secret_value_chars
        ),
        (30, 128, 4096)
    );
}

#[test]
fn module_and_event_sizes_are_checked_at_the_boundary() {
    let e = ExecutionLimits::default();
    assert!(e.check_module_bytes(64 << 20).is_ok());
    assert_eq!(
        e.check_module_bytes((64 << 20) + 1),
        Err(LimitError::ModuleTooLarge {
            bytes: (64 << 20) + 1,
            max: 64 << 20
        })
    );
    assert!(e.check_event_bytes(1 << 20).is_ok());
    assert!(e.check_event_bytes((1 << 20) + 1).is_err());
}

#[test]
fn secrets_are_checked_at_every_boundary_without_revealing_values() {
    let a = ActionLimits::default();
    let names: Vec<String> = (0..31).map(|i| format!("S{i}")).collect();
    let thirty: Vec<(&str, &str)> = names[..30].iter().map(|n| (n.as_str(), "v")).collect();
    assert!(a.check_secrets(thirty.iter().copied()).is_ok());
    let thirty_one: Vec<(&str, &str)> = names.iter().map(|n| (n.as_str(), "v")).collect();
    assert_eq!(
        a.check_secrets(thirty_one.iter().copied()),
        Err(LimitError::TooManySecrets { count: 31, max: 30 })
    );
    let name128 = "n".repeat(128);
    assert!(a.check_secrets([(name128.as_str(), "v")]).is_ok());
    let value4096 = "ü".repeat(4096); // characters, not bytes
    assert!(a.check_secrets([("S", value4096.as_str())]).is_ok());
    let secret = format!("{}TOPSECRET", "x".repeat(4096));
    let err = a.check_secrets([("S", secret.as_str())]).unwrap_err();
    assert!(matches!(
        err,
        LimitError::SecretValueTooLong { chars: 4105, .. }
    ));
    assert!(!err.to_string().contains("TOPSECRET"));
    assert_eq!(
        a.check_secrets([("", "v")]),
        Err(LimitError::SecretNameEmpty)
    );
}

#[test]
fn overflow_policy_parses_from_its_cli_spelling() {
    assert_eq!("evict".parse(), Ok(OverflowPolicy::Evict));
    assert_eq!("strict".parse(), Ok(OverflowPolicy::Strict));
    assert!(
        "lru"
            .parse::<OverflowPolicy>()
            .unwrap_err()
            .to_string()
            .contains("evict")
    );
}
