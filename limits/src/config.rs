//! The cache quotas of one partition, as data.
//!
//! Operators load these from configuration (TOML or JSON through serde), so a typo must fail
//! loudly rather than silently fall back to a default: unknown fields are refused, and a
//! configuration that could never hold an entry of the advertised maximum size is refused too.

use serde::{Deserialize, Serialize};
use thiserror::Error;

/// One day in milliseconds: Auth0's `api.cache` lifetime ceiling.
pub const DAY_MS: u64 = 24 * 60 * 60 * 1000;

/// Fifteen minutes in milliseconds: the lifetime Auth0's `api.cache.set` gives an entry written
/// with neither `ttl` nor `expires_at`.
pub const DEFAULT_TTL_MS: u64 = 15 * 60 * 1000;

/// The quotas of one cache partition (one tenant's one trigger).
///
/// The defaults are Auth0's documented `api.cache` limits. Sizes are bytes of UTF-8, times are
/// milliseconds.
///
/// ```
/// use cachet_limits::CacheLimits;
///
/// let limits = CacheLimits::default();
/// assert_eq!(limits.max_entries, 20);
/// assert_eq!(limits.max_key_bytes, 64);
/// assert_eq!(limits.max_value_bytes, 4096);
/// assert_eq!(limits.max_total_bytes, 8192);
/// assert_eq!(limits.max_ttl_ms, 24 * 60 * 60 * 1000);
/// assert_eq!(limits.default_ttl_ms, 15 * 60 * 1000);
///
/// // Partial configurations keep the defaults for what they do not say...
/// let small: CacheLimits = serde_json::from_str(r#"{"max_entries": 5}"#).unwrap();
/// assert_eq!(small.max_entries, 5);
/// assert_eq!(small.max_total_bytes, 8192);
/// // ...while typos and impossible combinations are refused.
/// assert!(serde_json::from_str::<CacheLimits>(r#"{"max_entrys": 5}"#).is_err());
/// assert!(serde_json::from_str::<CacheLimits>(r#"{"max_key_bytes": 9000}"#).is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "RawCacheLimits")]
pub struct CacheLimits {
    /// Most live entries a partition holds.
    pub max_entries: usize,
    /// Longest key, in bytes.
    pub max_key_bytes: usize,
    /// Longest value, in bytes.
    pub max_value_bytes: usize,
    /// Most bytes a partition holds, counting every entry's key and value.
    pub max_total_bytes: usize,
    /// Longest lifetime an entry may have; longer requests are clamped to it.
    pub max_ttl_ms: u64,
    /// Lifetime of an entry written with neither `ttl` nor `expires_at`.
    pub default_ttl_ms: u64,
}

impl Default for CacheLimits {
    fn default() -> Self {
        Self {
            max_entries: 20,
            max_key_bytes: 64,
            max_value_bytes: 4096,
            max_total_bytes: 8192,
            max_ttl_ms: DAY_MS,
            default_ttl_ms: DEFAULT_TTL_MS,
        }
    }
}

/// Why a [`CacheLimits`] or an execution-limits configuration was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ConfigError {
    /// A limit that must be positive was zero.
    #[error("`{field}` is 0; it must be at least 1")]
    Zero {
        /// The offending field.
        field: &'static str,
    },
    /// A limit is below the least value that still works.
    #[error("`{field}` is {value}; it must be at least {min} ({why})")]
    TooSmall {
        /// The offending field.
        field: &'static str,
        /// Its value.
        value: u64,
        /// The least value accepted.
        min: u64,
        /// Why that is the least.
        why: &'static str,
    },
    /// The largest possible entry (key + value) would not fit in an empty partition, so writes
    /// of legal size could fail for reasons the author cannot fix.
    #[error(
        "max_key_bytes ({key}) + max_value_bytes ({value}) exceeds max_total_bytes ({total}); \
         raise max_total_bytes or lower the key/value limits so one maximal entry fits"
    )]
    EntryLargerThanPartition {
        /// Configured key limit.
        key: usize,
        /// Configured value limit.
        value: usize,
        /// Configured partition limit.
        total: usize,
    },
    /// The default lifetime is longer than the maximum, so every default write would be clamped.
    #[error(
        "default_ttl_ms ({default}) exceeds max_ttl_ms ({max}); set default_ttl_ms <= max_ttl_ms"
    )]
    DefaultTtlAboveMax {
        /// Configured default lifetime.
        default: u64,
        /// Configured maximum lifetime.
        max: u64,
    },
}

impl CacheLimits {
    /// Checks that the limits are consistent: every limit positive, one maximal entry fits in an
    /// empty partition, and the default lifetime is within the maximum.
    ///
    /// Deserialization calls this, so a loaded configuration is always valid; call it yourself
    /// after building one in code.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let positive = [
            ("max_entries", self.max_entries as u64),
            ("max_key_bytes", self.max_key_bytes as u64),
            ("max_value_bytes", self.max_value_bytes as u64),
            ("max_total_bytes", self.max_total_bytes as u64),
            ("max_ttl_ms", self.max_ttl_ms),
            ("default_ttl_ms", self.default_ttl_ms),
        ];
        if let Some((field, _)) = positive.iter().find(|(_, v)| *v == 0) {
            return Err(ConfigError::Zero { field });
        }
        let largest_entry = self.max_key_bytes.saturating_add(self.max_value_bytes);
        if largest_entry > self.max_total_bytes {
            return Err(ConfigError::EntryLargerThanPartition {
                key: self.max_key_bytes,
                value: self.max_value_bytes,
                total: self.max_total_bytes,
            });
        }
        if self.default_ttl_ms > self.max_ttl_ms {
            return Err(ConfigError::DefaultTtlAboveMax {
                default: self.default_ttl_ms,
                max: self.max_ttl_ms,
            });
        }
        Ok(())
    }
}

/// The shape on the wire; converted into [`CacheLimits`] only if it validates.
#[derive(Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawCacheLimits {
    max_entries: usize,
    max_key_bytes: usize,
    max_value_bytes: usize,
    max_total_bytes: usize,
    max_ttl_ms: u64,
    default_ttl_ms: u64,
}

impl Default for RawCacheLimits {
    fn default() -> Self {
        let d = CacheLimits::default();
        Self {
            max_entries: d.max_entries,
            max_key_bytes: d.max_key_bytes,
            max_value_bytes: d.max_value_bytes,
            max_total_bytes: d.max_total_bytes,
            max_ttl_ms: d.max_ttl_ms,
            default_ttl_ms: d.default_ttl_ms,
        }
    }
}

impl TryFrom<RawCacheLimits> for CacheLimits {
    type Error = ConfigError;

    fn try_from(raw: RawCacheLimits) -> Result<Self, ConfigError> {
        let limits = CacheLimits {
            max_entries: raw.max_entries,
            max_key_bytes: raw.max_key_bytes,
            max_value_bytes: raw.max_value_bytes,
            max_total_bytes: raw.max_total_bytes,
            max_ttl_ms: raw.max_ttl_ms,
            default_ttl_ms: raw.default_ttl_ms,
        };
        limits.validate()?;
        Ok(limits)
    }
}

/// What a write does when the partition is full of live entries.
///
/// ```
/// use cachet_limits::OverflowPolicy;
/// assert_eq!(OverflowPolicy::default(), OverflowPolicy::Evict);
/// let strict: OverflowPolicy = serde_json::from_str(r#""strict""#).unwrap();
/// assert_eq!(strict, OverflowPolicy::Strict);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OverflowPolicy {
    /// Evict least recently used entries (never the one being written) until the write fits.
    #[default]
    Evict,
    /// Refuse the write with `CacheSizeExceeded`; the partition is left unchanged.
    Strict,
}

/// A string that names no [`OverflowPolicy`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown overflow policy `{0}`; use `evict` or `strict`")]
pub struct UnknownPolicy(pub String);

impl std::str::FromStr for OverflowPolicy {
    type Err = UnknownPolicy;

    /// `evict` or `strict`.
    ///
    /// ```
    /// use cachet_limits::{OverflowPolicy, UnknownPolicy};
    /// assert_eq!("strict".parse(), Ok(OverflowPolicy::Strict));
    /// assert_eq!("lru".parse::<OverflowPolicy>(), Err(UnknownPolicy("lru".into())));
    /// ```
    fn from_str(s: &str) -> Result<Self, UnknownPolicy> {
        match s {
            "evict" => Ok(Self::Evict),
            "strict" => Ok(Self::Strict),
            other => Err(UnknownPolicy(other.to_owned())),
        }
    }
}
