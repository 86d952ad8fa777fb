//! [`inspect`]: a partition as an operator sees it (usage against the quotas, and each entry's
//! key, size and expiry in LRU order) with every value redacted, because values hold tokens.

use cachet_limits::CacheLimits;
use serde::{Deserialize, Serialize};
use sha2::Digest as _;

use super::{CacheStore, PartitionKey, StoreError};
use crate::Trigger;

/// A partition with its values redacted: what `cachet cache show` prints and the service's
/// `GET …/cache` returns.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartitionReport {
    /// Which partition.
    pub partition: PartitionName,
    /// Usage against the quotas.
    pub usage: UsageReport,
    /// Live entries, least recently used first (the next to be evicted comes first).
    pub entries_lru_first: Vec<EntryReport>,
}

/// A partition's tenant and trigger.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartitionName {
    /// The tenant.
    pub tenant: String,
    /// The trigger.
    pub trigger: Trigger,
}

/// Usage against the quotas.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct UsageReport {
    /// Live entries.
    pub entries: usize,
    /// The entry quota.
    pub max_entries: usize,
    /// Bytes of keys and values.
    pub bytes: usize,
    /// The byte quota.
    pub max_bytes: usize,
}

/// One entry, its value redacted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EntryReport {
    /// The key (keys are chosen by actions and are not secret by contract).
    pub key: String,
    /// Key plus value bytes, as counted against the byte quota.
    pub bytes: usize,
    /// The value, redacted.
    pub value: RedactedValue,
    /// Expiry, ms since the Unix epoch.
    pub expires_at: u64,
    /// Time left, in ms.
    pub expires_in_ms: u64,
}

/// What is shown of a value: its length and the first 8 hex digits of its SHA-256, enough to
/// tell two values apart and nothing to recover one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RedactedValue {
    /// Length in bytes.
    pub length: usize,
    /// First 4 bytes of its SHA-256, hex.
    pub sha256_prefix: String,
}

/// Reads `partition` from `store` as of `now_ms`, against `limits`' quotas. Usage counts the
/// entries live at `now_ms` (a store may still hold expired ones it has not swept yet; they
/// make way for the next write).
pub async fn inspect(
    store: &dyn CacheStore,
    partition: &PartitionKey,
    limits: &CacheLimits,
    now_ms: u64,
) -> Result<PartitionReport, StoreError> {
    let entries_lru_first: Vec<EntryReport> = store
        .snapshot(partition, now_ms)
        .await?
        .into_iter()
        .map(|e| EntryReport {
            bytes: e.key.len() + e.value.len(),
            value: RedactedValue {
                length: e.value.len(),
                sha256_prefix: hex::encode(&sha2::Sha256::digest(e.value.as_bytes())[..4]),
            },
            expires_in_ms: e.expires_at.saturating_sub(now_ms),
            expires_at: e.expires_at,
            key: e.key,
        })
        .collect();
    Ok(PartitionReport {
        partition: PartitionName {
            tenant: partition.tenant.clone(),
            trigger: partition.trigger,
        },
        usage: UsageReport {
            entries: entries_lru_first.len(),
            max_entries: limits.max_entries,
            bytes: entries_lru_first.iter().map(|e| e.bytes).sum(),
            max_bytes: limits.max_total_bytes,
        },
        entries_lru_first,
    })
}
