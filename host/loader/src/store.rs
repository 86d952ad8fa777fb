//! Opening the store a [`StoreUrl`] names: the one place that knows every backend, shared by
//! `cachet serve` and the `cachet run` and `cachet cache` commands.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use cachet_deploy::{DeployStore, DeployStoreError, LocalDeployStore};
use cachet_limits::{CacheLimits, OverflowPolicy};
use cachet_runtime::{
    CacheStore, Clock, FileStore, FileStoreError, FileStoreOptions, MemoryStore, StoreUrl,
};
use cachet_store_redis::{RedisDeployStore, RedisOptions, RedisStore, RedisStoreError};
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
    /// The deployments directory could not be opened.
    #[error("cannot open the deployments directory {dir}: {source}")]
    Deployments {
        /// The directory.
        dir: PathBuf,
        /// Why.
        source: DeployStoreError,
    },
}

/// How long one request to a Redis deployment store may take: uploads are up to the module
/// limit (tens of megabytes), unlike cache operations.
const DEPLOY_TIMEOUT: Duration = Duration::from_secs(30);

/// Opens where actions deployed through the API are kept, beside the cache `url` names: in
/// the same Redis (every replica shares them), in `dir`, or else beside a snapshot file
/// (`FILE.deployments/`), or in memory for `memory:` (gone on restart).
pub async fn open_deploy_store(
    url: &StoreUrl,
    dir: Option<&std::path::Path>,
) -> Result<Arc<dyn DeployStore>, OpenStoreError> {
    let local = |dir: PathBuf| -> Result<Arc<dyn DeployStore>, OpenStoreError> {
        LocalDeployStore::open(&dir)
            .map(|s| Arc::new(s) as Arc<dyn DeployStore>)
            .map_err(|source| OpenStoreError::Deployments { dir, source })
    };
    match (url, dir) {
        (StoreUrl::Redis(redis), _) => Ok(Arc::new(
            RedisDeployStore::connect(redis, &RedisOptions::default().key_prefix, DEPLOY_TIMEOUT)
                .await?,
        )),
        (_, Some(dir)) => local(dir.to_path_buf()),
        (StoreUrl::File(path), None) => {
            let mut name = path.file_name().unwrap_or_default().to_os_string();
            name.push(".deployments");
            local(path.with_file_name(name))
        }
        (StoreUrl::Memory, None) => Ok(Arc::new(LocalDeployStore::in_memory())),
    }
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
