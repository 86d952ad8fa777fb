//! [`BoundedCache`]: one partition's entries, with exact quotas, lifetimes and LRU recency.
//!
//! # How the bookkeeping works
//!
//! Entries live in an [`lru::LruCache`] created *unbounded*: the `lru` crate only knows how to
//! cap the number of entries, but a partition is also capped in bytes, and under the strict
//! policy a write must be refused rather than make room. So the crate supplies the recency list
//! and this module decides what leaves it.
//!
//! `bytes` is a running total of `key.len() + value.len()` over every stored entry, expired or
//! not. It is adjusted on every insert and removal, which keeps [`BoundedCache::usage`] O(1).
//!
//! Expired entries are removed lazily: when a read or a delete meets one, and, all at once,
//! when a write would not otherwise fit. Until then they are invisible (no read returns them)
//! but still counted by [`BoundedCache::usage`]. Purging them only when room is needed is
//! enough for correctness: a write that fits with them present also fits without them, and
//! when one does not fit, every expired entry goes before any live entry is evicted.
//!
//! An entry is live while `now_ms < expires_at`; at `expires_at` it is already gone.

use lru::LruCache;
use serde::{Deserialize, Serialize};

use crate::{CacheError, CacheLimits, OverflowPolicy};

/// Options for [`BoundedCache::set`].
///
/// With neither `ttl_ms` nor `expires_at_ms` the entry gets the default lifetime; with both,
/// the earlier expiry wins. Either way the lifetime is clamped to the maximum.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SetOptions {
    /// Lifetime in milliseconds from now. `Some(0)` is refused as `ItemAlreadyExpired`.
    pub ttl_ms: Option<u64>,
    /// Absolute expiry, milliseconds since the Unix epoch. A time not after now is refused as
    /// `ItemAlreadyExpired`.
    pub expires_at_ms: Option<u64>,
    /// Write only if the key holds no live entry, else fail with `CacheKeyExists` and change
    /// nothing. This is the atomic claim that lets one execution refresh a shared value while
    /// concurrent executions see the claim and wait.
    pub if_absent: bool,
}

/// A value read from or written to the cache, with its real expiry.
///
/// ```
/// use cachet_limits::CacheRecord;
/// let r = CacheRecord { value: "v".into(), expires_at: 42 };
/// assert_eq!(serde_json::to_string(&r).unwrap(), r#"{"value":"v","expires_at":42}"#);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct CacheRecord {
    /// The stored value.
    pub value: String,
    /// When the entry expires, milliseconds since the Unix epoch.
    pub expires_at: u64,
}

/// How much of its quota a partition uses.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usage {
    /// Stored entries (expired entries not yet purged included).
    pub entries: usize,
    /// Sum of key and value bytes over the stored entries.
    pub bytes: usize,
}

/// One entry of a partition snapshot: what a store persists to restore the partition later.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SnapshotEntry {
    /// The key, as the action wrote it (partitions are namespaced by the host, not in keys).
    pub key: String,
    /// The value.
    pub value: String,
    /// Expiry, milliseconds since the Unix epoch.
    pub expires_at: u64,
}

/// What [`BoundedCache::restore`] kept and why it dropped the rest.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RestoreReport {
    /// Entries now in the partition.
    pub restored: usize,
    /// Dropped because they had expired.
    pub expired: usize,
    /// Dropped because the key or value exceeds the current limits.
    pub oversized: usize,
    /// Dropped because a later snapshot entry had the same key.
    pub duplicates: usize,
    /// Dropped (least recently used first) because the partition exceeded its entry or byte
    /// quota, which happens when limits were lowered since the snapshot was taken.
    pub evicted: usize,
    /// Kept, but with the expiry clamped to now + the maximum lifetime.
    pub clamped: usize,
}

#[derive(Debug, Clone)]
struct Entry {
    value: String,
    expires_at: u64,
}

impl Entry {
    fn is_live(&self, now_ms: u64) -> bool {
        now_ms < self.expires_at
    }
}

/// The cache of one partition: bounded in entries and bytes, with lifetimes and LRU eviction.
///
/// Every method takes `now_ms` (milliseconds since the Unix epoch) instead of reading a clock,
/// so behaviour is a pure function of the calls, and tests can move time at will.
///
/// ```
/// use cachet_limits::{BoundedCache, CacheError, CacheLimits, OverflowPolicy, SetOptions};
///
/// let mut cache = BoundedCache::new(CacheLimits::default(), OverflowPolicy::Evict);
/// let now = 1_700_000_000_000;
///
/// // A ttl of one minute; the record says when the entry really expires.
/// let opts = SetOptions { ttl_ms: Some(60_000), ..SetOptions::default() };
/// let rec = cache.set("token", "eyJ...", opts, now).unwrap();
/// assert_eq!(rec.expires_at, now + 60_000);
///
/// assert_eq!(cache.get("token", now + 59_999).unwrap().value, "eyJ...");
/// assert_eq!(cache.get("token", now + 60_000), None); // expired at its expiry
///
/// // Keys over 64 bytes are refused with Auth0's error code.
/// let err = cache.set(&"k".repeat(65), "v", SetOptions::default(), now).unwrap_err();
/// assert_eq!(err.code(), "CacheKeySizeExceeded");
///
/// // The 21st entry evicts the least recently used one.
/// for i in 0..21 {
///     cache.set(&format!("k{i}"), "v", SetOptions::default(), now).unwrap();
/// }
/// assert_eq!(cache.usage().entries, 20);
/// assert_eq!(cache.get("k0", now), None);
/// assert!(cache.get("k20", now).is_some());
/// ```
#[derive(Debug, Clone)]
pub struct BoundedCache {
    limits: CacheLimits,
    policy: OverflowPolicy,
    /// Recency order: `lru` keeps the most recently used entry at the front.
    entries: LruCache<String, Entry>,
    /// Sum of key + value bytes over `entries`, expired ones included.
    bytes: usize,
}

impl BoundedCache {
    /// An empty partition with these limits and overflow policy.
    ///
    /// The limits are taken as given; check configurations built in code with
    /// [`CacheLimits::validate`] first (deserialized ones are already checked).
    pub fn new(limits: CacheLimits, policy: OverflowPolicy) -> Self {
        Self {
            limits,
            policy,
            entries: LruCache::unbounded(),
            bytes: 0,
        }
    }

    /// The limits this partition enforces.
    pub fn limits(&self) -> &CacheLimits {
        &self.limits
    }

    /// The overflow policy this partition applies.
    pub fn policy(&self) -> OverflowPolicy {
        self.policy
    }

    /// Entries and bytes stored. Expired entries not yet purged are counted; they are dropped
    /// on the next read of them or when a write needs the room.
    pub fn usage(&self) -> Usage {
        Usage {
            entries: self.entries.len(),
            bytes: self.bytes,
        }
    }

    /// Reads a live entry and marks it most recently used.
    ///
    /// An expired entry reads as absent and is dropped on the way.
    pub fn get(&mut self, key: &str, now_ms: u64) -> Option<CacheRecord> {
        // Peek first: an expired entry must not be promoted, only dropped.
        if !self.entries.peek(key)?.is_live(now_ms) {
            self.remove(key);
            return None;
        }
        let entry = self.entries.get(key)?;
        Some(CacheRecord {
            value: entry.value.clone(),
            expires_at: entry.expires_at,
        })
    }

    /// Reads a live entry without touching recency (for inspection and tests).
    pub fn peek(&self, key: &str, now_ms: u64) -> Option<CacheRecord> {
        self.entries
            .peek(key)
            .filter(|e| e.is_live(now_ms))
            .map(|e| CacheRecord {
                value: e.value.clone(),
                expires_at: e.expires_at,
            })
    }

    /// Writes an entry and marks it most recently used.
    ///
    /// Checks, in order: key size, value size, lifetime, `if_absent`, then room. Replacing a key
    /// first frees its old bytes. If the partition would exceed its entry or byte quota, expired
    /// entries are purged; then under [`OverflowPolicy::Evict`] least recently used entries
    /// (never the one being written) are evicted until it fits, and under
    /// [`OverflowPolicy::Strict`] the write fails with [`CacheError::CacheSizeExceeded`].
    ///
    /// Any error leaves the partition as it was.
    pub fn set(
        &mut self,
        key: &str,
        value: &str,
        opts: SetOptions,
        now_ms: u64,
    ) -> Result<CacheRecord, CacheError> {
        self.check_sizes(key, value)?;
        let expires_at = self.expiry(&opts, now_ms)?;
        let existing_live = self.entries.peek(key).is_some_and(|e| e.is_live(now_ms));
        if opts.if_absent && existing_live {
            return Err(CacheError::CacheKeyExists);
        }
        let new_bytes = key.len() + value.len();
        if self.policy == OverflowPolicy::Strict {
            // Decide before touching anything, so a refused write changes nothing — not even
            // which expired entries are still stored.
            let (entries, bytes) = self.live_usage_without(key, now_ms);
            if !self.fits(entries + 1, bytes + new_bytes) {
                return Err(CacheError::CacheSizeExceeded {
                    max_entries: self.limits.max_entries,
                    max_bytes: self.limits.max_total_bytes,
                });
            }
        }

        // Take the old entry out (freeing its bytes), reusing its allocations for the new one.
        let (key_buf, mut entry) = match self.entries.pop_entry(key) {
            Some((k, old)) => {
                self.bytes -= k.len() + old.value.len();
                (k, old)
            }
            None => (
                key.to_owned(),
                Entry {
                    value: String::new(),
                    expires_at: 0,
                },
            ),
        };
        entry.value.clear();
        entry.value.push_str(value);
        entry.expires_at = expires_at;

        self.make_room(new_bytes, now_ms);
        self.entries.push(key_buf, entry);
        self.bytes += new_bytes;
        Ok(CacheRecord {
            value: value.to_owned(),
            expires_at,
        })
    }

    /// Deletes a live entry.
    ///
    /// Absent and expired keys fail with [`CacheError::CacheKeyDoesNotExist`] (an expired entry
    /// is dropped on the way, which is invisible).
    pub fn delete(&mut self, key: &str, now_ms: u64) -> Result<(), CacheError> {
        match self.remove(key) {
            Some(entry) if entry.is_live(now_ms) => Ok(()),
            _ => Err(CacheError::CacheKeyDoesNotExist),
        }
    }

    /// Drops every expired entry now, returning how many went.
    pub fn purge_expired(&mut self, now_ms: u64) -> usize {
        let expired: Vec<String> = self
            .entries
            .iter()
            .filter(|(_, e)| !e.is_live(now_ms))
            .map(|(k, _)| k.clone())
            .collect();
        for key in &expired {
            self.remove(key);
        }
        expired.len()
    }

    /// The live entries, least recently used first, for a store to persist.
    ///
    /// Restoring them in this order with [`BoundedCache::restore`] reproduces the recency order.
    pub fn snapshot(&self, now_ms: u64) -> Vec<SnapshotEntry> {
        self.entries
            .iter()
            .rev()
            .filter(|(_, e)| e.is_live(now_ms))
            .map(|(k, e)| SnapshotEntry {
                key: k.clone(),
                value: e.value.clone(),
                expires_at: e.expires_at,
            })
            .collect()
    }

    /// Rebuilds a partition from a snapshot (least recently used first), re-checking every
    /// entry against the *current* limits: expired and oversized entries are dropped, expiries
    /// beyond now + the maximum lifetime are clamped, a repeated key keeps its last occurrence,
    /// and if the partition is over quota the least recently used entries go.
    ///
    /// A snapshot is data from disk or another host, so nothing in it is trusted.
    ///
    /// ```
    /// use cachet_limits::{BoundedCache, CacheLimits, OverflowPolicy, SetOptions};
    ///
    /// let mut cache = BoundedCache::new(CacheLimits::default(), OverflowPolicy::Evict);
    /// cache.set("a", "1", SetOptions { ttl_ms: Some(10), ..Default::default() }, 0).unwrap();
    /// cache.set("b", "2", SetOptions::default(), 0).unwrap();
    /// let snap = cache.snapshot(0);
    ///
    /// let (restored, report) =
    ///     BoundedCache::restore(CacheLimits::default(), OverflowPolicy::Evict, snap, 10);
    /// assert_eq!(report.restored, 1);
    /// assert_eq!(report.expired, 1); // "a" expired at 10
    /// assert_eq!(restored.peek("b", 10).unwrap().value, "2");
    /// ```
    pub fn restore(
        limits: CacheLimits,
        policy: OverflowPolicy,
        entries: impl IntoIterator<Item = SnapshotEntry>,
        now_ms: u64,
    ) -> (Self, RestoreReport) {
        let mut cache = Self::new(limits, policy);
        let mut report = RestoreReport::default();
        let ceiling = now_ms.saturating_add(limits.max_ttl_ms);
        for SnapshotEntry {
            key,
            value,
            mut expires_at,
        } in entries
        {
            if expires_at <= now_ms {
                report.expired += 1;
                continue;
            }
            if cache.check_sizes(&key, &value).is_err() {
                report.oversized += 1;
                continue;
            }
            if expires_at > ceiling {
                expires_at = ceiling;
                report.clamped += 1;
            }
            if cache.remove(&key).is_some() {
                report.duplicates += 1;
            }
            let bytes = key.len() + value.len();
            while !cache.fits(cache.entries.len() + 1, cache.bytes + bytes) {
                cache.pop_lru();
                report.evicted += 1;
            }
            cache.entries.push(key, Entry { value, expires_at });
            cache.bytes += bytes;
        }
        report.restored = cache.entries.len();
        (cache, report)
    }

    fn check_sizes(&self, key: &str, value: &str) -> Result<(), CacheError> {
        self.limits.check_entry(key, value)
    }

    fn expiry(&self, opts: &SetOptions, now_ms: u64) -> Result<u64, CacheError> {
        self.limits.expiry(opts, now_ms)
    }

    fn fits(&self, entries: usize, bytes: usize) -> bool {
        entries <= self.limits.max_entries && bytes <= self.limits.max_total_bytes
    }

    /// Live entries and bytes, not counting `key` (which a write is about to replace).
    fn live_usage_without(&self, key: &str, now_ms: u64) -> (usize, usize) {
        self.entries
            .iter()
            .filter(|(k, e)| e.is_live(now_ms) && k.as_str() != key)
            .fold((0, 0), |(n, b), (k, e)| {
                (n + 1, b + k.len() + e.value.len())
            })
    }

    /// Frees room for one more entry of `new_bytes`: expired entries first, then (if still
    /// needed) least recently used ones. The entry being written is not in the map while this
    /// runs, so it can never be its own victim. Under the strict policy the caller has already
    /// checked that purging expired entries is enough.
    fn make_room(&mut self, new_bytes: usize, now_ms: u64) {
        if self.fits(self.entries.len() + 1, self.bytes + new_bytes) {
            return;
        }
        self.purge_expired(now_ms);
        while !self.fits(self.entries.len() + 1, self.bytes + new_bytes) {
            // Cannot run dry: validated limits guarantee one maximal entry fits an empty partition.
            if !self.pop_lru() {
                break;
            }
        }
    }

    fn pop_lru(&mut self) -> bool {
        match self.entries.pop_lru() {
            Some((k, e)) => {
                self.bytes -= k.len() + e.value.len();
                true
            }
            None => false,
        }
    }

    fn remove(&mut self, key: &str) -> Option<Entry> {
        let (k, e) = self.entries.pop_entry(key)?;
        self.bytes -= k.len() + e.value.len();
        Some(e)
    }
}

impl CacheLimits {
    /// Checks an entry's key and value sizes (in bytes), as every write does first.
    ///
    /// Stores that enforce the contract elsewhere (in a server-side script) use this and
    /// [`CacheLimits::expiry`] so that the checks and their errors are the same code.
    pub fn check_entry(&self, key: &str, value: &str) -> Result<(), CacheError> {
        if key.len() > self.max_key_bytes {
            return Err(CacheError::CacheKeySizeExceeded {
                bytes: key.len(),
                max: self.max_key_bytes,
            });
        }
        if value.len() > self.max_value_bytes {
            return Err(CacheError::CacheValueSizeExceeded {
                bytes: value.len(),
                max: self.max_value_bytes,
            });
        }
        Ok(())
    }

    /// The expiry a write with these options gets at `now_ms`: the earlier of `ttl_ms` and
    /// `expires_at_ms`, the default lifetime when neither is given, clamped to now + the
    /// maximum lifetime. A lifetime of zero or an expiry not after now is
    /// [`CacheError::ItemAlreadyExpired`]; one that overflows is [`CacheError::InvalidExpiry`].
    ///
    /// ```
    /// use cachet_limits::{CacheError, CacheLimits, DAY_MS, SetOptions};
    /// let limits = CacheLimits::default();
    /// let ttl = |ms| SetOptions { ttl_ms: Some(ms), ..SetOptions::default() };
    /// assert_eq!(limits.expiry(&ttl(5), 100), Ok(105));
    /// assert_eq!(limits.expiry(&ttl(2 * DAY_MS), 100), Ok(100 + DAY_MS)); // clamped
    /// assert_eq!(limits.expiry(&ttl(0), 100), Err(CacheError::ItemAlreadyExpired));
    /// assert_eq!(limits.expiry(&ttl(u64::MAX), 100), Err(CacheError::InvalidExpiry));
    /// ```
    pub fn expiry(&self, opts: &SetOptions, now_ms: u64) -> Result<u64, CacheError> {
        let from_ttl = match opts.ttl_ms {
            None => None,
            Some(0) => return Err(CacheError::ItemAlreadyExpired),
            Some(ttl) => Some(now_ms.checked_add(ttl).ok_or(CacheError::InvalidExpiry)?),
        };
        let from_at = match opts.expires_at_ms {
            Some(at) if at <= now_ms => return Err(CacheError::ItemAlreadyExpired),
            other => other,
        };
        let requested = match (from_ttl, from_at) {
            (Some(a), Some(b)) => a.min(b),
            (Some(t), None) | (None, Some(t)) => t,
            (None, None) => now_ms
                .checked_add(self.default_ttl_ms)
                .ok_or(CacheError::InvalidExpiry)?,
        };
        let ceiling = now_ms
            .checked_add(self.max_ttl_ms)
            .ok_or(CacheError::InvalidExpiry)?;
        Ok(requested.min(ceiling))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The running byte total must always equal a recount; every other invariant rests on it.
    fn assert_accounting(cache: &BoundedCache) {
        let recount: usize = cache
            .entries
            .iter()
            .map(|(k, e)| k.len() + e.value.len())
            .sum();
        assert_eq!(cache.bytes, recount);
    }

    #[test]
    fn byte_total_matches_a_recount_through_replace_evict_expire_and_delete() {
        let mut c = BoundedCache::new(CacheLimits::default(), OverflowPolicy::Evict);
        let ttl = |ms| SetOptions {
            ttl_ms: Some(ms),
            ..SetOptions::default()
        };
        for i in 0..40u64 {
            let v = "x".repeat((i as usize * 97) % 4000);
            c.set(&format!("k{}", i % 25), &v, ttl(5 + i), i).unwrap();
            assert_accounting(&c);
        }
        c.get("k3", 1000);
        assert_accounting(&c);
        let _ = c.delete("k4", 30);
        assert_accounting(&c);
        c.purge_expired(10_000);
        assert_accounting(&c);
        assert_eq!(c.usage(), Usage::default());
    }
}
