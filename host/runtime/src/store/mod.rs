//! Cache stores: where partitions live.
//!
//! Every store enforces the same contract (the README's "The cache contract", implemented by
//! [`cachet_limits::BoundedCache`]); what differs
//! is where the bytes are and who shares them. The host calls a store once per cache operation
//! an action makes, passing the partition explicitly: keys are never rewritten or prefixed by
//! the guest, so no key string can reach another partition.

mod file;
mod inspect;
mod memory;
mod pending;
mod read_ahead;
mod url;

pub use file::{FileStore, FileStoreError, FileStoreOptions, LoadReport};
pub use inspect::{
    EntryReport, PartitionName, PartitionReport, RedactedValue, UsageReport, inspect,
};
pub use memory::MemoryStore;
pub use read_ahead::ReadAhead;
pub use url::{RedisUrl, StoreUrl, StoreUrlError};

use std::fmt;
use std::time::Instant;

use crate::Trigger;

use async_trait::async_trait;
use cachet_limits::{CacheError, CacheRecord, RestoreReport, SetOptions, SnapshotEntry, Usage};
use serde::{Deserialize, Serialize};

/// One cache partition: one tenant's one trigger. All actions of that flow share it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct PartitionKey {
    /// The tenant id.
    pub tenant: String,
    /// The trigger.
    pub trigger: Trigger,
}

impl PartitionKey {
    /// The partition of `tenant`'s `trigger`.
    pub fn new(tenant: impl Into<String>, trigger: Trigger) -> Self {
        Self {
            tenant: tenant.into(),
            trigger,
        }
    }
}

impl fmt::Display for PartitionKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.tenant, self.trigger)
    }
}

/// A store failed for a reason of its own (not a quota): unreachable, slow, or answering with
/// something it should not. Messages never hold keys, values or passwords; the `Display`
/// message is "cache store unavailable: " and [`StoreError::detail`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum StoreError {
    /// The store did not answer within its timeout.
    TimedOut(std::time::Duration),
    /// The store, or the connection to it, failed the operation; the backend's own words.
    Backend(String),
    /// The store answered with a reply of a shape Cachet never writes (another program's data
    /// under Cachet's keys, or a server that is not what the URL promised).
    UnexpectedReply {
        /// What was being read ("text", "count", "snapshot", …).
        operation: &'static str,
        /// What the reply looked like (its type and size, never its content).
        shape: String,
    },
    /// The cache state file could not be written; the cache keeps working in memory.
    StateFile(String),
    /// The store does not implement this operation (a store written before it existed).
    Unsupported(&'static str),
}

impl StoreError {
    /// What went wrong, without the "cache store unavailable" every message starts with: the
    /// `reason` of a [`cachet_limits::CacheError::FailedToSetCacheRecord`] it becomes.
    pub fn detail(&self) -> String {
        match self {
            Self::TimedOut(timeout) => format!("no answer within {timeout:?}"),
            Self::Backend(reason) => reason.clone(),
            Self::UnexpectedReply { operation, shape } => format!(
                "unexpected reply for {operation} ({shape}); is this a Redis-compatible server, \
                 and are Cachet's keys its own?"
            ),
            Self::StateFile(reason) => format!("cannot write the cache state file: {reason}"),
            Self::Unsupported(what) => format!(
                "this store does not keep {what}; use the memory, file or Redis store, or \
                 implement the CacheStore methods for it"
            ),
        }
    }
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "cache store unavailable: {}", self.detail())
    }
}

impl std::error::Error for StoreError {}

/// Where cache partitions live. Implementations enforce the cache contract of [`cachet_limits::BoundedCache`] exactly and atomically per
/// operation; the host adds the per-execution write budget on top.
///
/// `now_ms` is passed in by the host (from its [`Clock`](crate::Clock)) so every store agrees
/// on time with the actions, and tests can move it.
#[async_trait]
pub trait CacheStore: Send + Sync + 'static {
    /// A live entry, marking it most recently used. `Ok(None)` when absent or expired.
    async fn get(
        &self,
        partition: &PartitionKey,
        key: &str,
        now_ms: u64,
    ) -> Result<Option<CacheRecord>, StoreError>;

    /// Writes an entry (see [`cachet_limits::BoundedCache::set`]). Backend failures are
    /// [`CacheError::FailedToSetCacheRecord`].
    async fn set(
        &self,
        partition: &PartitionKey,
        key: &str,
        value: &str,
        options: SetOptions,
        now_ms: u64,
    ) -> Result<CacheRecord, CacheError>;

    /// Deletes a live entry. Backend failures are [`CacheError::FailedToDeleteCacheRecord`].
    async fn delete(
        &self,
        partition: &PartitionKey,
        key: &str,
        now_ms: u64,
    ) -> Result<(), CacheError>;

    /// The partition's usage.
    async fn usage(&self, partition: &PartitionKey) -> Result<Usage, StoreError>;

    /// The partition's usage as an operation on it that completed at or after `since` left
    /// it, when the store learned that from the operation's own reply, so a flow need not ask
    /// again: the Redis store (`cachet-store-redis`) does, making a cache-hit login
    /// one round trip. `None` (the default) means ask [`CacheStore::usage`]; stores whose
    /// `usage` costs no round trip keep the default.
    fn usage_seen_since(&self, partition: &PartitionKey, since: Instant) -> Option<Usage> {
        let _ = (partition, since);
        None
    }

    /// The partition's live entries read whole before a flow runs, so the flow's reads are
    /// answered from them without a round trip each (see [`ReadAhead`]); the reply also tells
    /// [`CacheStore::usage_seen_since`]. `Ok(None)` (the default) means the store does not read
    /// ahead and every read goes to [`CacheStore::get`]: right for stores in this process,
    /// whose reads cost no round trip.
    ///
    /// A store that reads ahead must also implement [`CacheStore::touched`], so the reads the
    /// host answers from here count as uses.
    async fn read_ahead(
        &self,
        partition: &PartitionKey,
        now_ms: u64,
    ) -> Result<Option<ReadAhead>, StoreError> {
        let _ = (partition, now_ms);
        Ok(None)
    }

    /// Tells the store that a flow's reads of `keys` (least recent first) were answered from a
    /// [`ReadAhead`] with hits: those entries are now the partition's most recently used, in
    /// that order, as hits of [`CacheStore::get`] would have made them. The store may apply
    /// them later, but before its next operation on the partition takes effect, so one host's
    /// operations see recency in the order it made them. Never waits and never fails: recency
    /// is all that is lost if they cannot be applied.
    fn touched(&self, partition: &PartitionKey, keys: &[String]) {
        let _ = (partition, keys);
    }

    /// The partition's live entries, least recently used first.
    async fn snapshot(
        &self,
        partition: &PartitionKey,
        now_ms: u64,
    ) -> Result<Vec<SnapshotEntry>, StoreError>;

    /// Replaces the partition with a snapshot, re-checked against the store's limits. An
    /// empty snapshot clears the partition.
    async fn restore(
        &self,
        partition: &PartitionKey,
        entries: Vec<SnapshotEntry>,
        now_ms: u64,
    ) -> Result<RestoreReport, StoreError>;

    /// Makes every change so far durable, for stores that write behind ([`FileStore`]); call it
    /// before a host exits. The default has nothing to do: memory is not durable, and a
    /// server-backed store is durable as soon as an operation returns.
    async fn flush(&self) -> Result<(), StoreError> {
        Ok(())
    }

    /// Keeps a continuation: what the runtime needs to resume a flow paused by a redirect,
    /// under the unguessable `id` it gave the redirect as its `state`, in `partition`'s
    /// continuations (beside its entries, never counted against them) until `expires_at_ms`.
    /// Every host sharing the store's backend can then take it.
    ///
    /// The default refuses: a store must say where it keeps them.
    async fn put_continuation(
        &self,
        partition: &PartitionKey,
        id: &str,
        record: &str,
        expires_at_ms: u64,
        now_ms: u64,
    ) -> Result<(), StoreError> {
        let _ = (partition, id, record, expires_at_ms, now_ms);
        Err(StoreError::Unsupported("redirect continuations"))
    }

    /// Removes and returns `partition`'s continuation `id` if it is there and has not expired.
    /// Atomic: of any number of concurrent callers (on any host), at most one gets it.
    async fn take_continuation(
        &self,
        partition: &PartitionKey,
        id: &str,
        now_ms: u64,
    ) -> Result<Option<String>, StoreError> {
        let _ = (partition, id, now_ms);
        Err(StoreError::Unsupported("redirect continuations"))
    }

    /// Checks that the store can serve operations now (a service's readiness probe). The
    /// default says yes: an embedded store is always there; a server-backed store asks its
    /// server.
    async fn ping(&self) -> Result<(), StoreError> {
        Ok(())
    }
}
