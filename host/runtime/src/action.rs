//! Actions: loading (size, secrets and allow-list checks, compilation with an in-memory LRU
//! and an optional on-disk cache of compiled components, linking against the trigger's world)
//! and what a loaded [`Action`] carries.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use cachet_limits::{ActionLimits, ExecutionLimits};
use lru::LruCache;
use serde_json::value::RawValue;
use sha2::{Digest, Sha256};
use wasmtime::Engine;
use wasmtime::component::{Component, ComponentExportIndex, InstancePre, Linker};

use crate::egress::AllowList;
use crate::error::LoadError;
use crate::sandbox::Ctx;
use crate::trigger::Trigger;
use crate::warm::{IdleBudget, InstanceMode, WarmPool};

/// A loaded action: compiled, linked against its trigger's world, with its secrets. Cheap to
/// clone.
#[derive(Clone)]
pub struct Action {
    pub(crate) inner: Arc<ActionInner>,
}

pub(crate) struct ActionInner {
    pub(crate) name: String,
    pub(crate) trigger: Trigger,
    pub(crate) digest: String,
    /// Size of the component, in bytes.
    pub(crate) component_bytes: usize,
    pub(crate) pre: InstancePre<Ctx>,
    /// The trigger's entry point, looked up once at load.
    pub(crate) export: ComponentExportIndex,
    /// Where it resumes after a redirect (`onContinuePostLogin`), if the trigger has one and
    /// the component exports it.
    pub(crate) continue_export: Option<ComponentExportIndex>,
    /// The secrets as the JSON object the event carries, serialized once at load.
    pub(crate) secrets_json: Box<RawValue>,
    pub(crate) allow: AllowList,
    /// Idle instances, for an action configured with [`InstanceMode::Warm`].
    pub(crate) warm: Option<WarmPool>,
}

/// How an action is configured: its secrets and the hosts it may reach.
///
/// ```
/// use cachet_runtime::ActionConfig;
/// let config = ActionConfig::default()
///     .secret("client_id", "abc")
///     .allow_host("tenant.example.com");
/// assert_eq!(config.secrets["client_id"], "abc");
/// assert!(!format!("{config:?}").contains("abc")); // Debug never shows secret values
/// ```
#[derive(Clone, Default, PartialEq, Eq)]
pub struct ActionConfig {
    /// Secrets by name; the action reads them as `event.secrets`.
    pub secrets: BTreeMap<String, String>,
    /// `HOST`, `HOST:PORT` or `[IPv6]:PORT` entries the action may reach over HTTP (and fetch
    /// JWKS from), checked when the action is loaded. Empty: no outbound HTTP at all. A name
    /// that resolves to a loopback, private or link-local address is refused at connect time
    /// unless it is listed in [`ActionConfig::allowed_private_hosts`] too; an IP literal entry
    /// allows exactly that address.
    pub allowed_hosts: Vec<String>,
    /// Entries of [`ActionConfig::allowed_hosts`] whose names may resolve to loopback, private
    /// or link-local addresses (an internal service the operator vouches for).
    pub allowed_private_hosts: Vec<String>,
    /// Loopback entries of [`ActionConfig::allowed_hosts`] that `https://` URLs reach over
    /// plain HTTP: a local server standing in for a real one while testing (`cachet dev-idp`,
    /// whose address a client library such as node-auth0 turns into `https://ADDR`). Only
    /// loopback IP addresses are accepted (not names, which could resolve elsewhere), so no
    /// request to another machine is ever sent unencrypted.
    pub plain_http_hosts: Vec<String>,
    /// Fresh instances per execution (the default) or warm ones reused for the same tenant.
    pub instance: InstanceMode,
}

impl std::fmt::Debug for ActionConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Secret names only: values are credentials.
        f.debug_struct("ActionConfig")
            .field("secrets", &self.secrets.keys().collect::<Vec<_>>())
            .field("allowed_hosts", &self.allowed_hosts)
            .field("allowed_private_hosts", &self.allowed_private_hosts)
            .field("plain_http_hosts", &self.plain_http_hosts)
            .field("instance", &self.instance)
            .finish()
    }
}

impl ActionConfig {
    /// Adds a secret.
    pub fn secret(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.secrets.insert(name.into(), value.into());
        self
    }

    /// Allows outbound HTTP to `host` (any port) or `host:port`.
    pub fn allow_host(mut self, host: impl Into<String>) -> Self {
        self.allowed_hosts.push(host.into());
        self
    }

    /// Allows outbound HTTP to `host` (any port) or `host:port` even when the name resolves to
    /// a loopback, private or link-local address.
    pub fn allow_private_host(mut self, host: impl Into<String>) -> Self {
        let host = host.into();
        self.allowed_hosts.push(host.clone());
        self.allowed_private_hosts.push(host);
        self
    }

    /// Lets `https://` URLs to the loopback `host:port` (already allowed) go over plain HTTP:
    /// see [`ActionConfig::plain_http_hosts`].
    pub fn plain_http_host(mut self, host: impl Into<String>) -> Self {
        self.plain_http_hosts.push(host.into());
        self
    }
}

impl From<BTreeMap<String, String>> for ActionConfig {
    fn from(secrets: BTreeMap<String, String>) -> Self {
        Self {
            secrets,
            ..Self::default()
        }
    }
}

impl Action {
    /// The action's name.
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// The trigger it runs on.
    pub fn trigger(&self) -> Trigger {
        self.inner.trigger
    }

    /// SHA-256 of the component, hex.
    pub fn digest(&self) -> &str {
        &self.inner.digest
    }

    /// Size of the component, in bytes.
    pub fn component_bytes(&self) -> usize {
        self.inner.component_bytes
    }

    /// Whether it keeps warm instances ([`InstanceMode::Warm`]).
    pub fn is_warm(&self) -> bool {
        self.inner.warm.is_some()
    }
}

impl std::fmt::Debug for Action {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Secrets deliberately left out.
        f.debug_struct("Action")
            .field("name", &self.inner.name)
            .field("trigger", &self.inner.trigger)
            .field("digest", &self.inner.digest)
            .finish_non_exhaustive()
    }
}

const WASM_MAGIC: &[u8; 4] = b"\0asm";
const CORE_VERSION: [u8; 4] = [1, 0, 0, 0];

/// Loads actions for one engine: validates, compiles (with an in-memory LRU and an optional
/// on-disk cache of compiled components) and pre-links them against their trigger's world.
pub(crate) struct Loader {
    pub(crate) engine: Engine,
    /// The runtime's budget of idle warm instances, shared by every warm action.
    pub(crate) warm_idle: Arc<IdleBudget>,
    /// One per trigger, indexed by [`Trigger::index`].
    /// One linker per trigger, in [`Trigger::ALL`] order.
    pub(crate) linkers: Vec<Linker<Ctx>>,
    pub(crate) compiled: Mutex<LruCache<[u8; 32], Component>>,
    /// Directory and engine-compatibility tag of the on-disk compiled cache, if enabled.
    pub(crate) disk_cache: Option<(PathBuf, String)>,
    pub(crate) compile_stats: CompileCounters,
    pub(crate) limits: ExecutionLimits,
    pub(crate) action_limits: ActionLimits,
}

#[derive(Default)]
pub(crate) struct CompileCounters {
    memory_hits: AtomicU64,
    disk_hits: AtomicU64,
    compiled: AtomicU64,
}

/// Where loaded components came from, since the runtime started.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct CompileStats {
    /// Loads served by the in-memory cache of compiled components.
    pub memory_hits: u64,
    /// Loads served by the on-disk cache.
    pub disk_hits: u64,
    /// Loads that compiled the component.
    pub compiled: u64,
}

impl Loader {
    /// Where loaded components came from so far.
    pub(crate) fn stats(&self) -> CompileStats {
        let s = &self.compile_stats;
        CompileStats {
            memory_hits: s.memory_hits.load(Ordering::Relaxed),
            disk_hits: s.disk_hits.load(Ordering::Relaxed),
            compiled: s.compiled.load(Ordering::Relaxed),
        }
    }

    /// See [`Runtime::load_action`](crate::Runtime::load_action).
    pub(crate) fn load(
        &self,
        name: &str,
        trigger: Trigger,
        wasm: &[u8],
        config: impl Into<ActionConfig>,
    ) -> Result<Action, LoadError> {
        let ActionConfig {
            secrets,
            allowed_hosts,
            allowed_private_hosts,
            plain_http_hosts,
            instance,
        } = config.into();
        let inner = self;
        let named = || name.to_string();
        inner
            .limits
            .check_module_bytes(wasm.len())
            .map_err(|source| LoadError::TooLarge {
                name: named(),
                source,
            })?;
        inner
            .action_limits
            .check_secrets(secrets.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .map_err(|source| LoadError::Secrets {
                name: named(),
                source,
            })?;
        let allow = AllowList::parse(&allowed_hosts, &allowed_private_hosts)
            .and_then(|allow| allow.with_plain_http(&plain_http_hosts))
            .map_err(|source| LoadError::AllowList {
                name: named(),
                source,
            })?;
        if wasm.get(..4) != Some(WASM_MAGIC.as_slice()) {
            return Err(LoadError::NotWasm { name: named() });
        }
        if wasm.get(4..8) == Some(CORE_VERSION.as_slice()) {
            return Err(LoadError::CoreModule { name: named() });
        }

        let digest: [u8; 32] = Sha256::digest(wasm).into();
        let component = self
            .compile(&digest, wasm)
            .map_err(|e| LoadError::Invalid {
                name: named(),
                reason: format!("{e:#}"),
            })?;

        let export = |t: Trigger| component.get_export_index(None, t.export_name());
        let Some(export_index) = export(trigger) else {
            return Err(
                match Trigger::ALL.into_iter().find(|t| export(*t).is_some()) {
                    Some(actual) => LoadError::WrongTrigger {
                        name: named(),
                        expected: trigger,
                        actual,
                    },
                    None => LoadError::MissingExport {
                        name: named(),
                        trigger,
                        how: trigger.spec().how_to_export,
                    },
                },
            );
        };
        let pre = inner.linkers[trigger.index()]
            .instantiate_pre(&component)
            .map_err(|e| LoadError::UnsatisfiedImports {
                name: named(),
                trigger,
                reason: format!("{e:#}"),
            })?;
        let secrets_json =
            serde_json::value::to_raw_value(&secrets).map_err(|e| LoadError::Invalid {
                name: named(),
                reason: e.to_string(),
            })?;
        Ok(Action {
            inner: Arc::new(ActionInner {
                name: named(),
                trigger,
                digest: hex::encode(digest),
                component_bytes: wasm.len(),
                pre,
                export: export_index,
                continue_export: trigger
                    .continue_export_name()
                    .and_then(|name| component.get_export_index(None, name)),
                secrets_json,
                allow,
                warm: match instance {
                    InstanceMode::Fresh => None,
                    InstanceMode::Warm(options) => {
                        Some(WarmPool::new(options, Arc::clone(&inner.warm_idle)))
                    }
                },
            }),
        })
    }

    fn compile(&self, digest: &[u8; 32], wasm: &[u8]) -> wasmtime::Result<Component> {
        let inner = self;
        let stats = &inner.compile_stats;
        if let Some(c) = inner
            .compiled
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(digest)
        {
            stats.memory_hits.fetch_add(1, Ordering::Relaxed);
            return Ok(c.clone());
        }
        // Compile outside the lock: two loads of the same new component may both compile, which
        // is wasted work but never wrong, and other loads are not held up behind a compile.
        let disk_path = inner.disk_cache.as_ref().map(|(dir, engine_tag)| {
            dir.join(format!("{}-{engine_tag}.cwasm", hex::encode(digest)))
        });
        let from_disk = disk_path.as_deref().filter(|p| p.exists()).and_then(|path| {
            match load_precompiled(&inner.engine, path) {
                Ok(c) => Some(c),
                Err(e) => {
                    tracing::warn!(path = %path.display(), error = %e, "ignoring an unusable precompiled component; compiling instead");
                    None
                }
            }
        });
        let component = match from_disk {
            Some(c) => {
                stats.disk_hits.fetch_add(1, Ordering::Relaxed);
                c
            }
            None => {
                let c = Component::new(&inner.engine, wasm)?;
                stats.compiled.fetch_add(1, Ordering::Relaxed);
                if let Some(path) = &disk_path {
                    let written = c
                        .serialize()
                        .map_err(|e| std::io::Error::other(e.to_string()))
                        .and_then(|bytes| crate::state_file::write_private(path, &bytes));
                    if let Err(e) = written {
                        tracing::warn!(path = %path.display(), error = %e, "could not save a compiled component");
                    }
                }
                c
            }
        };
        inner
            .compiled
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .put(*digest, component.clone());
        Ok(component)
    }
}

/// Loads a component this runtime compiled and saved earlier.
///
/// The file is read into memory rather than mapped (`deserialize_file`): a mapped file that
/// someone truncates or rewrites in place would crash the host with SIGBUS.
#[allow(unsafe_code)]
fn load_precompiled(engine: &Engine, path: &std::path::Path) -> wasmtime::Result<Component> {
    let bytes = std::fs::read(path).map_err(|e| wasmtime::Error::msg(e.to_string()))?;
    // SAFETY: deserializing runs native code from the file, so it must be a file wasmtime
    // produced. It is: the directory is the operator's (documented on `compiled_cache_dir`), the
    // files are written by `compile` with mode 0600, and the name binds the content hash and
    // this engine's compatibility hash; wasmtime itself rejects bytes from another version or
    // configuration, and anything not starting as a compiled artifact, with an error.
    unsafe { Component::deserialize(engine, &bytes) }
}
