//! A partition read whole before a flow runs, so the flow's reads need no round trip.
//!
//! On a store in another process (Redis) every cache operation is a round trip, and an
//! execution waiting for one is suspended in the middle: its instance, fiber stack and guest
//! memory stay live while up to as many others run as there are requests in flight, and the
//! work left costs more when it resumes (BENCHMARKS.md, "What a suspended execution costs").
//! A store that implements [`CacheStore::read_ahead`](super::CacheStore::read_ahead) answers
//! with the partition's live entries (at most the partition's byte quota, 8 KB under Auth0's
//! limits) before the flow's first instance starts, and the flow's `get`s are answered from
//! that until it writes.
//!
//! Serving every read of a flow from one read taken at its start is what the flow would see if
//! all its reads happened then: until the flow writes, nothing it does depends on when its reads
//! happened. Once it writes (a `set` may evict other entries, a `delete` removes one) its later
//! reads go to the store, so a flow always reads its own writes.

use std::fmt;
use std::sync::Arc;

use cachet_limits::{CacheRecord, SnapshotEntry};

/// A partition's live entries as a store read them ahead of a flow. Cheap to clone (flows that
/// started while one read was waiting to be sent may share it). Its `Debug` shows how many
/// entries and bytes it holds, never a key or a value (values are often tokens).
///
/// ```
/// use cachet_limits::SnapshotEntry;
/// use cachet_runtime::ReadAhead;
///
/// let ahead = ReadAhead::new(vec![SnapshotEntry {
///     key: "token".into(),
///     value: "eyJhb".into(),
///     expires_at: 2_000,
/// }]);
/// assert_eq!(ahead.get("token", 1_999).map(|r| r.expires_at), Some(2_000));
/// // Expired by the time it is read: a miss, as the store would answer.
/// assert!(ahead.get("token", 2_000).is_none());
/// assert!(ahead.get("other", 1_000).is_none());
/// assert_eq!(format!("{ahead:?}"), "ReadAhead { entries: 1, bytes: 10 }");
/// ```
#[derive(Clone, Default, PartialEq, Eq)]
pub struct ReadAhead {
    /// At most the partition's entry quota (20 by default): a scan is cheaper than a map.
    entries: Arc<[SnapshotEntry]>,
}

impl ReadAhead {
    /// The partition as read: its live entries, in any order, each key once.
    pub fn new(entries: Vec<SnapshotEntry>) -> Self {
        Self {
            entries: entries.into(),
        }
    }

    /// The entry under `key` if it is live at `now_ms`: what the store's
    /// [`get`](super::CacheStore::get) would have answered when the partition was read, less
    /// what expired since.
    pub fn get(&self, key: &str, now_ms: u64) -> Option<CacheRecord> {
        self.entries
            .iter()
            .find(|e| e.key == key && now_ms < e.expires_at)
            .map(|e| CacheRecord {
                value: e.value.clone(),
                expires_at: e.expires_at,
            })
    }

    /// The entries as read.
    pub fn entries(&self) -> &[SnapshotEntry] {
        &self.entries
    }
}

impl fmt::Debug for ReadAhead {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let bytes: usize = self
            .entries
            .iter()
            .map(|e| e.key.len() + e.value.len())
            .sum();
        f.debug_struct("ReadAhead")
            .field("entries", &self.entries.len())
            .field("bytes", &bytes)
            .finish()
    }
}
