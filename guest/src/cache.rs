//! The per-trigger cache, as action authors use it.

use crate::bindings::cachet::action::cache as wit;

/// A value read from or written to the cache, with its real expiry (ms since the Unix epoch).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheRecord {
    /// The stored value.
    pub value: String,
    /// When it expires, milliseconds since the Unix epoch.
    pub expires_at: u64,
}

/// How long a written value lives, and whether the write is a claim.
///
/// ```
/// use cachet_guest::SetOptions;
/// let opts = SetOptions::ttl(60_000).if_absent();
/// assert_eq!(opts.ttl_ms, Some(60_000));
/// assert!(opts.if_absent);
/// assert_eq!(SetOptions::default().ttl_ms, None); // the 15 min default lifetime
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SetOptions {
    /// Lifetime in milliseconds from now.
    pub ttl_ms: Option<u64>,
    /// Absolute expiry in milliseconds since the Unix epoch. With `ttl_ms`, the earlier wins.
    pub expires_at_ms: Option<u64>,
    /// Write only when the key holds no live entry, else [`CacheError::CacheKeyExists`].
    pub if_absent: bool,
}

impl SetOptions {
    /// Lives `ms` milliseconds.
    pub fn ttl(ms: u64) -> Self {
        Self {
            ttl_ms: Some(ms),
            ..Self::default()
        }
    }

    /// Expires at `ms` milliseconds since the Unix epoch.
    pub fn expires_at(ms: u64) -> Self {
        Self {
            expires_at_ms: Some(ms),
            ..Self::default()
        }
    }

    /// Makes the write succeed only if the key holds no live entry.
    pub fn if_absent(mut self) -> Self {
        self.if_absent = true;
        self
    }
}

/// Why a cache write failed: Auth0's error code ([`CacheError::code`] spells it). The table
/// is `cachet_limits::ErrorCode`, the one the host uses, so the SDK and the host cannot drift.
pub use cachet_limits::ErrorCode as CacheError;

impl From<wit::CacheError> for CacheError {
    fn from(e: wit::CacheError) -> Self {
        use wit::CacheError as W;
        match e {
            W::CacheKeySizeExceeded => Self::CacheKeySizeExceeded,
            W::CacheValueSizeExceeded => Self::CacheValueSizeExceeded,
            W::CacheSizeExceeded => Self::CacheSizeExceeded,
            W::ItemAlreadyExpired => Self::ItemAlreadyExpired,
            W::InvalidExpiry => Self::InvalidExpiry,
            W::MaxSideEffectsExceeded => Self::MaxSideEffectsExceeded,
            W::FailedToSetCacheRecord => Self::FailedToSetCacheRecord,
            W::FailedToDeleteCacheRecord => Self::FailedToDeleteCacheRecord,
            W::CacheKeyDoesNotExist => Self::CacheKeyDoesNotExist,
            W::CacheKeyExists => Self::CacheKeyExists,
        }
    }
}

fn record(r: wit::CacheRecord) -> CacheRecord {
    CacheRecord {
        value: r.value,
        expires_at: r.expires_at,
    }
}

/// The cache of this action's trigger partition. Get one from `api.cache()`.
#[derive(Debug)]
pub struct Cache {
    _private: (),
}

impl Cache {
    pub(crate) fn new() -> Self {
        Self { _private: () }
    }

    /// A live entry, or `None`. A hit counts as a use for LRU eviction.
    pub fn get(&self, key: &str) -> Option<CacheRecord> {
        wit::get(key).map(record)
    }

    /// Writes an entry; the returned record carries the real (possibly clamped) expiry.
    pub fn set(
        &self,
        key: &str,
        value: &str,
        options: SetOptions,
    ) -> Result<CacheRecord, CacheError> {
        let options = wit::SetOptions {
            ttl: options.ttl_ms,
            expires_at: options.expires_at_ms,
            if_absent: options.if_absent,
        };
        wit::set(key, value, options)
            .map(record)
            .map_err(Into::into)
    }

    /// Deletes a live entry ([`CacheError::CacheKeyDoesNotExist`] if absent or expired).
    pub fn delete(&self, key: &str) -> Result<(), CacheError> {
        wit::delete(key).map_err(Into::into)
    }
}
