//! Opening the store a [`StoreUrl`] names, for `cachet run` and `cachet cache`.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Result;
use cachet_limits::{CacheLimits, OverflowPolicy};
use cachet_runtime::{CacheStore, Clock, StoreUrl};

/// Opens the store at `url` with the default limits and `policy`; a Redis store's operations
/// time out after `timeout_ms`. A snapshot file is locked for as long as the store lives, so
/// concurrent runs on one file take turns.
pub async fn open(
    url: &StoreUrl,
    policy: OverflowPolicy,
    clock: Arc<dyn Clock>,
    timeout_ms: u64,
) -> Result<Arc<dyn CacheStore>> {
    let opened = cachet_loader::open_store(
        url,
        CacheLimits::default(),
        policy,
        clock,
        Duration::from_millis(timeout_ms),
    )
    .await?;
    if let (Some(aside), StoreUrl::File(path)) = (&opened.set_aside, url) {
        eprintln!(
            "cachet: {} was unusable; moved it to {} and started with an empty cache",
            path.display(),
            aside.display()
        );
    }
    Ok(opened.store)
}
