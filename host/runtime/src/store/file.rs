//! [`FileStore`]: partitions in memory, snapshotted to one file so they survive a restart.
//!
//! Operations run against a [`MemoryStore`] at memory speed; a change only bumps a counter.
//! Writing is behind: a timer (default every second), [`CacheStore::flush`] and dropping the
//! store write the whole snapshot when the counter moved since the last write, atomically
//! (see [`state_file`]). So a crash loses at most the changes since the last write, and a
//! reader never sees half a file: it is the previous complete snapshot or the next.
//!
//! A read that hits counts as a change too: it moves the entry in the LRU order, and that
//! order decides what a full partition evicts after a restart.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::Duration;

use async_trait::async_trait;
use cachet_limits::{
    CacheError, CacheLimits, CacheRecord, OverflowPolicy, RestoreReport, SetOptions, SnapshotEntry,
    Usage,
};
use thiserror::Error;

use super::{CacheStore, MemoryStore, PartitionKey, StoreError};
use crate::Clock;
use crate::state_file::{self, PartitionSnapshot, StateFile, StateFileError, StateLock};

/// How a [`FileStore`] writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileStoreOptions {
    /// How often to write the snapshot when something changed. `Duration::ZERO` turns the
    /// timer off: only [`CacheStore::flush`] and dropping the store write.
    pub flush_interval: Duration,
}

impl Default for FileStoreOptions {
    fn default() -> Self {
        Self {
            flush_interval: Duration::from_secs(1),
        }
    }
}

/// What [`FileStore::open`] found in the file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LoadReport {
    /// Partitions with at least one entry kept.
    pub partitions: usize,
    /// What re-checking the entries against the current limits kept and dropped, summed over
    /// the partitions.
    pub entries: RestoreReport,
    /// Partitions of a trigger this build does not know, skipped.
    pub unknown_triggers: usize,
    /// Where an unreadable or corrupt file was moved (the store then started empty).
    pub set_aside: Option<PathBuf>,
    /// Temporary files of a writer that was killed mid-write, removed.
    pub stale_temporaries: usize,
    /// Redirected flows still waiting to be continued, kept.
    pub continuations: usize,
}

/// A [`FileStore`] could not be opened.
#[derive(Debug, Error)]
pub enum FileStoreError {
    /// The lock file could not be created or locked.
    #[error(transparent)]
    Lock(StateFileError),
    /// The file is unusable and could not be moved aside either; starting empty would
    /// overwrite it, so the store refuses to open.
    #[error(
        "cache state file {path} is unusable ({reason}) and could not be moved aside ({source}); move or delete it by hand"
    )]
    SetAside {
        /// The file.
        path: PathBuf,
        /// Why it is unusable.
        reason: String,
        /// Why renaming it failed.
        source: std::io::Error,
    },
    /// The blocking task that opens the file was cancelled (the runtime is shutting down).
    #[error("opening cache state file {0} was cancelled")]
    Cancelled(PathBuf),
}

/// A [`MemoryStore`] whose partitions are saved to, and loaded from, one snapshot file.
///
/// The store holds an exclusive lock on the file (on a `.NAME.lock` sidecar) while it is open,
/// so two hosts never overwrite each other's snapshots; a second one waits.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// use std::sync::Arc;
/// use cachet_runtime::{CacheStore, FileStore, FileStoreOptions, ManualClock, PartitionKey, Trigger};
/// use cachet_limits::{CacheLimits, OverflowPolicy, SetOptions};
///
/// let dir = std::env::temp_dir().join(format!("cachet-doc-{}", std::process::id()));
/// std::fs::create_dir_all(&dir).unwrap();
/// let path = dir.join("cache.json");
/// let clock = Arc::new(ManualClock::new(1_000));
/// let open = || FileStore::open(&path, CacheLimits::default(), OverflowPolicy::Evict,
///                               clock.clone(), FileStoreOptions::default());
/// let p = PartitionKey::new("acme", Trigger::PostLogin);
///
/// let (store, _) = open().await.unwrap();
/// store.set(&p, "token", "eyJ...", SetOptions::default(), 1_000).await.unwrap();
/// store.flush().await.unwrap();
/// drop(store);
///
/// let (reopened, report) = open().await.unwrap();
/// assert_eq!(report.entries.restored, 1);
/// assert_eq!(reopened.get(&p, "token", 1_000).await.unwrap().unwrap().value, "eyJ...");
/// # drop(reopened); std::fs::remove_dir_all(dir).unwrap();
/// # });
/// ```
pub struct FileStore {
    inner: Arc<Inner>,
    timer: Option<tokio::task::JoinHandle<()>>,
}

struct Inner {
    memory: MemoryStore,
    path: PathBuf,
    clock: Arc<dyn Clock>,
    /// Bumped after every change to the memory store.
    changes: AtomicU64,
    /// The value of `changes` the file reflects; the mutex also makes writes take turns.
    written: Mutex<Written>,
    _lock: StateLock,
}

struct Written {
    changes: u64,
    /// Whether the last write failed, so the log says when writing works again.
    failing: bool,
}

impl std::fmt::Debug for FileStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the entries: they hold tokens.
        f.debug_struct("FileStore")
            .field("path", &self.inner.path)
            .finish_non_exhaustive()
    }
}

impl FileStore {
    /// Opens (or creates on first write) the snapshot file at `path`: waits for its lock,
    /// loads every partition, re-checking each entry against `limits` (see
    /// [`cachet_limits::BoundedCache::restore`]), and starts the write timer. Must be called
    /// within a Tokio runtime.
    ///
    /// An unreadable or corrupt file is moved aside to `PATH.corrupt-<unix seconds>`, logged,
    /// and reported in [`LoadReport::set_aside`]; the store then starts empty rather than
    /// refusing to run.
    pub async fn open(
        path: impl AsRef<Path>,
        limits: CacheLimits,
        policy: OverflowPolicy,
        clock: Arc<dyn Clock>,
        options: FileStoreOptions,
    ) -> Result<(Self, LoadReport), FileStoreError> {
        let path = path.as_ref().to_owned();
        let loading = {
            let path = path.clone();
            tokio::task::spawn_blocking(move || load(path, limits, policy, clock))
        };
        let (inner, report) = loading
            .await
            .map_err(|_| FileStoreError::Cancelled(path))??;
        let inner = Arc::new(inner);
        let timer = (!options.flush_interval.is_zero())
            .then(|| tokio::spawn(flush_timer(Arc::downgrade(&inner), options.flush_interval)));
        Ok((Self { inner, timer }, report))
    }

    /// The snapshot file.
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// Whether there are changes the file does not have yet.
    pub fn is_dirty(&self) -> bool {
        self.inner.changes.load(Ordering::Acquire)
            != self
                .inner
                .written
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .changes
    }
}

fn load(
    path: PathBuf,
    limits: CacheLimits,
    policy: OverflowPolicy,
    clock: Arc<dyn Clock>,
) -> Result<(Inner, LoadReport), FileStoreError> {
    let lock = state_file::lock(&path).map_err(FileStoreError::Lock)?;
    let mut report = LoadReport::default();
    // We hold the lock: any temporary file is a killed writer's.
    match state_file::remove_stale_temporaries(&path) {
        Ok(n) => report.stale_temporaries = n,
        Err(e) => {
            tracing::warn!(path = %path.display(), error = %e, "could not remove stale temporary files")
        }
    }
    let memory = MemoryStore::new(limits, policy);
    let now = clock.now_ms();
    let file = match state_file::read(&path) {
        Ok(file) => file,
        Err(e) => {
            let reason = e.to_string();
            let aside =
                state_file::set_aside(&path, now).map_err(|source| FileStoreError::SetAside {
                    path: path.clone(),
                    reason: reason.clone(),
                    source,
                })?;
            tracing::error!(
                path = %path.display(),
                moved_to = %aside.display(),
                "{reason}; moved it aside and starting with an empty cache"
            );
            report.set_aside = Some(aside);
            None
        }
    };
    let (partitions, continuations) = file
        .map(|f| (f.partitions, f.continuations))
        .unwrap_or_default();
    report.continuations = memory.restore_continuations(continuations, now);
    for PartitionSnapshot {
        tenant,
        trigger,
        entries,
    } in partitions
    {
        let Ok(trigger) = trigger.parse() else {
            report.unknown_triggers += 1;
            continue;
        };
        let partition = PartitionKey::new(tenant, trigger);
        let r = memory.restore_now(&partition, entries, now);
        if r.restored > 0 {
            report.partitions += 1;
        }
        let e = &mut report.entries;
        e.restored += r.restored;
        e.expired += r.expired;
        e.oversized += r.oversized;
        e.duplicates += r.duplicates;
        e.evicted += r.evicted;
        e.clamped += r.clamped;
    }
    let e = &report.entries;
    if e.oversized + e.duplicates + e.evicted + e.clamped > 0 || report.unknown_triggers > 0 {
        tracing::warn!(
            path = %path.display(),
            oversized = e.oversized,
            duplicates = e.duplicates,
            evicted = e.evicted,
            clamped = e.clamped,
            unknown_triggers = report.unknown_triggers,
            "cache state file had entries the current limits do not allow; dropped or clamped them"
        );
    }
    tracing::info!(
        path = %path.display(),
        partitions = report.partitions,
        entries = e.restored,
        expired = e.expired,
        "loaded cache state file"
    );
    let inner = Inner {
        memory,
        path,
        clock,
        changes: AtomicU64::new(0),
        written: Mutex::new(Written {
            changes: 0,
            failing: false,
        }),
        _lock: lock,
    };
    Ok((inner, report))
}

/// Writes the snapshot every `interval` while the store exists.
async fn flush_timer(inner: Weak<Inner>, interval: Duration) {
    let mut ticks = tokio::time::interval(interval);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    ticks.tick().await; // the first tick is immediate
    loop {
        ticks.tick().await;
        let Some(inner) = inner.upgrade() else { return };
        // Errors are logged inside, once per failing streak; the next tick retries.
        let _ = tokio::task::spawn_blocking(move || inner.write_if_changed()).await;
    }
}

impl Inner {
    fn changed(&self) {
        self.changes.fetch_add(1, Ordering::AcqRel);
    }

    /// Writes the snapshot when something changed since the last write.
    ///
    /// The change counter is read *before* the snapshot is taken: a change racing with the
    /// write is either in this snapshot or leaves the counter ahead, so the next write has it.
    fn write_if_changed(&self) -> Result<(), StoreError> {
        let mut written = self.written.lock().unwrap_or_else(PoisonError::into_inner);
        let changes = self.changes.load(Ordering::Acquire);
        if changes == written.changes {
            return Ok(());
        }
        let now = self.clock.now_ms();
        let file = StateFile {
            version: state_file::VERSION,
            saved_at_ms: now,
            partitions: self
                .memory
                .snapshot_all(now)
                .into_iter()
                .map(|(p, entries)| PartitionSnapshot {
                    tenant: p.tenant,
                    trigger: p.trigger.to_string(),
                    entries,
                })
                .collect(),
            continuations: self.memory.continuations(now),
        };
        match state_file::write(&self.path, &file) {
            Ok(()) => {
                if written.failing {
                    tracing::info!(path = %self.path.display(), "cache state file written again");
                }
                *written = Written {
                    changes,
                    failing: false,
                };
                Ok(())
            }
            Err(e) => {
                if !written.failing {
                    tracing::error!(error = %e, "cannot write the cache state file; the cache keeps working in memory and writing is retried");
                }
                written.failing = true;
                Err(StoreError::StateFile(e.to_string()))
            }
        }
    }
}

impl Drop for FileStore {
    fn drop(&mut self) {
        if let Some(timer) = self.timer.take() {
            timer.abort();
        }
        // The last chance to keep what changed since the last write. Blocking here is what a
        // shutdown is for; errors were logged by the write itself.
        let _ = self.inner.write_if_changed();
    }
}

#[async_trait]
impl CacheStore for FileStore {
    async fn get(
        &self,
        partition: &PartitionKey,
        key: &str,
        now_ms: u64,
    ) -> Result<Option<CacheRecord>, StoreError> {
        let hit = self.inner.memory.get(partition, key, now_ms).await?;
        if hit.is_some() {
            self.inner.changed();
        }
        Ok(hit)
    }

    async fn set(
        &self,
        partition: &PartitionKey,
        key: &str,
        value: &str,
        options: SetOptions,
        now_ms: u64,
    ) -> Result<CacheRecord, CacheError> {
        let record = self
            .inner
            .memory
            .set(partition, key, value, options, now_ms)
            .await?;
        self.inner.changed();
        Ok(record)
    }

    async fn delete(
        &self,
        partition: &PartitionKey,
        key: &str,
        now_ms: u64,
    ) -> Result<(), CacheError> {
        self.inner.memory.delete(partition, key, now_ms).await?;
        self.inner.changed();
        Ok(())
    }

    async fn usage(&self, partition: &PartitionKey) -> Result<Usage, StoreError> {
        self.inner.memory.usage(partition).await
    }

    async fn snapshot(
        &self,
        partition: &PartitionKey,
        now_ms: u64,
    ) -> Result<Vec<SnapshotEntry>, StoreError> {
        self.inner.memory.snapshot(partition, now_ms).await
    }

    async fn restore(
        &self,
        partition: &PartitionKey,
        entries: Vec<SnapshotEntry>,
        now_ms: u64,
    ) -> Result<RestoreReport, StoreError> {
        let report = self.inner.memory.restore_now(partition, entries, now_ms);
        self.inner.changed();
        Ok(report)
    }

    async fn put_continuation(
        &self,
        partition: &PartitionKey,
        id: &str,
        record: &str,
        expires_at_ms: u64,
        now_ms: u64,
    ) -> Result<(), StoreError> {
        self.inner
            .memory
            .put_continuation(partition, id, record, expires_at_ms, now_ms)
            .await?;
        self.inner.changed();
        Ok(())
    }

    async fn take_continuation(
        &self,
        partition: &PartitionKey,
        id: &str,
        now_ms: u64,
    ) -> Result<Option<String>, StoreError> {
        let taken = self
            .inner
            .memory
            .take_continuation(partition, id, now_ms)
            .await?;
        if taken.is_some() {
            self.inner.changed();
        }
        Ok(taken)
    }

    async fn flush(&self) -> Result<(), StoreError> {
        let inner = Arc::clone(&self.inner);
        tokio::task::spawn_blocking(move || inner.write_if_changed())
            .await
            .map_err(|e| StoreError::StateFile(format!("the write was cancelled: {e}")))?
    }
}
