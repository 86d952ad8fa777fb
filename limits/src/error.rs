//! [`CacheError`]: every way a cache operation can fail, with Auth0's error codes.

use thiserror::Error;

/// Why a cache operation failed. A failed operation changes nothing.
///
/// [`CacheError::code`] gives the Auth0 `api.cache` error code, so actions ported from Auth0
/// read the same codes; the `Display` message says what to do about it.
///
/// ```
/// use cachet_limits::CacheError;
/// let e = CacheError::CacheKeySizeExceeded { bytes: 65, max: 64 };
/// assert_eq!(e.code(), "CacheKeySizeExceeded");
/// assert!(e.to_string().contains("65 bytes"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, Error)]
pub enum CacheError {
    /// The key is longer than the key limit.
    #[error(
        "cache key is {bytes} bytes, over the {max}-byte limit; use a shorter key (or a hash of it)"
    )]
    CacheKeySizeExceeded {
        /// Key length in bytes (UTF-8).
        bytes: usize,
        /// The limit.
        max: usize,
    },
    /// The value is longer than the value limit.
    #[error(
        "cache value is {bytes} bytes, over the {max}-byte limit; store less, or split it across keys"
    )]
    CacheValueSizeExceeded {
        /// Value length in bytes (UTF-8).
        bytes: usize,
        /// The limit.
        max: usize,
    },
    /// Under the strict policy, the write would take the partition past its quota.
    #[error(
        "cache partition is full ({max_entries} entries / {max_bytes} bytes of live data); \
         delete entries you no longer need, or use the evict policy"
    )]
    CacheSizeExceeded {
        /// Entry limit of the partition.
        max_entries: usize,
        /// Byte limit of the partition.
        max_bytes: usize,
    },
    /// The requested lifetime has already ended (`ttl` 0, or `expires_at` not after now).
    #[error(
        "the entry would already be expired; give a positive ttl or an expires_at in the future"
    )]
    ItemAlreadyExpired,
    /// The requested expiry cannot be represented (it overflows).
    #[error(
        "the expiry overflows; give a ttl of at most 24 h (longer lifetimes are clamped anyway)"
    )]
    InvalidExpiry,
    /// The execution made more cache writes (set + delete) than allowed.
    #[error("more than {max} cache writes (set + delete) in one execution; write less per login")]
    MaxSideEffectsExceeded {
        /// Writes allowed per execution.
        max: u32,
    },
    /// The store could not write (e.g. Redis unreachable). The partition is unchanged.
    #[error(
        "the cache store failed to write the record ({reason}); the action may retry or go on without caching"
    )]
    FailedToSetCacheRecord {
        /// What the store reported. Never contains keys or values.
        reason: String,
    },
    /// The store could not delete (e.g. Redis unreachable). The partition is unchanged.
    #[error("the cache store failed to delete the record ({reason}); the action may retry")]
    FailedToDeleteCacheRecord {
        /// What the store reported. Never contains keys or values.
        reason: String,
    },
    /// Delete of a key that is absent or expired.
    #[error("no live cache entry has that key")]
    CacheKeyDoesNotExist,
    /// An `if_absent` write met a live entry.
    #[error("the key already holds a live entry (if_absent write); read it instead")]
    CacheKeyExists,
}

impl CacheError {
    /// Every code [`CacheError::code`] can return, in declaration order.
    pub const CODES: [&'static str; ErrorCode::ALL.len()] = {
        let mut codes = [""; ErrorCode::ALL.len()];
        let mut i = 0;
        while i < codes.len() {
            codes[i] = ErrorCode::ALL[i].as_str();
            i += 1;
        }
        codes
    };

    /// Which of Auth0's errors this is, without its details.
    pub fn kind(&self) -> ErrorCode {
        match self {
            Self::CacheKeySizeExceeded { .. } => ErrorCode::CacheKeySizeExceeded,
            Self::CacheValueSizeExceeded { .. } => ErrorCode::CacheValueSizeExceeded,
            Self::CacheSizeExceeded { .. } => ErrorCode::CacheSizeExceeded,
            Self::ItemAlreadyExpired => ErrorCode::ItemAlreadyExpired,
            Self::InvalidExpiry => ErrorCode::InvalidExpiry,
            Self::MaxSideEffectsExceeded { .. } => ErrorCode::MaxSideEffectsExceeded,
            Self::FailedToSetCacheRecord { .. } => ErrorCode::FailedToSetCacheRecord,
            Self::FailedToDeleteCacheRecord { .. } => ErrorCode::FailedToDeleteCacheRecord,
            Self::CacheKeyDoesNotExist => ErrorCode::CacheKeyDoesNotExist,
            Self::CacheKeyExists => ErrorCode::CacheKeyExists,
        }
    }

    /// The Auth0 error code for this failure, e.g. `"CacheKeySizeExceeded"`.
    pub fn code(&self) -> &'static str {
        self.kind().as_str()
    }
}

/// Auth0's `api.cache` error codes, without details: the one table of them in Rust. The
/// action SDK (`cachet-guest`) hands these to actions; the host's [`CacheError`] carries one
/// with what went wrong.
///
/// ```
/// use cachet_limits::ErrorCode;
/// assert_eq!(ErrorCode::CacheKeyExists.code(), "CacheKeyExists");
/// assert_eq!("CacheKeyExists".parse(), Ok(ErrorCode::CacheKeyExists));
/// assert_eq!(ErrorCode::ALL.len(), 10);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ErrorCode {
    /// The key is longer than the key limit (64 bytes).
    CacheKeySizeExceeded,
    /// The value is longer than the value limit (4 096 bytes).
    CacheValueSizeExceeded,
    /// The partition is full under the strict policy.
    CacheSizeExceeded,
    /// `ttl` 0, or an `expires_at` not in the future.
    ItemAlreadyExpired,
    /// The expiry overflows.
    InvalidExpiry,
    /// More cache writes than allowed in one execution (100).
    MaxSideEffectsExceeded,
    /// The store failed to write.
    FailedToSetCacheRecord,
    /// The store failed to delete.
    FailedToDeleteCacheRecord,
    /// Delete of an absent or expired key.
    CacheKeyDoesNotExist,
    /// An `if_absent` write met a live entry.
    CacheKeyExists,
}

impl ErrorCode {
    /// Every code, in declaration order.
    pub const ALL: [Self; 10] = [
        Self::CacheKeySizeExceeded,
        Self::CacheValueSizeExceeded,
        Self::CacheSizeExceeded,
        Self::ItemAlreadyExpired,
        Self::InvalidExpiry,
        Self::MaxSideEffectsExceeded,
        Self::FailedToSetCacheRecord,
        Self::FailedToDeleteCacheRecord,
        Self::CacheKeyDoesNotExist,
        Self::CacheKeyExists,
    ];

    /// Auth0's spelling, e.g. `"CacheKeySizeExceeded"`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::CacheKeySizeExceeded => "CacheKeySizeExceeded",
            Self::CacheValueSizeExceeded => "CacheValueSizeExceeded",
            Self::CacheSizeExceeded => "CacheSizeExceeded",
            Self::ItemAlreadyExpired => "ItemAlreadyExpired",
            Self::InvalidExpiry => "InvalidExpiry",
            Self::MaxSideEffectsExceeded => "MaxSideEffectsExceeded",
            Self::FailedToSetCacheRecord => "FailedToSetCacheRecord",
            Self::FailedToDeleteCacheRecord => "FailedToDeleteCacheRecord",
            Self::CacheKeyDoesNotExist => "CacheKeyDoesNotExist",
            Self::CacheKeyExists => "CacheKeyExists",
        }
    }

    /// Auth0's spelling (as [`ErrorCode::as_str`]; the name [`CacheError::code`] uses).
    pub const fn code(self) -> &'static str {
        self.as_str()
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::error::Error for ErrorCode {}

/// A string that is none of Auth0's cache error codes.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("`{0}` is not an Auth0 cache error code; the codes are {codes}", codes = CacheError::CODES.join(", "))]
pub struct UnknownErrorCode(pub String);

impl std::str::FromStr for ErrorCode {
    type Err = UnknownErrorCode;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|code| code.as_str() == s)
            .ok_or_else(|| UnknownErrorCode(s.to_owned()))
    }
}
