//! The `cache` interface: an action's view of its trigger's partition.
//!
//! Guest-controlled keys and values enter here. Every call goes to the [`CacheStore`] with the
//! partition fixed by the host, so no key string can reach another partition; the store
//! enforces the quotas, this module adds the per-execution write budget and bounds every
//! store call by the flow's deadline, so a slow remote store costs an action a miss or a
//! failed write, never the login. A store that reads partitions ahead of flows (Redis) answers
//! a flow's reads from that read until the flow writes ([`ReadAhead`]).

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use cachet_limits::{CacheError, CacheRecord, SetOptions, WriteBudget};
use wasmtime::component::{HasData, Linker};

use crate::bindings::cache as wit;
use crate::observe::{CacheOp, CacheOpResult, Observer};
use crate::{CacheStore, Clock, PartitionKey, ReadAhead};

/// How long after it was asked for a read-ahead answers a flow's reads, by the runtime's clock;
/// later reads go to the store. A flow that reads again after waiting (for an outbound request,
/// a timer, or another login's write) sees the store as it is then, not as it was when the flow
/// started.
pub(crate) const READ_AHEAD_MAX_AGE_MS: u64 = 250;

/// Where a flow's reads are answered from. One per flow, shared by its actions (which run one
/// after another, so the lock is never contended).
pub(crate) type FlowReads = Arc<Mutex<Reads>>;

/// See [`FlowReads`].
#[derive(Debug)]
pub(crate) enum Reads {
    /// From the store, one call per read: it does not read ahead, or the flow has written, or
    /// the read-ahead grew too old.
    Store,
    /// From the partition the store read ahead of the flow ([`CacheStore::read_ahead`]).
    Ahead(Ahead),
    /// The read ahead found the store unavailable (down, or slower than its share of the
    /// flow's deadline): reads miss at once instead of each waiting for the store again.
    /// Writes still try it.
    Unavailable,
}

/// A read-ahead a flow answers its reads from.
#[derive(Debug)]
pub(crate) struct Ahead {
    read: ReadAhead,
    /// When the flow asked for it (the runtime's clock, ms).
    asked_at_ms: u64,
    /// The keys of the hits answered from it, least recent first, each once: at most the
    /// read's entries, so no action can make this grow by reading in a loop. Reported to the
    /// store in one call when the flow stops reading from it ([`Reads::leave_ahead`]).
    hits: Vec<String>,
}

impl Reads {
    /// Reads answered from `read`, asked for at `asked_at_ms`.
    pub(crate) fn ahead(read: ReadAhead, asked_at_ms: u64) -> Self {
        Self::Ahead(Ahead {
            read,
            asked_at_ms,
            hits: Vec::new(),
        })
    }

    /// A flow's reads, shared by its actions.
    pub(crate) fn shared(self) -> FlowReads {
        Arc::new(Mutex::new(self))
    }

    /// From now on the flow reads from the store. The hits answered from a read-ahead are
    /// reported first ([`CacheStore::touched`]), so they count as uses before any later
    /// operation; the read-ahead itself (values, often tokens) is dropped here, not kept with
    /// a warm instance.
    pub(crate) fn leave_ahead(&mut self, store: &dyn CacheStore, partition: &PartitionKey) {
        if let Self::Ahead(ahead) = std::mem::replace(self, Self::Store)
            && !ahead.hits.is_empty()
        {
            store.touched(partition, &ahead.hits);
        }
    }
}

/// One execution's cache: its partition, the store, the clock, and its write budget.
pub(crate) struct CacheCtx {
    pub(crate) partition: PartitionKey,
    pub(crate) store: Arc<dyn CacheStore>,
    /// Where this flow's reads are answered from.
    pub(crate) reads: FlowReads,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) budget: WriteBudget,
    /// The flow's deadline: a store call still waiting then is abandoned.
    pub(crate) deadline: Instant,
    /// Told the result of every operation (for the embedding host's metrics).
    pub(crate) observer: Arc<dyn Observer>,
}

impl CacheCtx {
    fn observe(&self, op: CacheOp, result: CacheOpResult) {
        self.observer.cache_operation(&self.partition, op, result);
    }

    /// A write is about to reach the store: from now on the flow reads from the store, so it
    /// reads its own writes (and not entries the write evicted).
    fn writing(&self) {
        let mut reads = self.reads.lock().unwrap_or_else(PoisonError::into_inner);
        reads.leave_ahead(self.store.as_ref(), &self.partition);
    }

    /// The answer to a read of `key` at `now` without asking the store, if the flow has one:
    /// from its read-ahead while that is fresh, or a miss when the store was found unavailable.
    fn read_without_store(&self, key: &str, now: u64) -> Option<Option<CacheRecord>> {
        let mut reads = self.reads.lock().unwrap_or_else(PoisonError::into_inner);
        match &mut *reads {
            Reads::Store => None,
            Reads::Unavailable => {
                self.observe(CacheOp::Get, CacheOpResult::Unavailable);
                Some(None)
            }
            Reads::Ahead(ahead)
                if now.saturating_sub(ahead.asked_at_ms) <= READ_AHEAD_MAX_AGE_MS =>
            {
                let found = ahead.read.get(key, now);
                let result = match found {
                    Some(_) => {
                        if let Some(i) = ahead.hits.iter().position(|k| k == key) {
                            let hit = ahead.hits.remove(i);
                            ahead.hits.push(hit);
                        } else {
                            ahead.hits.push(key.to_owned());
                        }
                        CacheOpResult::Hit
                    }
                    None => CacheOpResult::Miss,
                };
                self.observe(CacheOp::Get, result);
                Some(found)
            }
            Reads::Ahead(_) => {
                reads.leave_ahead(self.store.as_ref(), &self.partition);
                None
            }
        }
    }
}

struct HasCache;

impl HasData for HasCache {
    type Data<'a> = &'a mut CacheCtx;
}

/// Adds `cachet:action/cache` to `linker`, reaching the context through `get`.
pub(crate) fn add_to_linker<T: Send + 'static>(
    linker: &mut Linker<T>,
    get: fn(&mut T) -> &mut CacheCtx,
) -> wasmtime::Result<()> {
    wit::add_to_linker::<T, HasCache>(linker, get)
}

fn wit_error(e: &CacheError) -> wit::CacheError {
    use wit::CacheError as W;
    match e {
        CacheError::CacheKeySizeExceeded { .. } => W::CacheKeySizeExceeded,
        CacheError::CacheValueSizeExceeded { .. } => W::CacheValueSizeExceeded,
        CacheError::CacheSizeExceeded { .. } => W::CacheSizeExceeded,
        CacheError::ItemAlreadyExpired => W::ItemAlreadyExpired,
        CacheError::InvalidExpiry => W::InvalidExpiry,
        CacheError::MaxSideEffectsExceeded { .. } => W::MaxSideEffectsExceeded,
        CacheError::FailedToSetCacheRecord { .. } => W::FailedToSetCacheRecord,
        CacheError::FailedToDeleteCacheRecord { .. } => W::FailedToDeleteCacheRecord,
        CacheError::CacheKeyDoesNotExist => W::CacheKeyDoesNotExist,
        CacheError::CacheKeyExists => W::CacheKeyExists,
    }
}

fn wit_record(r: CacheRecord) -> wit::CacheRecord {
    wit::CacheRecord {
        value: r.value,
        expires_at: r.expires_at,
    }
}

impl wit::Host for CacheCtx {
    async fn get(&mut self, key: String) -> Option<wit::CacheRecord> {
        let now = self.clock.now_ms();
        if let Some(found) = self.read_without_store(&key, now) {
            return found.map(wit_record);
        }
        let read = self.store.get(&self.partition, &key, now);
        let found = match tokio::time::timeout_at(self.deadline.into(), read).await {
            Ok(Ok(hit)) => hit,
            // A read that cannot reach the store in time behaves as a miss: the action falls
            // back to its slow path, which is always correct. Stores log their own failures,
            // rate-limited; a log line per call here would flood the log during an outage.
            // Never log the key: it may embed user data.
            Ok(Err(e)) => {
                tracing::debug!(partition = %self.partition, error = %e, "cache get failed; treated as a miss");
                self.observe(CacheOp::Get, CacheOpResult::Unavailable);
                return None;
            }
            Err(_elapsed) => {
                self.observe(CacheOp::Get, CacheOpResult::Unavailable);
                return None;
            }
        };
        let result = match found {
            Some(_) => CacheOpResult::Hit,
            None => CacheOpResult::Miss,
        };
        self.observe(CacheOp::Get, result);
        found.map(wit_record)
    }

    async fn set(
        &mut self,
        key: String,
        value: String,
        options: wit::SetOptions,
    ) -> Result<wit::CacheRecord, wit::CacheError> {
        if let Err(e) = self.budget.charge() {
            self.observe(CacheOp::Set, CacheOpResult::Error(e.kind()));
            return Err(wit_error(&e));
        }
        let options = SetOptions {
            ttl_ms: options.ttl,
            expires_at_ms: options.expires_at,
            if_absent: options.if_absent,
        };
        let now = self.clock.now_ms();
        self.writing();
        let write = self.store.set(&self.partition, &key, &value, options, now);
        let result = match tokio::time::timeout_at(self.deadline.into(), write).await {
            Ok(result) => result,
            Err(_elapsed) => Err(CacheError::FailedToSetCacheRecord {
                reason: "the store did not answer before the flow's deadline".into(),
            }),
        };
        self.observe(CacheOp::Set, CacheOpResult::of_write(&result));
        result.map(wit_record).map_err(|e| wit_error(&e))
    }

    async fn delete(&mut self, key: String) -> Result<(), wit::CacheError> {
        if let Err(e) = self.budget.charge() {
            self.observe(CacheOp::Delete, CacheOpResult::Error(e.kind()));
            return Err(wit_error(&e));
        }
        let now = self.clock.now_ms();
        self.writing();
        let delete = self.store.delete(&self.partition, &key, now);
        let result = match tokio::time::timeout_at(self.deadline.into(), delete).await {
            Ok(result) => result,
            Err(_elapsed) => Err(CacheError::FailedToDeleteCacheRecord {
                reason: "the store did not answer before the flow's deadline".into(),
            }),
        };
        self.observe(CacheOp::Delete, CacheOpResult::of_write(&result));
        result.map_err(|e| wit_error(&e))
    }
}
