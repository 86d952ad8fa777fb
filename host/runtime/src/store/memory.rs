//! [`MemoryStore`]: partitions in this process's memory.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError, RwLock};

use async_trait::async_trait;
use cachet_limits::{
    BoundedCache, CacheError, CacheLimits, CacheRecord, OverflowPolicy, RestoreReport, SetOptions,
    SnapshotEntry, Usage,
};

use super::pending::Pending;
use super::{CacheStore, PartitionKey, StoreError};
use crate::state_file::ContinuationSnapshot;

/// The embedded store: one [`BoundedCache`] per partition, each behind its own mutex.
///
/// The map of partitions is behind a read-write lock that is held only to find (or, once per
/// partition, create) a partition; operations then lock just that partition, so executions on
/// different partitions never wait for each other. Every operation is a few hundred
/// nanoseconds of in-memory work, so a plain mutex beats anything cleverer, and no lock is ever
/// held across an `.await`.
///
/// ```
/// # tokio_test_block_on(async {
/// use cachet_runtime::{CacheStore, MemoryStore, PartitionKey, Trigger};
/// use cachet_limits::{CacheLimits, OverflowPolicy, SetOptions};
///
/// let store = MemoryStore::new(CacheLimits::default(), OverflowPolicy::Evict);
/// let a = PartitionKey::new("tenant-a", Trigger::PostLogin);
/// let b = PartitionKey::new("tenant-b", Trigger::PostLogin);
/// store.set(&a, "k", "v", SetOptions::default(), 0).await.unwrap();
/// assert!(store.get(&a, "k", 0).await.unwrap().is_some());
/// assert!(store.get(&b, "k", 0).await.unwrap().is_none()); // partitions are separate
/// # });
/// # fn tokio_test_block_on<F: std::future::Future>(f: F) -> F::Output {
/// #     tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(f)
/// # }
/// ```
#[derive(Debug)]
pub struct MemoryStore {
    limits: CacheLimits,
    policy: OverflowPolicy,
    partitions: RwLock<HashMap<PartitionKey, Arc<Mutex<BoundedCache>>>>,
    /// Continuations of redirected flows, beside the partitions.
    pending: Mutex<Pending>,
}

impl MemoryStore {
    /// An empty store whose partitions have these limits and policy.
    pub fn new(limits: CacheLimits, policy: OverflowPolicy) -> Self {
        Self {
            limits,
            policy,
            partitions: RwLock::new(HashMap::new()),
            pending: Mutex::default(),
        }
    }

    /// The partition's cache, created empty on first use.
    fn partition(&self, key: &PartitionKey) -> Arc<Mutex<BoundedCache>> {
        // A panic while holding these locks cannot leave a BoundedCache half-updated in a way
        // that matters more than losing the process, so poisoning is ignored.
        if let Some(p) = self
            .partitions
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(key)
        {
            return Arc::clone(p);
        }
        let mut map = self
            .partitions
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        Arc::clone(
            map.entry(key.clone()).or_insert_with(|| {
                Arc::new(Mutex::new(BoundedCache::new(self.limits, self.policy)))
            }),
        )
    }

    /// The limits every partition of this store enforces.
    pub fn limits(&self) -> CacheLimits {
        self.limits
    }

    /// What a write into a full partition of this store does.
    pub fn policy(&self) -> OverflowPolicy {
        self.policy
    }

    /// The live entries of every partition that has any, least recently used first, in
    /// partition order: what a snapshot file holds.
    pub fn snapshot_all(&self, now_ms: u64) -> Vec<(PartitionKey, Vec<SnapshotEntry>)> {
        // Clone the handles first, so no partition is locked while the map is.
        let mut partitions: Vec<_> = self
            .partitions
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .map(|(k, p)| (k.clone(), Arc::clone(p)))
            .collect();
        partitions.sort_by(|a, b| a.0.cmp(&b.0));
        partitions
            .into_iter()
            .filter_map(|(key, p)| {
                let entries = p
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .snapshot(now_ms);
                (!entries.is_empty()).then_some((key, entries))
            })
            .collect()
    }

    /// Every live continuation: what a snapshot file holds beside the partitions.
    pub fn continuations(&self, now_ms: u64) -> Vec<ContinuationSnapshot> {
        self.pending().snapshot(now_ms)
    }

    /// Keeps the live continuations of a snapshot; returns how many were kept (an expired
    /// one, one of an unknown trigger, or one past the memory bound is dropped).
    pub fn restore_continuations(
        &self,
        continuations: Vec<ContinuationSnapshot>,
        now_ms: u64,
    ) -> usize {
        let mut pending = self.pending();
        continuations
            .into_iter()
            .filter(|c| c.expires_at > now_ms)
            .filter_map(|c| {
                Some((
                    PartitionKey::new(c.tenant, c.trigger.parse().ok()?),
                    c.id,
                    c.record,
                    c.expires_at,
                ))
            })
            .filter(|(p, id, record, expires_at)| {
                pending.put(p, id, record, *expires_at, now_ms).is_ok()
            })
            .count()
    }

    fn pending(&self) -> std::sync::MutexGuard<'_, Pending> {
        self.pending.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// [`CacheStore::restore`], synchronously (it never waits for anything).
    pub(super) fn restore_now(
        &self,
        partition: &PartitionKey,
        entries: Vec<SnapshotEntry>,
        now_ms: u64,
    ) -> RestoreReport {
        let (cache, report) = BoundedCache::restore(self.limits, self.policy, entries, now_ms);
        self.with(partition, |c| *c = cache);
        report
    }

    fn with<R>(&self, key: &PartitionKey, f: impl FnOnce(&mut BoundedCache) -> R) -> R {
        let partition = self.partition(key);
        let mut cache = partition.lock().unwrap_or_else(PoisonError::into_inner);
        f(&mut cache)
    }
}

#[async_trait]
impl CacheStore for MemoryStore {
    async fn get(
        &self,
        partition: &PartitionKey,
        key: &str,
        now_ms: u64,
    ) -> Result<Option<CacheRecord>, StoreError> {
        Ok(self.with(partition, |c| c.get(key, now_ms)))
    }

    async fn set(
        &self,
        partition: &PartitionKey,
        key: &str,
        value: &str,
        options: SetOptions,
        now_ms: u64,
    ) -> Result<CacheRecord, CacheError> {
        self.with(partition, |c| c.set(key, value, options, now_ms))
    }

    async fn delete(
        &self,
        partition: &PartitionKey,
        key: &str,
        now_ms: u64,
    ) -> Result<(), CacheError> {
        self.with(partition, |c| c.delete(key, now_ms))
    }

    async fn usage(&self, partition: &PartitionKey) -> Result<Usage, StoreError> {
        Ok(self.with(partition, |c| c.usage()))
    }

    async fn snapshot(
        &self,
        partition: &PartitionKey,
        now_ms: u64,
    ) -> Result<Vec<SnapshotEntry>, StoreError> {
        Ok(self.with(partition, |c| c.snapshot(now_ms)))
    }

    async fn restore(
        &self,
        partition: &PartitionKey,
        entries: Vec<SnapshotEntry>,
        now_ms: u64,
    ) -> Result<RestoreReport, StoreError> {
        Ok(self.restore_now(partition, entries, now_ms))
    }

    async fn put_continuation(
        &self,
        partition: &PartitionKey,
        id: &str,
        record: &str,
        expires_at_ms: u64,
        now_ms: u64,
    ) -> Result<(), StoreError> {
        self.pending()
            .put(partition, id, record, expires_at_ms, now_ms)
    }

    async fn take_continuation(
        &self,
        partition: &PartitionKey,
        id: &str,
        now_ms: u64,
    ) -> Result<Option<String>, StoreError> {
        Ok(self.pending().take(partition, id, now_ms))
    }
}
