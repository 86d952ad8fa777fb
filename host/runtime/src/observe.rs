//! [`Observer`]: what a host embedding the runtime learns while executions run (each cache
//! operation and its result, each outbound request and how it ended), so that it can keep
//! metrics without the runtime knowing about any metrics library.
//!
//! The runtime calls an observer on the execution's own task, between a host call's work and
//! its return to the action: implementations must be cheap and must not block (increment a
//! counter, no I/O). Nothing an observer is given is secret: no key, value, URL or body.
//!
//! ```
//! use std::sync::Arc;
//! use std::sync::atomic::{AtomicU64, Ordering};
//! use cachet_runtime::{CacheOp, CacheOpResult, Observer, PartitionKey, Runtime};
//!
//! #[derive(Default)]
//! struct Hits(AtomicU64);
//!
//! impl Observer for Hits {
//!     fn cache_operation(&self, _: &PartitionKey, op: CacheOp, result: CacheOpResult) {
//!         if op == CacheOp::Get && result == CacheOpResult::Hit {
//!             self.0.fetch_add(1, Ordering::Relaxed);
//!         }
//!     }
//! }
//!
//! let hits = Arc::new(Hits::default());
//! let runtime = Runtime::builder().observer(hits.clone()).build().unwrap();
//! # drop(runtime);
//! assert_eq!(hits.0.load(Ordering::Relaxed), 0);
//! ```

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};

use cachet_limits::{CacheError, ErrorCode};

use crate::store::PartitionKey;

/// Receives events from running executions. Every method has an empty default, so an
/// implementation overrides only what it counts.
pub trait Observer: Send + Sync + 'static {
    /// An action made a cache operation in `partition`, with this result.
    fn cache_operation(&self, partition: &PartitionKey, op: CacheOp, result: CacheOpResult) {
        let _ = (partition, op, result);
    }

    /// An action's outbound HTTP request ended this way.
    fn egress_request(&self, outcome: EgressOutcome) {
        let _ = outcome;
    }

    /// An outbound request that was a token request (a `POST` to a path ending in `/token`,
    /// as OAuth 2 token endpoints are named: `/oauth/token`, `/oauth2/v1/token`) ended this
    /// way; [`Observer::egress_request`] is told about it too. What the Management-API token
    /// pattern exists to keep rare.
    fn token_request(&self, outcome: EgressOutcome) {
        let _ = outcome;
    }
}

/// The observer a runtime has when none is configured: it ignores everything.
pub(crate) struct NoObserver;

impl Observer for NoObserver {}

/// Counts the Auth0 error codes cache operations ended with, per operation, and passes every
/// event on to another observer (the service's metrics, say). What `cachet test` checks a
/// step's `codes` against and what the console's test runner lists as refused writes.
///
/// ```
/// use std::sync::Arc;
/// use cachet_runtime::{CacheOp, CacheOpResult, ErrorCodes, Observer, PartitionKey, Trigger};
/// use cachet_limits::ErrorCode;
///
/// let codes = ErrorCodes::new();
/// let partition = PartitionKey::new("acme", Trigger::PostLogin);
/// let refused = CacheOpResult::Error(ErrorCode::CacheKeySizeExceeded);
/// codes.cache_operation(&partition, CacheOp::Set, refused);
/// codes.cache_operation(&partition, CacheOp::Set, refused);
/// codes.cache_operation(&partition, CacheOp::Get, CacheOpResult::Hit);
/// assert_eq!(codes.counts()[&(CacheOp::Set, ErrorCode::CacheKeySizeExceeded)], 2);
/// assert_eq!(codes.codes(), [ErrorCode::CacheKeySizeExceeded].into());
/// codes.clear();
/// assert!(codes.counts().is_empty());
/// ```
pub struct ErrorCodes {
    next: Option<Arc<dyn Observer>>,
    counts: Mutex<BTreeMap<(CacheOp, ErrorCode), u64>>,
}

impl ErrorCodes {
    /// Counts, and passes nothing on.
    pub fn new() -> Self {
        Self {
            next: None,
            counts: Mutex::default(),
        }
    }

    /// Counts, and passes every event on to `next`.
    pub fn forwarding_to(next: Arc<dyn Observer>) -> Self {
        Self {
            next: Some(next),
            counts: Mutex::default(),
        }
    }

    /// How many operations of each kind ended with each code, since creation or the last
    /// [`ErrorCodes::clear`].
    pub fn counts(&self) -> BTreeMap<(CacheOp, ErrorCode), u64> {
        self.counts
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// The codes met, whatever the operation.
    pub fn codes(&self) -> std::collections::BTreeSet<ErrorCode> {
        self.counts
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .keys()
            .map(|(_, code)| *code)
            .collect()
    }

    /// Forgets what was counted.
    pub fn clear(&self) {
        self.counts
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
    }
}

impl Default for ErrorCodes {
    fn default() -> Self {
        Self::new()
    }
}

impl Observer for ErrorCodes {
    fn cache_operation(&self, partition: &PartitionKey, op: CacheOp, result: CacheOpResult) {
        if let CacheOpResult::Error(code) = result {
            *self
                .counts
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .entry((op, code))
                .or_default() += 1;
        }
        if let Some(next) = &self.next {
            next.cache_operation(partition, op, result);
        }
    }

    fn egress_request(&self, outcome: EgressOutcome) {
        if let Some(next) = &self.next {
            next.egress_request(outcome);
        }
    }

    fn token_request(&self, outcome: EgressOutcome) {
        if let Some(next) = &self.next {
            next.token_request(outcome);
        }
    }
}

/// A cache operation an action can make.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum CacheOp {
    /// `get`.
    Get,
    /// `set`.
    Set,
    /// `delete`.
    Delete,
}

impl CacheOp {
    /// `get`, `set` or `delete`: a metrics label.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Get => "get",
            Self::Set => "set",
            Self::Delete => "delete",
        }
    }
}

/// How a cache operation ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CacheOpResult {
    /// A `get` found a live entry.
    Hit,
    /// A `get` found nothing (absent or expired).
    Miss,
    /// A `get` could not reach the store in time; the action saw a miss.
    Unavailable,
    /// A `set` or `delete` succeeded.
    Ok,
    /// A `set` or `delete` failed with this Auth0 error code (see [`CacheError::kind`]).
    Error(ErrorCode),
}

impl CacheOpResult {
    /// `hit`, `miss`, `unavailable`, `ok`, or the error code: a metrics label.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Hit => "hit",
            Self::Miss => "miss",
            Self::Unavailable => "unavailable",
            Self::Ok => "ok",
            Self::Error(code) => code.as_str(),
        }
    }

    /// Whether the store itself failed (unreachable, timed out, refused), as opposed to a
    /// quota or the action's own mistake.
    pub fn is_store_failure(self) -> bool {
        matches!(
            self,
            Self::Unavailable
                | Self::Error(
                    ErrorCode::FailedToSetCacheRecord | ErrorCode::FailedToDeleteCacheRecord
                )
        )
    }

    pub(crate) fn of_write<T>(result: &Result<T, CacheError>) -> Self {
        match result {
            Ok(_) => Self::Ok,
            Err(e) => Self::Error(e.kind()),
        }
    }
}

/// How an action's outbound HTTP request ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EgressOutcome {
    /// A response head arrived (whatever its status).
    Completed,
    /// The host is not on the action's allow-list.
    Denied,
    /// Refused before connecting by a limit (requests per execution, body size) or because
    /// the URL was invalid.
    Refused,
    /// DNS, connect, TLS or a timeout failed, or the address was refused at connect time.
    Failed,
}

impl EgressOutcome {
    /// `completed`, `denied`, `refused` or `failed`: a metrics label.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Completed => "completed",
            Self::Denied => "denied",
            Self::Refused => "refused",
            Self::Failed => "failed",
        }
    }
}
