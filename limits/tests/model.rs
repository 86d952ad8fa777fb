//! Property test: `BoundedCache` against a reference model written for clarity, not speed.
//!
//! The model keeps only live entries in a `Vec`, least recently used first, and implements
//! the cache contract (README, "The cache contract") line by line. Random sequences of get/set/delete/time jumps run against both; after
//! every step the results must agree and the invariants must hold:
//! entries <= max, bytes <= max, nothing returned past its expiry, no expiry beyond write time +
//! max lifetime, and a failed operation changed nothing.

use cachet_limits::{
    BoundedCache, CacheError, CacheLimits, CacheRecord, DAY_MS, OverflowPolicy, SetOptions,
    SnapshotEntry,
};
use proptest::prelude::*;

#[derive(Debug, Clone)]
struct ModelEntry {
    key: String,
    value: String,
    expires_at: u64,
    written_at: u64,
}

struct Model {
    limits: CacheLimits,
    policy: OverflowPolicy,
    /// Live entries only, least recently used first.
    entries: Vec<ModelEntry>,
}

impl Model {
    fn drop_expired(&mut self, now: u64) {
        self.entries.retain(|e| now < e.expires_at);
    }

    fn position(&self, key: &str) -> Option<usize> {
        self.entries.iter().position(|e| e.key == key)
    }

    fn bytes(&self) -> usize {
        self.entries
            .iter()
            .map(|e| e.key.len() + e.value.len())
            .sum()
    }

    fn get(&mut self, key: &str, now: u64) -> Option<CacheRecord> {
        self.drop_expired(now);
        let entry = self.entries.remove(self.position(key)?);
        let record = CacheRecord {
            value: entry.value.clone(),
            expires_at: entry.expires_at,
        };
        self.entries.push(entry);
        Some(record)
    }

    fn set(
        &mut self,
        key: &str,
        value: &str,
        opts: SetOptions,
        now: u64,
    ) -> Result<CacheRecord, CacheError> {
        let l = self.limits;
        if key.len() > l.max_key_bytes {
            return Err(CacheError::CacheKeySizeExceeded {
                bytes: key.len(),
                max: l.max_key_bytes,
            });
        }
        if value.len() > l.max_value_bytes {
            return Err(CacheError::CacheValueSizeExceeded {
                bytes: value.len(),
                max: l.max_value_bytes,
            });
        }
        let mut candidates = Vec::new();
        if let Some(ttl) = opts.ttl_ms {
            if ttl == 0 {
                return Err(CacheError::ItemAlreadyExpired);
            }
            candidates.push(now.checked_add(ttl).ok_or(CacheError::InvalidExpiry)?);
        }
        if let Some(at) = opts.expires_at_ms {
            if at <= now {
                return Err(CacheError::ItemAlreadyExpired);
            }
            candidates.push(at);
        }
        if candidates.is_empty() {
            candidates.push(
                now.checked_add(l.default_ttl_ms)
                    .ok_or(CacheError::InvalidExpiry)?,
            );
        }
        let ceiling = now
            .checked_add(l.max_ttl_ms)
            .ok_or(CacheError::InvalidExpiry)?;
        let expires_at = candidates.into_iter().min().unwrap_or(ceiling).min(ceiling);

        self.drop_expired(now);
        if opts.if_absent && self.position(key).is_some() {
            return Err(CacheError::CacheKeyExists);
        }
        let old_bytes = self
            .position(key)
            .map_or(0, |i| key.len() + self.entries[i].value.len());
        let old_count = usize::from(self.position(key).is_some());
        let new_bytes = key.len() + value.len();
        let fits =
            |count: usize, bytes: usize| count <= l.max_entries && bytes <= l.max_total_bytes;
        if self.policy == OverflowPolicy::Strict
            && !fits(
                self.entries.len() - old_count + 1,
                self.bytes() - old_bytes + new_bytes,
            )
        {
            return Err(CacheError::CacheSizeExceeded {
                max_entries: l.max_entries,
                max_bytes: l.max_total_bytes,
            });
        }
        if let Some(i) = self.position(key) {
            self.entries.remove(i);
        }
        while !fits(self.entries.len() + 1, self.bytes() + new_bytes) {
            self.entries.remove(0);
        }
        self.entries.push(ModelEntry {
            key: key.into(),
            value: value.into(),
            expires_at,
            written_at: now,
        });
        Ok(CacheRecord {
            value: value.into(),
            expires_at,
        })
    }

    fn delete(&mut self, key: &str, now: u64) -> Result<(), CacheError> {
        self.drop_expired(now);
        let i = self.position(key).ok_or(CacheError::CacheKeyDoesNotExist)?;
        self.entries.remove(i);
        Ok(())
    }

    fn snapshot(&self) -> Vec<SnapshotEntry> {
        self.entries
            .iter()
            .map(|e| SnapshotEntry {
                key: e.key.clone(),
                value: e.value.clone(),
                expires_at: e.expires_at,
            })
            .collect()
    }
}

#[derive(Debug, Clone)]
enum Op {
    Get(String),
    Set(String, String, SetOptions),
    Delete(String),
    Advance(u64),
}

fn key_strategy() -> impl Strategy<Value = String> {
    prop_oneof![
        // A pool a little larger than the entry limit, so collisions and overflow both happen.
        8 => (0u8..26).prop_map(|i| format!("k{i}")),
        1 => Just("é".repeat(32)),      // 64 bytes: at the limit
        1 => Just("é".repeat(33)),      // 66 bytes: over
        1 => Just("k".repeat(64)),
        1 => Just("k".repeat(65)),
        1 => Just(String::new()),
    ]
}

fn value_strategy() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => (0usize..64).prop_map(|n| "v".repeat(n)),
        2 => (900usize..2100).prop_map(|n| "m".repeat(n)),
        2 => (4000usize..4098).prop_map(|n| "L".repeat(n)),
        1 => (1360usize..1368).prop_map(|n| "€".repeat(n)), // 3 bytes each, around 4096
    ]
}

fn options_strategy() -> impl Strategy<Value = SetOptions> {
    let ttl = prop_oneof![
        4 => Just(None),
        1 => Just(Some(0)),
        3 => (1u64..200_000).prop_map(Some),
        1 => (DAY_MS - 2..DAY_MS + 3).prop_map(Some),
        1 => (0u64..3).prop_map(|d| Some(u64::MAX - d)),
    ];
    let expires_at = prop_oneof![
        4 => Just(None),
        3 => (-3i64..300_000).prop_map(Some),
        1 => Just(Some(i64::MAX)),
    ];
    (ttl, expires_at, proptest::bool::weighted(0.2)).prop_map(|(ttl_ms, rel, if_absent)| {
        SetOptions {
            ttl_ms,
            // Relative to a base time; resolved against the clock when the op runs.
            expires_at_ms: rel.map(|r| r as u64),
            if_absent,
        }
    })
}

fn op_strategy() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => key_strategy().prop_map(Op::Get),
        5 => (key_strategy(), value_strategy(), options_strategy()).prop_map(|(k, v, o)| Op::Set(k, v, o)),
        1 => key_strategy().prop_map(Op::Delete),
        2 => prop_oneof![4 => 0u64..60_000, 1 => Just(DAY_MS)].prop_map(Op::Advance),
    ]
}

fn limits_strategy() -> impl Strategy<Value = CacheLimits> {
    prop_oneof![
        3 => Just(CacheLimits::default()),
        // Tiny partitions make eviction and strict refusals frequent.
        1 => (1usize..5, 4096usize..4400, 1u64..100_000).prop_map(|(entries, slack, ttl)| CacheLimits {
            max_entries: entries,
            max_total_bytes: 64 + slack,
            max_ttl_ms: ttl,
            default_ttl_ms: ttl,
            ..CacheLimits::default()
        }),
    ]
}

const START: u64 = 1_700_000_000_000;

fn resolve(opts: SetOptions, now: u64) -> SetOptions {
    // expires_at was drawn relative to now (as i64 bits); make it absolute, keeping the
    // overflow case (i64::MAX) far in the future.
    let expires_at_ms = opts.expires_at_ms.map(|rel| {
        let rel = rel as i64;
        if rel == i64::MAX {
            u64::MAX
        } else {
            now.saturating_add_signed(rel)
        }
    });
    SetOptions {
        expires_at_ms,
        ..opts
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 10_000, ..ProptestConfig::default() })]

    #[test]
    fn bounded_cache_agrees_with_the_reference_model_and_keeps_every_invariant(
        limits in limits_strategy(),
        strict in any::<bool>(),
        ops in proptest::collection::vec(op_strategy(), 1..60),
    ) {
        let policy = if strict { OverflowPolicy::Strict } else { OverflowPolicy::Evict };
        let mut real = BoundedCache::new(limits, policy);
        let mut model = Model { limits, policy, entries: Vec::new() };
        let mut now = START;

        for op in ops {
            let before = real.snapshot(now);
            let failed = match op {
                Op::Get(key) => {
                    let got = real.get(&key, now);
                    prop_assert_eq!(&got, &model.get(&key, now));
                    if let Some(rec) = got {
                        prop_assert!(rec.expires_at > now, "returned past its expiry");
                    }
                    false
                }
                Op::Set(key, value, opts) => {
                    let opts = resolve(opts, now);
                    let got = real.set(&key, &value, opts, now);
                    prop_assert_eq!(&got, &model.set(&key, &value, opts, now));
                    if let Ok(rec) = &got {
                        prop_assert!(rec.expires_at > now && rec.expires_at <= now + limits.max_ttl_ms);
                    }
                    got.is_err()
                }
                Op::Delete(key) => {
                    let got = real.delete(&key, now);
                    prop_assert_eq!(&got, &model.delete(&key, now));
                    got.is_err()
                }
                Op::Advance(ms) => {
                    now += ms;
                    model.drop_expired(now);
                    false
                }
            };

            let after = real.snapshot(now);
            if failed {
                prop_assert_eq!(&after, &before, "a failed operation changed the partition");
            }
            prop_assert_eq!(&after, &model.snapshot(), "contents or recency order differ");
            let usage = real.usage();
            prop_assert!(usage.entries <= limits.max_entries);
            prop_assert!(usage.bytes <= limits.max_total_bytes);
            for e in &model.entries {
                prop_assert!(e.expires_at <= e.written_at + limits.max_ttl_ms);
            }
        }
    }
}
