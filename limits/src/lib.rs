//! Quotas as data, and the bounded cache that enforces them for one partition.
//!
//! Every Cachet trigger partition (one tenant's one trigger) gets a small cache that survives
//! between executions. Its quotas are Auth0's `api.cache` limits, enforced exactly:
//!
//! | limit                          | default |
//! |--------------------------------|---------|
//! | entries per partition          | 20      |
//! | key size                       | 64 B    |
//! | value size                     | 4096 B  |
//! | total (keys + values)          | 8192 B  |
//! | maximum lifetime               | 24 h    |
//! | default lifetime               | 15 min  |
//! | cache writes per execution     | 100     |
//!
//! This crate is pure: no I/O, no clock, no wasm. Time is passed in as `now_ms` (milliseconds
//! since the Unix epoch) on every call, so behaviour is deterministic and testable; the host
//! owns the clock and the stores own persistence.
//!
//! ```
//! use cachet_limits::{BoundedCache, CacheLimits, OverflowPolicy, SetOptions};
//!
//! let mut partition = BoundedCache::new(CacheLimits::default(), OverflowPolicy::Strict);
//! let now = 0;
//! for i in 0..20 {
//!     partition.set(&format!("k{i}"), "v", SetOptions::default(), now).unwrap();
//! }
//! // Strict: the 21st entry is refused and nothing changes.
//! let err = partition.set("k20", "v", SetOptions::default(), now).unwrap_err();
//! assert_eq!(err.code(), "CacheSizeExceeded");
//! assert_eq!(partition.usage().entries, 20);
//! ```

mod cache;
mod config;
mod error;
mod execution;
#[cfg(feature = "reference-model")]
pub mod reference;

pub use cache::{BoundedCache, CacheRecord, RestoreReport, SetOptions, SnapshotEntry, Usage};
pub use config::{CacheLimits, ConfigError, DAY_MS, DEFAULT_TTL_MS, OverflowPolicy, UnknownPolicy};
pub use error::{CacheError, ErrorCode, UnknownErrorCode};
pub use execution::{ActionLimits, ExecutionLimits, LimitError, WriteBudget};
