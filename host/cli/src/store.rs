//! Opening the store a [`StoreUrl`] names, for `cachet run` and `cachet cache`.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use cachet_host::{CacheStore, Clock, FileStore, FileStoreOptions, MemoryStore, StoreUrl};
use cachet_limits::{CacheLimits, OverflowPolicy};
use cachet_store_redis::{RedisOptions, RedisStore};

/// Opens the store at `url` with the default limits and `policy`; a Redis store's operations
/// time out after `timeout_ms`. A snapshot file is locked for as long as the store lives, so
/// concurrent runs on one file take turns.
pub async fn open(
    url: &StoreUrl,
    policy: OverflowPolicy,
    clock: Arc<dyn Clock>,
    timeout_ms: u64,
) -> Result<Arc<dyn CacheStore>> {
    let limits = CacheLimits::default();
    Ok(match url {
        StoreUrl::Memory => Arc::new(MemoryStore::new(limits, policy)),
        StoreUrl::File(path) => {
            let (store, report) =
                FileStore::open(path, limits, policy, clock, FileStoreOptions::default())
                    .await
                    .with_context(|| format!("cannot open the store {url}"))?;
            if let Some(aside) = &report.set_aside {
                eprintln!(
                    "cachet: {} was unusable; moved it to {} and started with an empty cache",
                    path.display(),
                    aside.display()
                );
            }
            Arc::new(store)
        }
        StoreUrl::Redis(redis) => {
            let options = RedisOptions {
                timeout: Duration::from_millis(timeout_ms),
                ..RedisOptions::default()
            };
            Arc::new(RedisStore::connect(redis, limits, policy, options).await?)
        }
    })
}
