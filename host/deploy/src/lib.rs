//! Actions deployed through Cachet's API, kept where every replica of a service reads them.
//!
//! Three things are kept, per tenant:
//!
//! - **versions** of an action: a component and its settings (trigger, allow-list, secret
//!   references), named by the hash of both ([`version_id`]), never changed once stored. Two
//!   uploads of the same bytes and settings are one version.
//! - **the deployed version** of each action: which version runs where the action is bound.
//!   Rollback is deploying an earlier version.
//! - **bindings**: the ordered list of actions a trigger's flow runs (Auth0's "flow").
//!
//! Every change bumps one counter, the generation ([`DeployStore::generation`]); replicas
//! read it cheaply and, when it moved, read the whole [`Snapshot`] and the components they have
//! not loaded yet. A version is stored whole or not at all: its metadata is written last (in
//! Redis, in the same script), so a reader never finds metadata without its component.
//!
//! The backends: [`LocalDeployStore`] (in memory for one process, or a directory that
//! survives restarts, for one host) here, and Redis (shared by every replica) in
//! `cachet-store-redis`, the way each cache store backend is its own module or crate.
//!
//! ```
//! # tokio_test_block_on(async {
//! use cachet_deploy::{DeployStore, LocalDeployStore, Settings, VersionMeta};
//!
//! let store = LocalDeployStore::in_memory();
//! let meta = VersionMeta::new("acme", "claims", "post-login", Settings::default(), b"\0asm", "ci", 1);
//! assert!(store.put_version(&meta, b"\0asm").await.unwrap());
//! assert!(!store.put_version(&meta, b"\0asm").await.unwrap(), "the same version is stored once");
//! store.deploy("acme", "claims", &meta.version, "ci", 2).await.unwrap();
//! store.bind("acme", "post-login", &["claims".to_owned()], "ci").await.unwrap();
//! let snapshot = store.snapshot().await.unwrap();
//! assert_eq!(snapshot.deployed[0].version, meta.version);
//! assert_eq!(snapshot.generation, store.generation().await.unwrap());
//! # });
//! # fn tokio_test_block_on(f: impl std::future::Future<Output = ()>) {
//! #     tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(f)
//! # }
//! ```

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use thiserror::Error;

/// An action's settings besides its component: what its version is named by, with the bytes.
///
/// Secrets are references only (`env:VARIABLE`), resolved by each replica from its own
/// environment when it loads the version: secret values are never stored here.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// Hosts the action may call over HTTPS.
    #[serde(default)]
    pub allow_hosts: Vec<String>,
    /// Hosts with private addresses it may call (also allow-listed).
    #[serde(default)]
    pub allow_private_hosts: Vec<String>,
    /// Loopback addresses whose `https://` URLs go over plain HTTP (local development).
    #[serde(default)]
    pub plain_http_hosts: Vec<String>,
    /// Secret name → `env:VARIABLE`.
    #[serde(default)]
    pub secrets: BTreeMap<String, String>,
    /// `fresh` (the default) or `warm`.
    #[serde(default)]
    pub instance: Option<String>,
}

/// One stored version of an action: everything but its component's bytes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VersionMeta {
    /// Its name: the hash of the component and settings ([`version_id`]).
    pub version: String,
    /// The tenant it belongs to.
    pub tenant: String,
    /// The action's name.
    pub action: String,
    /// The trigger it was built and checked for (`post-login`, …).
    pub trigger: String,
    /// Allow-list, secret references, instance mode.
    pub settings: Settings,
    /// The component's size in bytes.
    pub bytes: u64,
    /// When it was stored (ms since the Unix epoch).
    pub created_at_ms: u64,
    /// The name (never the value) of the API token that stored it.
    pub created_by: String,
    /// The source language the uploader built it from (`javascript`, `typescript`, `wasm`).
    #[serde(default)]
    pub language: Option<String>,
}

impl VersionMeta {
    /// The metadata of `component` with `settings`, named by their hash.
    pub fn new(
        tenant: &str,
        action: &str,
        trigger: &str,
        settings: Settings,
        component: &[u8],
        created_by: &str,
        created_at_ms: u64,
    ) -> Self {
        Self {
            version: version_id(trigger, &settings, component),
            tenant: tenant.to_owned(),
            action: action.to_owned(),
            trigger: trigger.to_owned(),
            settings,
            bytes: component.len() as u64,
            created_at_ms,
            created_by: created_by.to_owned(),
            language: None,
        }
    }
}

/// A version's name: the first 24 hex digits of the SHA-256 of the trigger, the settings (as
/// JSON) and the component, so equal uploads are one version and any change is a new one.
pub fn version_id(trigger: &str, settings: &Settings, component: &[u8]) -> String {
    let mut hash = Sha256::new();
    hash.update(trigger.as_bytes());
    hash.update([0]);
    // Settings serialize deterministically (struct order, BTreeMap keys).
    hash.update(serde_json::to_vec(settings).unwrap_or_default());
    hash.update([0]);
    hash.update(component);
    hex::encode(&hash.finalize()[..12])
}

/// Which version of an action is deployed, since when and by whom.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Deployed {
    /// The tenant.
    pub tenant: String,
    /// The action.
    pub action: String,
    /// The deployed version.
    pub version: String,
    /// When it was deployed (ms since the Unix epoch).
    pub deployed_at_ms: u64,
    /// The name of the token that deployed it.
    pub deployed_by: String,
}

/// The actions a tenant's trigger runs, in order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Binding {
    /// The tenant.
    pub tenant: String,
    /// The trigger (`post-login`, …).
    pub trigger: String,
    /// Action names, in flow order (each has a deployed version).
    pub actions: Vec<String>,
    /// The name of the token that set them.
    #[serde(default)]
    pub bound_by: String,
}

/// Everything a replica needs to build its deployed flows, read at one generation.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Snapshot {
    /// The generation this state is at.
    pub generation: u64,
    /// Every deployed action, ordered by tenant and name.
    pub deployed: Vec<Deployed>,
    /// Every binding, ordered by tenant and trigger.
    pub bindings: Vec<Binding>,
}

impl Snapshot {
    /// Orders deployed actions by tenant and name, and bindings by tenant and trigger: the
    /// order every store returns them in.
    pub fn sort(&mut self) {
        self.deployed
            .sort_by(|a, b| (&a.tenant, &a.action).cmp(&(&b.tenant, &b.action)));
        self.bindings
            .sort_by(|a, b| (&a.tenant, &a.trigger).cmp(&(&b.tenant, &b.trigger)));
    }
}

/// Why a deployment store operation failed.
#[derive(Debug, Error)]
pub enum DeployStoreError {
    /// The version to deploy was never stored.
    #[error(
        "action `{action}` of tenant `{tenant}` has no version `{version}`; list its versions \
         (GET …/actions/{action}/versions) and deploy one of them"
    )]
    NoSuchVersion {
        /// The tenant.
        tenant: String,
        /// The action.
        action: String,
        /// The version asked for.
        version: String,
    },
    /// The action is deployed as an action of one trigger and bound (or to be bound) into
    /// another trigger's flow.
    #[error(
        "`{action}` of tenant `{tenant}` would be a {deployed} action in the {bound} flow; \
         bind it to {deployed}, or deploy a version built for {bound}"
    )]
    TriggerMismatch {
        /// The tenant.
        tenant: String,
        /// The action.
        action: String,
        /// The trigger of its (to be) deployed version.
        deployed: String,
        /// The trigger of the flow it is (to be) bound into.
        bound: String,
    },
    /// A binding names an action with no deployed version.
    #[error("tenant `{tenant}` has no deployed action `{action}`; deploy a version of it first")]
    NotDeployed {
        /// The tenant.
        tenant: String,
        /// The action.
        action: String,
    },
    /// The store could not be read or written (disk, Redis).
    #[error("the deployment store failed: {0}; retry when it is back")]
    Unavailable(String),
    /// What the store holds cannot be read (written by something else, or damaged).
    #[error("the deployment store holds something unreadable at {what}: {reason}")]
    Corrupt {
        /// Where.
        what: String,
        /// Why.
        reason: String,
    },
}

/// Where deployed actions are kept. Implementations are shared by every request and the
/// replica's refresher; every method is one consistent step (no half-written state is ever
/// visible to another caller).
#[async_trait]
pub trait DeployStore: Send + Sync + fmt::Debug + 'static {
    /// Stores a version (its metadata and component) unless one of that name exists; `true`
    /// when it was new. Bumps the generation only when new.
    async fn put_version(
        &self,
        meta: &VersionMeta,
        component: &[u8],
    ) -> Result<bool, DeployStoreError>;

    /// Every version of an action, oldest first.
    async fn versions(
        &self,
        tenant: &str,
        action: &str,
    ) -> Result<Vec<VersionMeta>, DeployStoreError>;

    /// One version's metadata, if stored.
    async fn version(
        &self,
        tenant: &str,
        action: &str,
        version: &str,
    ) -> Result<Option<VersionMeta>, DeployStoreError>;

    /// One version's component, if stored.
    async fn component(
        &self,
        tenant: &str,
        action: &str,
        version: &str,
    ) -> Result<Option<Vec<u8>>, DeployStoreError>;

    /// Makes `version` the deployed version of the action: it must be stored, and of the
    /// trigger of every flow the action is bound into (checked in the same step as the write,
    /// so a racing [`DeployStore::bind`] cannot leave an action in the wrong flow).
    async fn deploy(
        &self,
        tenant: &str,
        action: &str,
        version: &str,
        by: &str,
        at_ms: u64,
    ) -> Result<(), DeployStoreError>;

    /// Sets the actions `tenant`'s `trigger` runs (an empty list unbinds them all). Each must
    /// have a deployed version of that trigger, checked in the same step as the write.
    async fn bind(
        &self,
        tenant: &str,
        trigger: &str,
        actions: &[String],
        by: &str,
    ) -> Result<(), DeployStoreError>;

    /// The generation: a counter every change moves. Cheap; replicas poll it.
    async fn generation(&self) -> Result<u64, DeployStoreError>;

    /// Deployed versions and bindings, read together at one generation.
    async fn snapshot(&self) -> Result<Snapshot, DeployStoreError>;
}

/// Deployed actions kept in this process, and in a directory when one is given (one host: a
/// service on the snapshot-file store keeps them beside its snapshot).
///
/// The directory holds `versions/TENANT/ACTION/VERSION.wasm` and `….json` and `state.json`
/// (the generation, deployed versions and bindings). Every file is written to a temporary
/// name and renamed into place, and a version's metadata after its component, so a crash
/// leaves either the old state or the new one.
pub struct LocalDeployStore {
    dir: Option<PathBuf>,
    inner: Mutex<Local>,
}

#[derive(Default)]
struct Local {
    state: Snapshot,
    /// (tenant, action) → versions, oldest first, with their components.
    versions: BTreeMap<(String, String), Vec<Stored>>,
}

/// A version and its component.
type Stored = (VersionMeta, Vec<u8>);

impl fmt::Debug for LocalDeployStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LocalDeployStore")
            .field("dir", &self.dir)
            .finish_non_exhaustive()
    }
}

fn io(what: &Path, e: std::io::Error) -> DeployStoreError {
    DeployStoreError::Unavailable(format!("{}: {e}", what.display()))
}

/// Writes `bytes` to `path` through a temporary file and a rename.
fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), DeployStoreError> {
    // `V.wasm.tmp` and `V.json.tmp`: each file its own temporary name.
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".tmp");
    let tmp = path.with_file_name(name);
    std::fs::write(&tmp, bytes).map_err(|e| io(&tmp, e))?;
    std::fs::rename(&tmp, path).map_err(|e| io(path, e))
}

impl LocalDeployStore {
    /// Kept in memory only: gone when the process exits.
    pub fn in_memory() -> Self {
        Self {
            dir: None,
            inner: Mutex::new(Local::default()),
        }
    }

    /// Kept in `dir` (created if missing), reading what an earlier run left there.
    pub fn open(dir: &Path) -> Result<Self, DeployStoreError> {
        std::fs::create_dir_all(dir.join("versions")).map_err(|e| io(dir, e))?;
        let mut local = Local::default();
        let state_path = dir.join("state.json");
        match std::fs::read(&state_path) {
            Ok(bytes) => {
                local.state =
                    serde_json::from_slice(&bytes).map_err(|e| DeployStoreError::Corrupt {
                        what: state_path.display().to_string(),
                        reason: e.to_string(),
                    })?;
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(io(&state_path, e)),
        }
        let mut metas = Vec::new();
        for tenant in read_dir(&dir.join("versions"))? {
            for action in read_dir(&tenant)? {
                for file in read_dir(&action)? {
                    if file.extension().is_some_and(|e| e == "json") {
                        let bytes = std::fs::read(&file).map_err(|e| io(&file, e))?;
                        let meta: VersionMeta = serde_json::from_slice(&bytes).map_err(|e| {
                            DeployStoreError::Corrupt {
                                what: file.display().to_string(),
                                reason: e.to_string(),
                            }
                        })?;
                        let wasm = file.with_extension("wasm");
                        let component = std::fs::read(&wasm).map_err(|e| io(&wasm, e))?;
                        metas.push((meta, component));
                    }
                }
            }
        }
        metas.sort_by(|a, b| {
            (a.0.created_at_ms, &a.0.version).cmp(&(b.0.created_at_ms, &b.0.version))
        });
        for (meta, component) in metas {
            local
                .versions
                .entry((meta.tenant.clone(), meta.action.clone()))
                .or_default()
                .push((meta, component));
        }
        Ok(Self {
            dir: Some(dir.to_path_buf()),
            inner: Mutex::new(local),
        })
    }

    /// A stored version and its component.
    fn find(&self, tenant: &str, action: &str, version: &str) -> Option<Stored> {
        self.lock()
            .versions
            .get(&(tenant.to_owned(), action.to_owned()))
            .and_then(|v| v.iter().find(|(m, _)| m.version == version))
            .cloned()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Local> {
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Saves `state` (with the directory) and makes it current.
    fn commit(&self, local: &mut Local, mut state: Snapshot) -> Result<(), DeployStoreError> {
        state.generation = local.state.generation + 1;
        if let Some(dir) = &self.dir {
            let bytes = serde_json::to_vec_pretty(&state)
                .map_err(|e| DeployStoreError::Unavailable(e.to_string()))?;
            write_atomic(&dir.join("state.json"), &bytes)?;
        }
        local.state = state;
        Ok(())
    }
}

fn read_dir(dir: &Path) -> Result<Vec<PathBuf>, DeployStoreError> {
    let mut paths = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(|e| io(dir, e))? {
        paths.push(entry.map_err(|e| io(dir, e))?.path());
    }
    paths.sort();
    Ok(paths)
}

#[async_trait]
impl DeployStore for LocalDeployStore {
    async fn put_version(
        &self,
        meta: &VersionMeta,
        component: &[u8],
    ) -> Result<bool, DeployStoreError> {
        let mut local = self.lock();
        let key = (meta.tenant.clone(), meta.action.clone());
        if local
            .versions
            .get(&key)
            .is_some_and(|v| v.iter().any(|(m, _)| m.version == meta.version))
        {
            return Ok(false);
        }
        if let Some(dir) = &self.dir {
            let at = dir.join("versions").join(&meta.tenant).join(&meta.action);
            std::fs::create_dir_all(&at).map_err(|e| io(&at, e))?;
            write_atomic(&at.join(format!("{}.wasm", meta.version)), component)?;
            let json = serde_json::to_vec_pretty(meta)
                .map_err(|e| DeployStoreError::Unavailable(e.to_string()))?;
            write_atomic(&at.join(format!("{}.json", meta.version)), &json)?;
        }
        local
            .versions
            .entry(key)
            .or_default()
            .push((meta.clone(), component.to_vec()));
        let state = local.state.clone();
        self.commit(&mut local, state)?;
        Ok(true)
    }

    async fn versions(
        &self,
        tenant: &str,
        action: &str,
    ) -> Result<Vec<VersionMeta>, DeployStoreError> {
        Ok(self
            .lock()
            .versions
            .get(&(tenant.to_owned(), action.to_owned()))
            .map(|v| v.iter().map(|(m, _)| m.clone()).collect())
            .unwrap_or_default())
    }

    async fn version(
        &self,
        tenant: &str,
        action: &str,
        version: &str,
    ) -> Result<Option<VersionMeta>, DeployStoreError> {
        Ok(self.find(tenant, action, version).map(|(m, _)| m))
    }

    async fn component(
        &self,
        tenant: &str,
        action: &str,
        version: &str,
    ) -> Result<Option<Vec<u8>>, DeployStoreError> {
        Ok(self.find(tenant, action, version).map(|(_, c)| c))
    }

    async fn deploy(
        &self,
        tenant: &str,
        action: &str,
        version: &str,
        by: &str,
        at_ms: u64,
    ) -> Result<(), DeployStoreError> {
        let mut local = self.lock();
        let Some(trigger) = local
            .versions
            .get(&(tenant.to_owned(), action.to_owned()))
            .and_then(|v| v.iter().find(|(m, _)| m.version == version))
            .map(|(m, _)| m.trigger.clone())
        else {
            return Err(DeployStoreError::NoSuchVersion {
                tenant: tenant.to_owned(),
                action: action.to_owned(),
                version: version.to_owned(),
            });
        };
        if let Some(binding) = local.state.bindings.iter().find(|b| {
            b.tenant == tenant && b.trigger != trigger && b.actions.iter().any(|a| a == action)
        }) {
            return Err(DeployStoreError::TriggerMismatch {
                tenant: tenant.to_owned(),
                action: action.to_owned(),
                deployed: trigger,
                bound: binding.trigger.clone(),
            });
        }
        let mut state = local.state.clone();
        state
            .deployed
            .retain(|d| !(d.tenant == tenant && d.action == action));
        state.deployed.push(Deployed {
            tenant: tenant.to_owned(),
            action: action.to_owned(),
            version: version.to_owned(),
            deployed_at_ms: at_ms,
            deployed_by: by.to_owned(),
        });
        state.sort();
        self.commit(&mut local, state)
    }

    async fn bind(
        &self,
        tenant: &str,
        trigger: &str,
        actions: &[String],
        by: &str,
    ) -> Result<(), DeployStoreError> {
        let mut local = self.lock();
        for action in actions {
            let deployed = local
                .state
                .deployed
                .iter()
                .find(|d| d.tenant == tenant && &d.action == action)
                .and_then(|d| {
                    local
                        .versions
                        .get(&(tenant.to_owned(), action.clone()))?
                        .iter()
                        .find(|(m, _)| m.version == d.version)
                })
                .map(|(m, _)| m.trigger.clone());
            match deployed {
                None => {
                    return Err(DeployStoreError::NotDeployed {
                        tenant: tenant.to_owned(),
                        action: action.clone(),
                    });
                }
                Some(deployed) if deployed != trigger => {
                    return Err(DeployStoreError::TriggerMismatch {
                        tenant: tenant.to_owned(),
                        action: action.clone(),
                        deployed,
                        bound: trigger.to_owned(),
                    });
                }
                Some(_) => {}
            }
        }
        let mut state = local.state.clone();
        state
            .bindings
            .retain(|b| !(b.tenant == tenant && b.trigger == trigger));
        if !actions.is_empty() {
            state.bindings.push(Binding {
                tenant: tenant.to_owned(),
                trigger: trigger.to_owned(),
                actions: actions.to_vec(),
                bound_by: by.to_owned(),
            });
        }
        state.sort();
        self.commit(&mut local, state)
    }

    async fn generation(&self) -> Result<u64, DeployStoreError> {
        Ok(self.lock().state.generation)
    }

    async fn snapshot(&self) -> Result<Snapshot, DeployStoreError> {
        Ok(self.lock().state.clone())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn meta(action: &str, component: &[u8], at: u64) -> VersionMeta {
        VersionMeta::new(
            "acme",
            action,
            "post-login",
            Settings::default(),
            component,
            "ci",
            at,
        )
    }

    #[test]
    fn a_version_is_named_by_its_component_trigger_and_settings() {
        let a = version_id("post-login", &Settings::default(), b"one");
        assert_eq!(a, version_id("post-login", &Settings::default(), b"one"));
        assert_ne!(a, version_id("post-login", &Settings::default(), b"two"));
        assert_ne!(
            a,
            version_id("credentials-exchange", &Settings::default(), b"one")
        );
        let allowing = Settings {
            allow_hosts: vec!["api.example.com".into()],
            ..Settings::default()
        };
        assert_ne!(a, version_id("post-login", &allowing, b"one"));
        assert_eq!(a.len(), 24);
    }

    #[tokio::test]
    async fn a_directory_store_keeps_versions_deployments_and_bindings_across_reopening() {
        let dir = std::env::temp_dir().join(format!("cachet-deploy-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let (v1, v2) = (meta("claims", b"one", 1), meta("claims", b"two", 2));
        {
            let store = LocalDeployStore::open(&dir).unwrap();
            assert!(store.put_version(&v1, b"one").await.unwrap());
            assert!(store.put_version(&v2, b"two").await.unwrap());
            store
                .deploy("acme", "claims", &v2.version, "ci", 3)
                .await
                .unwrap();
            store
                .bind("acme", "post-login", &["claims".into()], "ci")
                .await
                .unwrap();
        }
        let store = LocalDeployStore::open(&dir).unwrap();
        let versions = store.versions("acme", "claims").await.unwrap();
        assert_eq!(versions, vec![v1.clone(), v2.clone()], "oldest first");
        assert_eq!(
            store
                .component("acme", "claims", &v1.version)
                .await
                .unwrap(),
            Some(b"one".to_vec())
        );
        let snapshot = store.snapshot().await.unwrap();
        assert_eq!(snapshot.generation, 4);
        assert_eq!(snapshot.deployed[0].version, v2.version);
        assert_eq!(snapshot.bindings[0].actions, vec!["claims".to_owned()]);
        // Rollback: deploying the earlier version.
        store
            .deploy("acme", "claims", &v1.version, "ci", 4)
            .await
            .unwrap();
        assert_eq!(
            store.snapshot().await.unwrap().deployed[0].version,
            v1.version
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[tokio::test]
    async fn deploying_a_version_never_stored_is_refused_and_changes_nothing() {
        let store = LocalDeployStore::in_memory();
        let err = store
            .deploy("acme", "claims", "0123", "ci", 1)
            .await
            .unwrap_err();
        assert!(
            matches!(err, DeployStoreError::NoSuchVersion { .. }),
            "{err}"
        );
        assert_eq!(store.generation().await.unwrap(), 0);
    }

    #[tokio::test]
    async fn an_empty_binding_removes_the_trigger_s_flow() {
        let store = LocalDeployStore::in_memory();
        let a = meta("a", b"a", 1);
        store.put_version(&a, b"a").await.unwrap();
        store
            .deploy("acme", "a", &a.version, "ci", 2)
            .await
            .unwrap();
        store
            .bind("acme", "post-login", &["a".into()], "ci")
            .await
            .unwrap();
        store.bind("acme", "post-login", &[], "ci").await.unwrap();
        assert!(store.snapshot().await.unwrap().bindings.is_empty());
    }
}
