//! A Cachet [`CacheStore`] in Redis: partitions shared by every host that points at the same
//! server, with the cache contract enforced on the server.
//!
//! # How it works
//!
//! Each operation is one Lua script run atomically by Redis (`src/partition.lua`, sent once
//! and then called by its SHA-1 with `EVALSHA`, sent again when the server answers
//! `NOSCRIPT`, after a restart for instance). The script applies the same rules in the same
//! order as [`cachet_limits::BoundedCache`]: sizes, lifetime, `if_absent`, strict refusal or
//! LRU eviction after purging expired entries. So two hosts writing into one partition at once
//! see exactly what two executions in one host see: the quotas hold and an `if_absent` claim
//! has one winner.
//!
//! A partition is three keys that share one hash tag (so Redis Cluster keeps them in one slot
//! and a script may touch them all): `PREFIX:{TENANT/TRIGGER}:e` (entries), `…:r` (recency)
//! and `…:m` (byte total and sequence). The tenant is percent-encoded, so no tenant name can
//! contain the `/` that separates it from the trigger, or a brace: `a:b` + `c` and `a` + `b:c`
//! are different partitions. Every write gives the keys a Redis expiry of the maximum
//! lifetime plus an hour, so a partition nobody writes to any more is reclaimed by Redis.
//!
//! Every reply of `get`, `set` and `delete` ends with the partition's entry count and bytes
//! after the operation (a `read`'s starts with them); the store remembers the last of them per partition (a bounded LRU), so
//! a flow's result takes its usage from there ([`CacheStore::usage_seen_since`]) instead of a
//! second round trip.
//!
//! # Read-ahead
//!
//! A flow starts with [`CacheStore::read_ahead`]: the script's `read` returns the usage and the
//! live entries, and the runtime answers the flow's reads from them until it writes, so a
//! cache-hit login is one `EVALSHA`, made before any instance starts (an execution suspended
//! in the middle for a round trip costs far more CPU than one suspended before it starts:
//! BENCHMARKS.md). Flows of one partition that ask while a read of it is in flight wait for it
//! to finish and share the next read, sent after all of them asked; so every flow still sees
//! each write that completed before it started, and under load a partition is read about once
//! per round trip instead of once per login. The hits a flow answered from a read are reported
//! with [`CacheStore::touched`] when it stops reading from it and sent with the store's next
//! operation on that partition (its `ARGV[4..]`), which makes the entries most recently used,
//! in order, before it runs. They are pending until then: an operation that fails, or a host
//! that stops, loses them, which changes only which entry is evicted first.
//!
//! # Time
//!
//! "Now" is the executing host's clock, passed into every script (so tests can drive it with
//! a manual clock), not the Redis server's. Hosts whose clocks disagree by `d` disagree by `d`
//! about when an entry expires: a host running ahead sees entries expire up to `d` early (a
//! miss, so the action fetches again), one running behind sees them up to `d` late. Expiries
//! are absolute and written by the writer's clock, so skew never makes an entry live longer
//! than its lifetime plus `d`. Keep hosts on NTP; the Management-API token helper refreshes
//! ahead of expiry by more than any sane skew.
//!
//! # Failure
//!
//! A Redis that is down or slow is not an outage of logins. Every call is bounded by
//! [`RedisOptions::timeout`] (and by the flow's deadline, which the host applies on top):
//! then `get` is a miss, `set` is [`CacheError::FailedToSetCacheRecord`], `delete` is
//! [`CacheError::FailedToDeleteCacheRecord`], and the action decides what to do (the token
//! helper fetches a token). The connection reconnects by itself when Redis is back. Failures
//! are counted ([`RedisStore::failures`]) and logged at most once per
//! [`RedisOptions::failure_log_interval`], with how many were not logged.
//!
//! A timeout cannot take back a script Redis already ran: a `set` reported as
//! `FailedToSetCacheRecord` after a timeout may have been written. Actions must treat that code
//! as "unknown", not "nothing changed" (the token helper does: it fetches, stores its token
//! for the others, and a claim it may hold expires by itself).
//!
//! # Memory pressure
//!
//! Redis may evict keys under `maxmemory` with an eviction policy, one at a time; each script
//! first puts a partition whose keys got out of step back into a consistent state (entries
//! kept, byte total and recency rebuilt from them). Under `noeviction`, a read that hits still
//! returns its value when Redis refuses the recency update.
//!
//! # Continuations
//!
//! A flow paused by a redirect leaves its continuation under `…:c:ID` (the partition's hash
//! tag, so it lives on the partition's node), written with `SET … PX` (Redis drops it when it
//! expires) and taken with `GETDEL`, which Redis runs atomically: of two hosts continuing one
//! redirect at once, exactly one gets it. It is none of the partition's three keys, so it never
//! counts against the partition's entries or bytes. `GETDEL` needs Redis 6.2 or later.
//!
//! # Redis Cluster
//!
//! A `redis-cluster://` URL connects a Cluster client (through any one node; it discovers the
//! others and follows slot moves). Each partition is in one slot, so every script runs on the
//! one node that owns it.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use cachet_limits::{
    BoundedCache, CacheError, CacheLimits, CacheRecord, OverflowPolicy, RestoreReport, SetOptions,
    SnapshotEntry, Usage,
};
use cachet_runtime::{CacheStore, PartitionKey, ReadAhead, RedisUrl, StoreError};
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::cluster::ClusterClient;
use redis::cluster_async::ClusterConnection;
use redis::{Script, Value};
use thiserror::Error;
use tokio::sync::{OnceCell, Semaphore};

mod deploy;
pub use deploy::RedisDeployStore;

/// The partition script; see the module docs.
const PARTITION_LUA: &str = include_str!("partition.lua");

/// How long Redis keeps a partition past the maximum lifetime of its entries, for clock skew
/// between hosts and Redis.
const RECLAIM_MARGIN_MS: u64 = 60 * 60 * 1000;

/// How long after its expiry Redis keeps a continuation (it is never served then): a minute
/// of clock skew between hosts, no more, so unfinished redirects do not linger.
const CONTINUATION_MARGIN_MS: u64 = 60 * 1000;

/// The longest Redis expiry a partition gets (ten years): `PEXPIRE` refuses times that
/// overflow, and a configured lifetime longer than this gains nothing from a longer one.
const MAX_RECLAIM_MS: u64 = 10 * 365 * 24 * 60 * 60 * 1000;

/// How a [`RedisStore`] talks to Redis.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedisOptions {
    /// The longest one operation may take, round trip included, before it counts as failed.
    /// Default 100 ms: a cache that answers later than that is not worth waiting for on a login.
    pub timeout: Duration,
    /// The longest connecting (at start-up, and each reconnection attempt) may take. Default 2 s.
    pub connect_timeout: Duration,
    /// The first part of every key, so several deployments can share a server. Must not
    /// contain `{` or `}` (they would change the Cluster hash tag). Default `cachet`.
    pub key_prefix: String,
    /// At most one failure log line per this interval. Default 10 s.
    pub failure_log_interval: Duration,
}

impl Default for RedisOptions {
    fn default() -> Self {
        Self {
            timeout: Duration::from_millis(100),
            connect_timeout: Duration::from_secs(2),
            key_prefix: "cachet".to_owned(),
            failure_log_interval: Duration::from_secs(10),
        }
    }
}

/// A [`RedisStore`] could not be set up. Messages name the server with its password redacted.
#[derive(Debug, Error)]
pub enum RedisStoreError {
    /// The server could not be reached or refused the connection.
    #[error(
        "cannot reach the Redis store at {url}: {reason}; check that Redis is running there and the URL, user and password are right"
    )]
    Unreachable {
        /// The URL, password redacted.
        url: String,
        /// What failed.
        reason: String,
    },
    /// [`RedisOptions`] are not usable.
    #[error("invalid Redis store options: {0}")]
    Options(String),
}

/// Cache partitions in a Redis server (or Cluster slot), shared by every host using it.
///
/// Cloning the connection is cheap and all clones share one multiplexed connection, so one
/// store serves any number of concurrent executions.
pub struct RedisStore {
    conn: Conn,
    script: Script,
    limits: CacheLimits,
    policy: OverflowPolicy,
    options: RedisOptions,
    /// The URL, password redacted, for log lines.
    url: String,
    failures: AtomicU64,
    /// Requests sent to Redis (scripts and plain commands), answered or not.
    round_trips: AtomicU64,
    log: FailureLog,
    /// What the store knows of each partition between operations (see [`Known`]). Bounded: the
    /// least recently seen partitions are forgotten (their next flow asks for the usage, and
    /// the recency of their pending hits is lost).
    seen: Mutex<lru::LruCache<PartitionKey, Known>>,
}

/// What a [`RedisStore`] keeps of one partition between operations.
struct Known {
    /// The usage as the last reply of an operation on the partition gave it, and when: a
    /// flow's result takes it from there instead of asking Redis again.
    usage: Option<(Usage, Instant)>,
    /// Keys of hits answered from a read-ahead ([`CacheStore::touched`]) since the last
    /// operation, least recent first: sent with the next operation, which makes them the most
    /// recently used before it runs. At most [`MAX_TOUCHED`].
    touched: Vec<String>,
    /// The flows waiting for the partition's next read-ahead, while it has not been sent.
    forming: Option<Arc<ReadGroup>>,
    /// Held while a read-ahead of the partition is in flight: one at a time per partition.
    reading: Arc<Semaphore>,
}

impl Default for Known {
    fn default() -> Self {
        Self {
            usage: None,
            touched: Vec::new(),
            forming: None,
            reading: Arc::new(Semaphore::new(1)),
        }
    }
}

/// Flows that share one read-ahead of a partition: every one of them asked before it was sent,
/// so it shows each of them every write that completed before it started.
#[derive(Default)]
struct ReadGroup {
    read: OnceCell<Result<ReadAhead, StoreError>>,
}

/// How many pending hits [`Known::touched`] holds per partition. Every flow's read-ahead sends
/// them, so only the hits of flows running at once wait together; past this many the least
/// recent is dropped (that entry keeps its older place in the recency order).
const MAX_TOUCHED: usize = 64;

/// How many partitions [`RedisStore`] remembers.
const SEEN_PARTITIONS: std::num::NonZeroUsize = match std::num::NonZeroUsize::new(4096) {
    Some(n) => n,
    None => unreachable!(),
};

/// A connection to one server, or to a Cluster. Both reconnect by themselves and are cheap to
/// clone (one multiplexed connection per node underneath).
#[derive(Clone)]
enum Conn {
    Single(ConnectionManager),
    Cluster(ClusterConnection),
}

impl fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisStore")
            .field("url", &self.url)
            .field("limits", &self.limits)
            .field("policy", &self.policy)
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

impl RedisStore {
    /// Connects to the server at `url`, checks it answers, and loads the partition script.
    /// Partitions enforce `limits` and `policy` (every host sharing a server should use the
    /// same ones: each operation applies the limits of the host that makes it).
    pub async fn connect(
        url: &RedisUrl,
        limits: CacheLimits,
        policy: OverflowPolicy,
        options: RedisOptions,
    ) -> Result<Self, RedisStoreError> {
        if options.key_prefix.contains(['{', '}']) {
            return Err(RedisStoreError::Options(format!(
                "key_prefix `{}` contains a brace, which would break the partition hash tag",
                options.key_prefix
            )));
        }
        let shown = url.to_string();
        let script = Script::new(PARTITION_LUA);
        let conn = open(url, options.connect_timeout, options.timeout, &script)
            .await
            .map_err(|reason| RedisStoreError::Unreachable {
                url: shown.clone(),
                reason,
            })?;
        tracing::info!(url = %shown, "connected to the Redis cache store");
        Ok(Self {
            conn,
            script,
            limits,
            policy,
            log: FailureLog::new(options.failure_log_interval),
            options,
            url: shown,
            failures: AtomicU64::new(0),
            round_trips: AtomicU64::new(0),
            seen: Mutex::new(lru::LruCache::new(SEEN_PARTITIONS)),
        })
    }

    /// Operations that failed (Redis unreachable, slow or erroring) since the store was made.
    pub fn failures(&self) -> u64 {
        self.failures.load(Ordering::Relaxed)
    }

    /// Requests sent to Redis since the store was made (each one round trip): what a login
    /// costs in network latency. A cache-hit login is one.
    pub fn round_trips(&self) -> u64 {
        self.round_trips.load(Ordering::Relaxed)
    }

    /// The three Redis keys of a partition: entries, recency, meta.
    pub fn partition_keys(&self, partition: &PartitionKey) -> [String; 3] {
        let tag = format!(
            "{}:{{{}/{}}}",
            self.options.key_prefix,
            encode_tenant(&partition.tenant),
            partition.trigger
        );
        [format!("{tag}:e"), format!("{tag}:r"), format!("{tag}:m")]
    }

    /// The Redis key of `partition`'s continuation `id` (in the partition's hash slot).
    fn continuation_key(&self, partition: &PartitionKey, id: &str) -> String {
        let [entries, ..] = self.partition_keys(partition);
        // `id` is the runtime's base64url state; encoded anyway so no id can reach another key.
        format!("{}:c:{}", &entries[..entries.len() - 2], encode_tenant(id))
    }

    /// Notes `partition`'s usage from the tail `[entries, bytes]` of an operation's reply.
    fn saw(&self, partition: &PartitionKey, tail: &[Value]) -> Result<(), StoreError> {
        let [entries, bytes] = tail else {
            return Err(unexpected("usage", &tail.to_vec()));
        };
        let usage = Usage {
            entries: count(entries)?,
            bytes: count(bytes)?,
        };
        let seen = Some((usage, Instant::now()));
        self.known(partition, |known| known.usage = seen);
        Ok(())
    }

    /// Runs `f` on what the store knows of `partition`, remembering the partition (as the most
    /// recently seen) if it was not. A partition already remembered is updated in place: no
    /// copy of its key per operation.
    fn known<R>(&self, partition: &PartitionKey, f: impl FnOnce(&mut Known) -> R) -> R {
        let mut partitions = self.seen.lock().unwrap_or_else(PoisonError::into_inner);
        f(partitions.get_or_insert_mut_ref(partition, Known::default))
    }

    /// Takes the hits pending for `partition`, to be sent with its next operation.
    fn take_touched(&self, partition: &PartitionKey) -> Vec<String> {
        let mut partitions = self.seen.lock().unwrap_or_else(PoisonError::into_inner);
        partitions
            .peek_mut(partition)
            .map(|known| std::mem::take(&mut known.touched))
            .unwrap_or_default()
    }

    /// Reads `partition` whole for the flows of `group`, once one read of it is not already in
    /// flight; the group takes no new flows from the moment its read is sent.
    async fn read_for(
        &self,
        partition: &PartitionKey,
        group: &Arc<ReadGroup>,
        reading: &Semaphore,
        now_ms: u64,
    ) -> Result<ReadAhead, StoreError> {
        // The semaphore is never closed; a closed one would only mean reading without waiting.
        let _in_flight = reading.acquire().await;
        {
            let mut partitions = self.seen.lock().unwrap_or_else(PoisonError::into_inner);
            if let Some(known) = partitions.peek_mut(partition)
                && known
                    .forming
                    .as_ref()
                    .is_some_and(|forming| Arc::ptr_eq(forming, group))
            {
                known.forming = None;
            }
        }
        self.read(partition, now_ms).await
    }

    /// One `read` of the partition script: the partition's usage and live entries.
    async fn read(&self, partition: &PartitionKey, now_ms: u64) -> Result<ReadAhead, StoreError> {
        let reply = self.call("read", partition, now_ms, &[]).await?;
        // `[entries, bytes, key, value, expires_at, …]`: the usage, then each live entry.
        let Value::Array(items) = &reply else {
            return Err(unexpected("read", &reply));
        };
        let Some((usage, rest)) = items.split_at_checked(2) else {
            return Err(unexpected("read", &reply));
        };
        let entries = entries("read", rest, &reply)?;
        self.saw(partition, usage)?;
        Ok(ReadAhead::new(entries))
    }

    /// Runs one plain command, bounded and counted like a script call.
    async fn command(&self, op: &'static str, cmd: redis::Cmd) -> Result<Value, StoreError> {
        self.round_trips.fetch_add(1, Ordering::Relaxed);
        let running = async {
            match self.conn.clone() {
                Conn::Single(mut conn) => cmd.query_async::<Value>(&mut conn).await,
                Conn::Cluster(mut conn) => cmd.query_async::<Value>(&mut conn).await,
            }
        };
        let error = match tokio::time::timeout(self.options.timeout, running).await {
            Ok(Ok(value)) => return Ok(value),
            Ok(Err(e)) => StoreError::Backend(e.to_string()),
            Err(_) => StoreError::TimedOut(self.options.timeout),
        };
        self.failures.fetch_add(1, Ordering::Relaxed);
        self.log.failed(&self.url, op, &error);
        Err(error)
    }

    /// Runs the partition script: `op` with its arguments at `now_ms`.
    async fn call(
        &self,
        op: &'static str,
        partition: &PartitionKey,
        now_ms: u64,
        args: &[&str],
    ) -> Result<Value, StoreError> {
        let mut invocation = self.script.prepare_invoke();
        for key in self.partition_keys(partition) {
            invocation.key(key);
        }
        invocation.arg(op).arg(time(now_ms)).arg(
            self.limits
                .max_ttl_ms
                .saturating_add(RECLAIM_MARGIN_MS)
                .min(MAX_RECLAIM_MS),
        );
        let touched = self.take_touched(partition);
        invocation.arg(touched.len());
        for key in &touched {
            invocation.arg(key);
        }
        for a in args {
            invocation.arg(*a);
        }
        self.round_trips.fetch_add(1, Ordering::Relaxed);
        let running = async {
            match self.conn.clone() {
                Conn::Single(mut conn) => invocation.invoke_async::<Value>(&mut conn).await,
                Conn::Cluster(mut conn) => invocation.invoke_async::<Value>(&mut conn).await,
            }
        };
        let outcome = tokio::time::timeout(self.options.timeout, running).await;
        let error = match outcome {
            Ok(Ok(value)) => return Ok(value),
            Ok(Err(e)) => StoreError::Backend(e.to_string()),
            Err(_) => StoreError::TimedOut(self.options.timeout),
        };
        self.failures.fetch_add(1, Ordering::Relaxed);
        self.log.failed(&self.url, op, &error);
        Err(error)
    }
}

#[async_trait]
impl CacheStore for RedisStore {
    async fn get(
        &self,
        partition: &PartitionKey,
        key: &str,
        now_ms: u64,
    ) -> Result<Option<CacheRecord>, StoreError> {
        let reply = self.call("get", partition, now_ms, &[key]).await?;
        let Value::Array(items) = reply else {
            return Err(unexpected("get", &reply));
        };
        // `[hit, value, expires_at, entries, bytes]` or `[miss, entries, bytes]`.
        let (found, tail) = match items.as_slice() {
            [status, value, expires_at, tail @ ..] if text(status)? == "hit" => (
                Some(CacheRecord {
                    value: text(value)?,
                    expires_at: number(expires_at)?,
                }),
                tail,
            ),
            [status, tail @ ..] if text(status)? == "miss" => (None, tail),
            _ => return Err(unexpected("get", &items)),
        };
        self.saw(partition, tail)?;
        Ok(found)
    }

    async fn set(
        &self,
        partition: &PartitionKey,
        key: &str,
        value: &str,
        options: SetOptions,
        now_ms: u64,
    ) -> Result<CacheRecord, CacheError> {
        // The same functions BoundedCache uses, so the errors carry the same details; the
        // script checks the results again.
        self.limits.check_entry(key, value)?;
        let expires_at = self.limits.expiry(&options, now_ms)?;
        let latest = now_ms.saturating_add(self.limits.max_ttl_ms);
        let failed = |e: StoreError| CacheError::FailedToSetCacheRecord { reason: e.detail() };
        let reply = self
            .call(
                "set",
                partition,
                now_ms,
                &[
                    key,
                    value,
                    &time(expires_at),
                    if options.if_absent { "1" } else { "0" },
                    match self.policy {
                        OverflowPolicy::Strict => "strict",
                        OverflowPolicy::Evict => "evict",
                    },
                    &self.limits.max_entries.to_string(),
                    &self.limits.max_total_bytes.to_string(),
                    &self.limits.max_key_bytes.to_string(),
                    &self.limits.max_value_bytes.to_string(),
                    &time(latest),
                ],
            )
            .await
            .map_err(failed)?;
        let Value::Array(items) = reply else {
            return Err(failed(unexpected("set", &reply)));
        };
        let code = items.first().map(text).transpose().map_err(failed)?;
        match code.as_deref() {
            Some("OK") => {
                // `[OK, expires_at, entries, bytes]`: the usage after the write.
                self.saw(partition, items.get(2..).unwrap_or_default())
                    .map_err(failed)?;
                Ok(CacheRecord {
                    value: value.to_owned(),
                    expires_at,
                })
            }
            Some(code) => match refusal(code, key, value, &self.limits) {
                Some(refused) => Err(refused),
                None => Err(failed(unexpected("set", &items))),
            },
            _ => Err(failed(unexpected("set", &items))),
        }
    }

    async fn delete(
        &self,
        partition: &PartitionKey,
        key: &str,
        now_ms: u64,
    ) -> Result<(), CacheError> {
        let failed = |e: StoreError| CacheError::FailedToDeleteCacheRecord { reason: e.detail() };
        let reply = self
            .call("delete", partition, now_ms, &[key])
            .await
            .map_err(failed)?;
        let Value::Array(items) = &reply else {
            return Err(failed(unexpected("delete", &reply)));
        };
        let Some((status, tail)) = items.split_first() else {
            return Err(failed(unexpected("delete", &reply)));
        };
        self.saw(partition, tail).map_err(failed)?;
        match text(status).map_err(failed)?.as_str() {
            "OK" => Ok(()),
            code => match refusal(code, key, "", &self.limits) {
                Some(CacheError::CacheKeyDoesNotExist) => Err(CacheError::CacheKeyDoesNotExist),
                _ => Err(failed(unexpected("delete", &reply))),
            },
        }
    }

    async fn usage(&self, partition: &PartitionKey) -> Result<Usage, StoreError> {
        let reply = self.call("usage", partition, 0, &[]).await?;
        match &reply {
            Value::Array(items) => match items.as_slice() {
                [entries, bytes] => Ok(Usage {
                    entries: count(entries)?,
                    bytes: count(bytes)?,
                }),
                _ => Err(unexpected("usage", &reply)),
            },
            _ => Err(unexpected("usage", &reply)),
        }
    }

    fn usage_seen_since(&self, partition: &PartitionKey, since: Instant) -> Option<Usage> {
        let mut seen = self.seen.lock().unwrap_or_else(PoisonError::into_inner);
        seen.get(partition)
            .and_then(|known| known.usage)
            .filter(|(_, at)| *at >= since)
            .map(|(usage, _)| usage)
    }

    /// Flows that ask while a read of the same partition is waiting to be sent share it; while
    /// one is in flight the next waits for it, collecting the flows that ask meanwhile. Under
    /// load a partition is read about once per round trip, whatever the logins.
    async fn read_ahead(
        &self,
        partition: &PartitionKey,
        now_ms: u64,
    ) -> Result<Option<ReadAhead>, StoreError> {
        let (group, reading) = self.known(partition, |known| {
            let group = known.forming.get_or_insert_with(Default::default);
            (Arc::clone(group), Arc::clone(&known.reading))
        });
        group
            .read
            .get_or_init(|| self.read_for(partition, &group, &reading, now_ms))
            .await
            .clone()
            .map(Some)
    }

    fn touched(&self, partition: &PartitionKey, keys: &[String]) {
        self.known(partition, |known| {
            // Most recent last, each key once.
            for key in keys {
                known.touched.retain(|k| k != key);
                if known.touched.len() == MAX_TOUCHED {
                    known.touched.remove(0);
                }
                known.touched.push(key.clone());
            }
        });
    }

    async fn snapshot(
        &self,
        partition: &PartitionKey,
        now_ms: u64,
    ) -> Result<Vec<SnapshotEntry>, StoreError> {
        let reply = self.call("snapshot", partition, now_ms, &[]).await?;
        let Value::Array(items) = &reply else {
            return Err(unexpected("snapshot", &reply));
        };
        entries("snapshot", items, &reply)
    }

    async fn restore(
        &self,
        partition: &PartitionKey,
        entries: Vec<SnapshotEntry>,
        now_ms: u64,
    ) -> Result<RestoreReport, StoreError> {
        // Re-checked here, by the same code as every other store, then written as is.
        let (cache, report) = BoundedCache::restore(self.limits, self.policy, entries, now_ms);
        let kept = cache.snapshot(now_ms);
        let expiries: Vec<String> = kept.iter().map(|e| time(e.expires_at)).collect();
        let mut args = Vec::with_capacity(kept.len() * 3);
        for (entry, expires_at) in kept.iter().zip(&expiries) {
            args.extend([
                entry.key.as_str(),
                entry.value.as_str(),
                expires_at.as_str(),
            ]);
        }
        self.call("restore", partition, now_ms, &args).await?;
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
        // The expiry travels with the record and is checked by the taker's clock, like every
        // expiry here; Redis's own (a little later) only reclaims the key.
        let ttl_ms = expires_at_ms
            .saturating_sub(now_ms)
            .saturating_add(CONTINUATION_MARGIN_MS)
            .min(MAX_RECLAIM_MS);
        let mut set = redis::cmd("SET");
        set.arg(self.continuation_key(partition, id))
            .arg(format!("{}:{record}", time(expires_at_ms)))
            .arg("PX")
            .arg(ttl_ms);
        match self.command("put-continuation", set).await? {
            Value::Okay => Ok(()),
            Value::SimpleString(s) if s == "OK" => Ok(()),
            other => Err(unexpected("put-continuation", &other)),
        }
    }

    async fn take_continuation(
        &self,
        partition: &PartitionKey,
        id: &str,
        now_ms: u64,
    ) -> Result<Option<String>, StoreError> {
        let mut getdel = redis::cmd("GETDEL");
        getdel.arg(self.continuation_key(partition, id));
        let stored = match self.command("take-continuation", getdel).await? {
            Value::Nil => return Ok(None),
            other => text(&other)?,
        };
        let (expires_at, record) = stored
            .split_once(':')
            .and_then(|(t, r)| Some((t.parse::<u64>().ok()?, r)))
            .ok_or_else(|| StoreError::UnexpectedReply {
                operation: "take-continuation",
                shape: format!("text of {} bytes without an expiry", stored.len()),
            })?;
        Ok((expires_at > now_ms).then(|| record.to_owned()))
    }

    async fn ping(&self) -> Result<(), StoreError> {
        let ping = redis::cmd("PING");
        let running = async {
            match self.conn.clone() {
                Conn::Single(mut conn) => ping.query_async::<()>(&mut conn).await,
                Conn::Cluster(mut conn) => ping.query_async::<()>(&mut conn).await,
            }
        };
        match tokio::time::timeout(self.options.timeout, running).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(StoreError::Backend(format!(
                "{} does not answer PING: {e}",
                self.url
            ))),
            // The URL (password hidden) tells the operator which store: readiness logs this.
            Err(_) => Err(StoreError::Backend(format!(
                "{} did not answer PING within {:?}",
                self.url, self.options.timeout
            ))),
        }
    }
}

/// Connects to the server or Cluster at `url` (reconnecting by itself later), each request
/// answered within `timeout`, and loads `script`.
async fn open(
    url: &RedisUrl,
    connect_timeout: Duration,
    timeout: Duration,
    script: &Script,
) -> Result<Conn, String> {
    if url.cluster() {
        let client = ClusterClient::builder([url.connection_string()])
            .connection_timeout(connect_timeout)
            .response_timeout(timeout)
            .retries(1)
            .build()
            .map_err(|e| e.to_string())?;
        let conn = ready(client.get_async_connection(), script, connect_timeout);
        Ok(Conn::Cluster(conn.await?))
    } else {
        let client = redis::Client::open(url.connection_string()).map_err(|e| e.to_string())?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(connect_timeout))
            .set_response_timeout(Some(timeout))
            // Reconnection is retried on the next call; a call never waits for many attempts.
            .set_number_of_retries(1)
            .set_max_delay(Duration::from_millis(500));
        let connecting = ConnectionManager::new_with_config(client, config);
        Ok(Conn::Single(
            ready(connecting, script, connect_timeout).await?,
        ))
    }
}

/// Waits for `connecting` (at most twice `timeout`), then sends it the partition script (to
/// every primary, for a Cluster), so the first operation does not pay for it.
async fn ready<C: redis::aio::ConnectionLike + Send>(
    connecting: impl Future<Output = redis::RedisResult<C>>,
    script: &Script,
    timeout: Duration,
) -> Result<C, String> {
    let mut conn = tokio::time::timeout(timeout * 2, connecting)
        .await
        .map_err(|_| format!("no answer within {:?}", timeout * 2))?
        .map_err(|e| e.to_string())?;
    tokio::time::timeout(timeout, script.load_async(&mut conn))
        .await
        .map_err(|_| "loading a script timed out".to_owned())?
        .map_err(|e| format!("loading a script failed: {e}"))?;
    Ok(conn)
}

/// A time as the script compares it: 20 zero-padded digits (u64::MAX has 20).
fn time(ms: u64) -> String {
    format!("{ms:020}")
}

/// A tenant id with everything but ASCII letters, digits, `-`, `_` and `.` percent-encoded,
/// so it can contain neither the `/` before the trigger nor a brace that ends the hash tag.
fn encode_tenant(tenant: &str) -> String {
    let mut out = String::with_capacity(tenant.len());
    for b in tenant.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn text(v: &Value) -> Result<String, StoreError> {
    match v {
        Value::BulkString(bytes) => {
            String::from_utf8(bytes.clone()).map_err(|_| StoreError::UnexpectedReply {
                operation: "text",
                shape: format!("{} bytes, not UTF-8", bytes.len()),
            })
        }
        Value::SimpleString(s) => Ok(s.clone()),
        Value::Okay => Ok("OK".to_owned()),
        other => Err(unexpected("text", other)),
    }
}

fn number(v: &Value) -> Result<u64, StoreError> {
    text(v)?.parse().map_err(|_| unexpected("number", v))
}

fn count(v: &Value) -> Result<usize, StoreError> {
    match v {
        Value::Int(n) => usize::try_from(*n).map_err(|_| unexpected("count", v)),
        other => text(other)?.parse().map_err(|_| unexpected("count", other)),
    }
}

/// The entries of a script reply's `(key, value, expires_at)` triples (`items`, from `reply`).
fn entries(
    operation: &'static str,
    items: &[Value],
    reply: &Value,
) -> Result<Vec<SnapshotEntry>, StoreError> {
    items
        .chunks(3)
        .map(|triple| match triple {
            [key, value, expires_at] => Ok(SnapshotEntry {
                key: text(key)?,
                value: text(value)?,
                expires_at: number(expires_at)?,
            }),
            _ => Err(unexpected(operation, reply)),
        })
        .collect()
}

fn unexpected(what: &'static str, reply: &impl Shape) -> StoreError {
    StoreError::UnexpectedReply {
        operation: what,
        shape: reply.shape(),
    }
}

/// What a reply looks like, never what it holds: replies can hold values (tokens).
trait Shape {
    fn shape(&self) -> String;
}

impl Shape for Value {
    fn shape(&self) -> String {
        match self {
            Value::Nil => "nil".into(),
            Value::Int(_) => "an integer".into(),
            Value::BulkString(b) => format!("a {}-byte string", b.len()),
            Value::Array(items) => items.shape(),
            Value::SimpleString(_) => "a status".into(),
            Value::Okay => "OK".into(),
            _ => "another kind of reply".into(),
        }
    }
}

impl Shape for Vec<Value> {
    fn shape(&self) -> String {
        format!("an array of {}", self.len())
    }
}

/// Logs failures at most once per interval, with how many were not logged in between.
struct FailureLog {
    interval: Duration,
    last: Mutex<Option<Instant>>,
    suppressed: AtomicU64,
}

impl FailureLog {
    fn new(interval: Duration) -> Self {
        Self {
            interval,
            last: Mutex::new(None),
            suppressed: AtomicU64::new(0),
        }
    }

    fn failed(&self, url: &str, op: &str, error: &StoreError) {
        let now = Instant::now();
        let mut last = self.last.lock().unwrap_or_else(PoisonError::into_inner);
        if last.is_some_and(|t| now.duration_since(t) < self.interval) {
            self.suppressed.fetch_add(1, Ordering::Relaxed);
            return;
        }
        *last = Some(now);
        drop(last);
        let suppressed = self.suppressed.swap(0, Ordering::Relaxed);
        tracing::warn!(
            %url,
            op,
            suppressed,
            "Redis cache store failed: {error}; reads are misses and writes fail until it answers again"
        );
    }
}

/// The error a code of `partition.lua` stands for (Auth0's codes, as `CacheError::code` spells
/// them), given the write it refused; `None` for anything else. The one place the script's
/// codes are read: a test checks that they are exactly the codes the script returns.
fn refusal(code: &str, key: &str, value: &str, limits: &CacheLimits) -> Option<CacheError> {
    Some(match code {
        "CacheKeySizeExceeded" => CacheError::CacheKeySizeExceeded {
            bytes: key.len(),
            max: limits.max_key_bytes,
        },
        "CacheValueSizeExceeded" => CacheError::CacheValueSizeExceeded {
            bytes: value.len(),
            max: limits.max_value_bytes,
        },
        "CacheSizeExceeded" => CacheError::CacheSizeExceeded {
            max_entries: limits.max_entries,
            max_bytes: limits.max_total_bytes,
        },
        "ItemAlreadyExpired" => CacheError::ItemAlreadyExpired,
        "InvalidExpiry" => CacheError::InvalidExpiry,
        "CacheKeyExists" => CacheError::CacheKeyExists,
        "CacheKeyDoesNotExist" => CacheError::CacheKeyDoesNotExist,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every quoted `'CamelCase'` word of the script's code (Redis commands are upper case,
    /// `'OK'` too): the codes it can return. Comments are left out, so their apostrophes do not
    /// pair with the code's quotes.
    fn script_codes() -> std::collections::BTreeSet<&'static str> {
        PARTITION_LUA
            .lines()
            .map(|line| line.split_once("--").map_or(line, |(code, _)| code))
            .flat_map(|code| code.split('\'').skip(1).step_by(2))
            .filter(|w| {
                w.len() > 2
                    && w.starts_with(|c: char| c.is_ascii_uppercase())
                    && w.chars().any(|c| c.is_ascii_lowercase())
                    && w.chars().all(|c| c.is_ascii_alphanumeric())
            })
            .collect()
    }

    #[test]
    fn the_scripts_codes_are_auth0_codes_and_exactly_the_ones_the_store_reads() {
        let limits = CacheLimits::default();
        let script = script_codes();
        assert!(script.len() >= 6, "{script:?}");
        for code in &script {
            assert!(
                CacheError::CODES.contains(code),
                "{code} is not in the code table"
            );
            let read = refusal(code, "k", "v", &limits)
                .unwrap_or_else(|| panic!("the store does not read the script's `{code}`"));
            assert_eq!(read.code(), *code);
        }
        // And the store reads no code the script never returns.
        for code in CacheError::CODES {
            if refusal(code, "k", "v", &limits).is_some() {
                assert!(script.contains(code), "the script never returns `{code}`");
            }
        }
    }

    #[test]
    fn tenant_names_cannot_reach_another_partition_or_break_the_hash_tag() {
        assert_eq!(encode_tenant("acme-prod_1.eu"), "acme-prod_1.eu");
        assert_eq!(encode_tenant("a:b"), "a%3Ab");
        assert_eq!(encode_tenant("a/post-login}"), "a%2Fpost-login%7D");
        assert_ne!(encode_tenant("a%3Ab"), encode_tenant("a:b"));
    }

    #[test]
    fn times_compare_as_text_like_the_numbers_they_are() {
        let pairs = [
            (0, 1),
            (9, 10),
            (1_700_000_000_000, 1_700_000_000_001),
            (u64::MAX - 1, u64::MAX),
        ];
        for (a, b) in pairs {
            assert!(time(a) < time(b));
            assert_eq!(time(b).len(), 20);
        }
    }

    #[test]
    fn unexpected_replies_never_echo_their_content() {
        let reply = Value::BulkString(b"eyJhbGciOiJSUzI1NiJ9.secret".to_vec());
        let msg = unexpected("get", &reply).to_string();
        assert!(!msg.contains("secret"), "{msg}");
        assert!(msg.contains("a 27-byte string"), "{msg}");
    }
}
