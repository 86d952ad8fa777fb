//! A reference model of the cache contract, for property tests of every store.
//!
//! The model keeps only live entries in a `Vec`, least recently used first, and implements
//! the contract line by line, written for clarity rather than speed. [`op_strategy`] draws
//! random operations around every limit. `limits/tests/model.rs` runs it against
//! [`BoundedCache`](crate::BoundedCache); the Redis store's tests run it against Redis.
//!
//! Enabled by the `reference-model` feature (tests only).

#![allow(clippy::cast_possible_wrap, clippy::cast_sign_loss)]

use proptest::prelude::*;

use crate::{
    CacheError, CacheLimits, CacheRecord, DAY_MS, OverflowPolicy, SetOptions, SnapshotEntry,
};

/// One live entry of the [`Model`].
#[derive(Debug, Clone)]
pub struct ModelEntry {
    /// The key.
    pub key: String,
    /// The value.
    pub value: String,
    /// When it expires.
    pub expires_at: u64,
    /// When it was written.
    pub written_at: u64,
}

/// A partition as the contract describes it: live entries only, least recently used first.
pub struct Model {
    /// The limits it enforces.
    pub limits: CacheLimits,
    /// Its overflow policy.
    pub policy: OverflowPolicy,
    /// Live entries only, least recently used first.
    pub entries: Vec<ModelEntry>,
}

impl Model {
    /// An empty model partition.
    pub fn new(limits: CacheLimits, policy: OverflowPolicy) -> Self {
        Self {
            limits,
            policy,
            entries: Vec::new(),
        }
    }

    /// Forgets every entry expired at `now`.
    pub fn drop_expired(&mut self, now: u64) {
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

    /// The contract's `get`.
    pub fn get(&mut self, key: &str, now: u64) -> Option<CacheRecord> {
        self.drop_expired(now);
        let entry = self.entries.remove(self.position(key)?);
        let record = CacheRecord {
            value: entry.value.clone(),
            expires_at: entry.expires_at,
        };
        self.entries.push(entry);
        Some(record)
    }

    /// The contract's `set`.
    pub fn set(
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

    /// The contract's `delete`.
    pub fn delete(&mut self, key: &str, now: u64) -> Result<(), CacheError> {
        self.drop_expired(now);
        let i = self.position(key).ok_or(CacheError::CacheKeyDoesNotExist)?;
        self.entries.remove(i);
        Ok(())
    }

    /// Live entries, least recently used first.
    pub fn snapshot(&self) -> Vec<SnapshotEntry> {
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

/// One step of a generated sequence.
#[derive(Debug, Clone)]
pub enum Op {
    /// Read a key.
    Get(String),
    /// Write a key; `expires_at_ms` is relative to now until [`resolve`]d.
    Set(String, String, SetOptions),
    /// Delete a key.
    Delete(String),
    /// Move the clock forward by this many ms.
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

/// Random steps: reads, writes (sizes around every limit), deletes and time jumps.
pub fn op_strategy() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => key_strategy().prop_map(Op::Get),
        5 => (key_strategy(), value_strategy(), options_strategy()).prop_map(|(k, v, o)| Op::Set(k, v, o)),
        1 => key_strategy().prop_map(Op::Delete),
        2 => prop_oneof![4 => 0u64..60_000, 1 => Just(DAY_MS)].prop_map(Op::Advance),
    ]
}

/// The default limits, or tiny partitions where eviction and refusals are frequent.
pub fn limits_strategy() -> impl Strategy<Value = CacheLimits> {
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

/// The clock at the start of a sequence.
pub const START: u64 = 1_700_000_000_000;

/// Makes an [`Op::Set`]'s relative `expires_at_ms` absolute at `now`.
pub fn resolve(opts: SetOptions, now: u64) -> SetOptions {
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
