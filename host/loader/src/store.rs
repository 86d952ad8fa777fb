//! Opening the store a [`StoreUrl`] names: the one place that knows every backend, shared by
//! `cachet serve` and the `cachet run` and `cachet cache` commands.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use cachet_limits::{CacheLimits, OverflowPolicy};
use cachet_runtime::{
    CacheStore, Clock, FileStore, FileStoreError, FileStoreOptions, MemoryStore, StoreUrl,
};
use cachet_store_redis::{RedisOptions, RedisStore, RedisStoreError};
use thiserror::Error;

/// An open store, and what opening it had to do.
pub struct OpenedStore {
    /// The store.
    pub store: Arc<dyn CacheStore>,
    /// Where an unusable snapshot file was moved (the store then started empty).
    pub set_aside: Option<PathBuf>,
}

/// Why a store could not be opened.
#[derive(Debug, Error)]
pub enum OpenStoreError {
    /// The snapshot file could not be opened or locked.
    #[error("cannot open the store {url}: {source}")]
    File {
        /// The store URL.
        url: String,
        /// Why.
        source: FileStoreError,
    },
    /// Redis could not be reached or refused the options.
    #[error(transparent)]
    Redis(#[from] RedisStoreError),
}

/// Opens the store at `url` with `limits` and `policy`; a Redis store's operations time out
/// after `timeout`. A snapshot file stays locked for as long as the store lives.
pub async fn open_store(
    url: &StoreUrl,
    limits: CacheLimits,
    policy: OverflowPolicy,
    clock: Arc<dyn Clock>,
    timeout: Duration,
) -> Result<OpenedStore, OpenStoreError> {
    Ok(match url {
        StoreUrl::Memory => OpenedStore {
            store: Arc::new(MemoryStore::new(limits, policy)),
            set_aside: None,
        },
        StoreUrl::File(path) => {
            let (store, report) =
                FileStore::open(path, limits, policy, clock, FileStoreOptions::default())
                    .await
                    .map_err(|source| OpenStoreError::File {
                        url: url.to_string(),
                        source,
                    })?;
            OpenedStore {
                store: Arc::new(store),
                set_aside: report.set_aside,
            }
        }
        StoreUrl::Redis(redis) => {
            let options = RedisOptions {
                timeout,
                ..RedisOptions::default()
            };
            OpenedStore {
                store: Arc::new(RedisStore::connect(redis, limits, policy, options).await?),
                set_aside: None,
            }
        }
    })
}
