//! Continuations kept in this process's memory: what [`MemoryStore`](super::MemoryStore) (and
//! through it [`FileStore`](super::FileStore)) holds for flows paused by a redirect.
//!
//! Beside the partitions, never in them: a continuation does not count against the 20 entries
//! an action's cache may hold. Each is taken at most once (removed as it is read, under one
//! lock), dies at its expiry, and the total kept is bounded: a burst of redirects that are
//! never continued costs at most [`MAX_PENDING_BYTES`] of memory, then new redirects fail
//! until expired ones are dropped.

use std::collections::HashMap;

use super::{PartitionKey, StoreError};
use crate::state_file::ContinuationSnapshot;

/// Most bytes of continuations one in-memory store keeps at once.
pub(crate) const MAX_PENDING_BYTES: usize = 64 * 1024 * 1024;

/// Most of them one partition may hold: a tenant's burst of unfinished redirects cannot take
/// the room every other tenant's redirects need.
pub(crate) const MAX_PARTITION_BYTES: usize = MAX_PENDING_BYTES / 4;

/// What one continuation costs besides its text (its key, the map's slot).
const OVERHEAD_BYTES: usize = 128;

#[derive(Debug)]
struct Entry {
    record: String,
    expires_at: u64,
}

/// The continuations of one store, with their total size.
#[derive(Debug, Default)]
pub(crate) struct Pending {
    map: HashMap<(PartitionKey, String), Entry>,
    bytes: usize,
    /// Bytes per partition (partitions holding none are removed).
    by_partition: HashMap<PartitionKey, usize>,
}

fn cost(id: &str, record: &str) -> usize {
    id.len() + record.len() + OVERHEAD_BYTES
}

impl Pending {
    /// Keeps `record` under `id` until `expires_at` (replacing one of the same id).
    pub(crate) fn put(
        &mut self,
        partition: &PartitionKey,
        id: &str,
        record: &str,
        expires_at: u64,
        now_ms: u64,
    ) -> Result<(), StoreError> {
        let key = (partition.clone(), id.to_owned());
        if let Some(old) = self.map.remove(&key) {
            self.release(partition, cost(id, &old.record));
        }
        let needed = cost(id, record);
        let held = |p: &Self| p.by_partition.get(partition).copied().unwrap_or(0);
        if self.bytes + needed > MAX_PENDING_BYTES || held(self) + needed > MAX_PARTITION_BYTES {
            self.prune(now_ms);
        }
        if held(self) + needed > MAX_PARTITION_BYTES {
            return Err(StoreError::Backend(format!(
                "{} bytes of this tenant's redirected flows are waiting to be continued in this \
                 host's memory, the most one partition may keep; wait for them to be continued \
                 or expire, or shorten execution_limits.continuation_ttl_ms",
                held(self)
            )));
        }
        if self.bytes + needed > MAX_PENDING_BYTES {
            return Err(StoreError::Backend(format!(
                "{} bytes of redirected flows are waiting to be continued in this host's \
                 memory, the most it keeps; wait for them to be continued or expire, shorten \
                 execution_limits.continuation_ttl_ms, or use a Redis store",
                self.bytes
            )));
        }
        self.bytes += needed;
        *self.by_partition.entry(partition.clone()).or_default() += needed;
        self.map.insert(
            key,
            Entry {
                record: record.to_owned(),
                expires_at,
            },
        );
        Ok(())
    }

    /// Removes `id` and returns its record if it is live. At most one caller gets it.
    pub(crate) fn take(
        &mut self,
        partition: &PartitionKey,
        id: &str,
        now_ms: u64,
    ) -> Option<String> {
        let entry = self.map.remove(&(partition.clone(), id.to_owned()))?;
        self.release(partition, cost(id, &entry.record));
        (entry.expires_at > now_ms).then_some(entry.record)
    }

    /// Drops every expired continuation.
    pub(crate) fn prune(&mut self, now_ms: u64) {
        let mut freed = Vec::new();
        self.map.retain(|(p, id), e| {
            let live = e.expires_at > now_ms;
            if !live {
                freed.push((p.clone(), cost(id, &e.record)));
            }
            live
        });
        for (p, bytes) in freed {
            self.release(&p, bytes);
        }
    }

    /// Takes `bytes` of `partition`'s off the totals.
    fn release(&mut self, partition: &PartitionKey, bytes: usize) {
        self.bytes -= bytes;
        if let Some(held) = self.by_partition.get_mut(partition) {
            *held -= bytes;
            if *held == 0 {
                self.by_partition.remove(partition);
            }
        }
    }

    /// Every live continuation, for a snapshot file (in a stable order).
    pub(crate) fn snapshot(&self, now_ms: u64) -> Vec<ContinuationSnapshot> {
        let mut all: Vec<ContinuationSnapshot> = self
            .map
            .iter()
            .filter(|(_, e)| e.expires_at > now_ms)
            .map(|((p, id), e)| ContinuationSnapshot {
                tenant: p.tenant.clone(),
                trigger: p.trigger.to_string(),
                id: id.clone(),
                record: e.record.clone(),
                expires_at: e.expires_at,
            })
            .collect();
        all.sort_by(|a, b| (&a.tenant, &a.trigger, &a.id).cmp(&(&b.tenant, &b.trigger, &b.id)));
        all
    }

    /// Whether nothing is kept.
    #[cfg(test)]
    pub(crate) fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Trigger;

    #[test]
    fn a_continuation_is_taken_once_and_not_after_it_expires() {
        let p = PartitionKey::new("acme", Trigger::PostLogin);
        let other = PartitionKey::new("evil", Trigger::PostLogin);
        let mut pending = Pending::default();
        pending.put(&p, "s1", "r1", 100, 0).unwrap();
        pending.put(&p, "s2", "r2", 100, 0).unwrap();
        assert_eq!(pending.take(&other, "s1", 0), None);
        assert_eq!(pending.take(&p, "s1", 99).as_deref(), Some("r1"));
        assert_eq!(pending.take(&p, "s1", 99), None);
        assert_eq!(pending.take(&p, "s2", 100), None);
        assert!(pending.is_empty());
        assert_eq!(pending.bytes, 0);
    }

    #[test]
    fn the_memory_kept_is_bounded_per_partition_and_in_all_and_expired_ones_make_room() {
        let mut pending = Pending::default();
        let record = "x".repeat(1024 * 1024);
        let tenant = |n: usize| PartitionKey::new(format!("t{n}"), Trigger::PostLogin);
        // One partition fills its quarter, and no more.
        let mut kept = 0;
        while pending
            .put(&tenant(0), &kept.to_string(), &record, 10, 0)
            .is_ok()
        {
            kept += 1;
        }
        assert!((14..=16).contains(&kept), "{kept}");
        let err = pending.put(&tenant(0), "more", &record, 10, 0).unwrap_err();
        assert!(
            err.to_string().contains("the most one partition may keep"),
            "{err}"
        );
        // Others go on until the store's bound.
        for n in 1..=4 {
            let mut i = 0;
            while i < 16
                && pending
                    .put(&tenant(n), &i.to_string(), &record, 10, 0)
                    .is_ok()
            {
                i += 1;
            }
        }
        assert!(pending.bytes <= MAX_PENDING_BYTES);
        let err = pending.put(&tenant(9), "late", &record, 20, 5).unwrap_err();
        assert!(err.to_string().contains("the most it keeps"), "{err}");
        // Once they expired, the next put prunes them.
        pending.put(&tenant(9), "late", &record, 20, 10).unwrap();
        assert_eq!(pending.snapshot(10).len(), 1);
        assert_eq!(pending.by_partition.len(), 1);
    }
}
