//! [`Runtime`]: loads actions, binds them into flows, and executes flows in fresh sandboxes.

use std::collections::{BTreeMap, HashMap};
use std::hash::{Hash, Hasher};
use std::num::NonZeroUsize;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::{Duration, Instant};

use cachet_limits::{ActionLimits, CacheLimits, ExecutionLimits, OverflowPolicy, Usage};
use lru::LruCache;
use serde_json::value::RawValue;
use sha2::{Digest, Sha256};
use wasmtime::component::{Component, Linker, ResourceTable};
use wasmtime::{
    Config, Enabled, Engine, InstanceAllocationStrategy, PoolingAllocationConfig, Store, Trap,
    UpdateDeadline,
};
use wasmtime_wasi::WasiCtxBuilder;

use crate::bindings::{credentials_exchange, post_login};
use crate::clock::WasiWallClock;
use crate::egress::{AllowList, Egress};
use crate::exec::{Ctx, Epochs, ExecData, ExecState, MemoryLimiter};
use crate::jwt::JwksCache;
use crate::log::LogSink;
use crate::result::{ActionFailure, ActionResult, Command, FailureKind, FlowResult, Outcome};
use crate::{
    BuildError, CacheStore, Clock, EpochTicks, ExecuteError, LoadError, MemoryStore, PartitionKey,
    SystemClock, Trigger,
};

/// Extra wall-clock time allowed past the flow deadline for host-side waits (a store call in
/// flight) before the execution is abandoned. Wasm code itself is stopped by epochs.
const DEADLINE_GRACE: Duration = Duration::from_millis(100);

/// Builds a [`Runtime`]. Every setting has a production default.
///
/// ```
/// use cachet_host::{ManualClock, Runtime};
/// use cachet_limits::OverflowPolicy;
/// use std::sync::Arc;
///
/// let clock = ManualClock::new(1_700_000_000_000);
/// let runtime = Runtime::builder()
///     .overflow_policy(OverflowPolicy::Strict)
///     .clock(Arc::new(clock.clone()))
///     .instance_pool_size(16)
///     .build()
///     .unwrap();
/// assert_eq!(runtime.now_ms(), 1_700_000_000_000);
/// ```
pub struct RuntimeBuilder {
    store: Option<Arc<dyn CacheStore>>,
    cache_limits: CacheLimits,
    policy: OverflowPolicy,
    execution_limits: ExecutionLimits,
    action_limits: ActionLimits,
    clock: Arc<dyn Clock>,
    epoch_ticks: EpochTicks,
    instance_pool_size: u32,
    compiled_cache_capacity: usize,
    compiled_cache_dir: Option<PathBuf>,
    concurrency_support: bool,
}

impl Default for RuntimeBuilder {
    fn default() -> Self {
        Self {
            store: None,
            cache_limits: CacheLimits::default(),
            policy: OverflowPolicy::default(),
            execution_limits: ExecutionLimits::default(),
            action_limits: ActionLimits::default(),
            clock: Arc::new(SystemClock),
            epoch_ticks: EpochTicks::default(),
            instance_pool_size: 128,
            compiled_cache_capacity: 64,
            compiled_cache_dir: None,
            concurrency_support: false,
        }
    }
}

impl RuntimeBuilder {
    /// The cache store. Default: a [`MemoryStore`] with the configured cache limits and
    /// overflow policy (which a custom store brings its own of).
    pub fn store(mut self, store: Arc<dyn CacheStore>) -> Self {
        self.store = Some(store);
        self
    }

    /// Quotas of each partition of the default store.
    pub fn cache_limits(mut self, limits: CacheLimits) -> Self {
        self.cache_limits = limits;
        self
    }

    /// What a write into a full partition of the default store does.
    pub fn overflow_policy(mut self, policy: OverflowPolicy) -> Self {
        self.policy = policy;
        self
    }

    /// Deadline, memory, event, log and module limits.
    pub fn execution_limits(mut self, limits: ExecutionLimits) -> Self {
        self.execution_limits = limits;
        self
    }

    /// Secret limits of each action.
    pub fn action_limits(mut self, limits: ActionLimits) -> Self {
        self.action_limits = limits;
        self
    }

    /// The clock for cache expiry and for the actions' wall clock. Default: the system clock.
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// How the deadline epoch advances. Default: every 10 ms on a background thread.
    pub fn epoch_ticks(mut self, ticks: EpochTicks) -> Self {
        self.epoch_ticks = ticks;
        self
    }

    /// How many actions may run at once (the pooling allocator's slots). Each slot reserves
    /// address space, not memory. Default 128.
    pub fn instance_pool_size(mut self, slots: u32) -> Self {
        self.instance_pool_size = slots.max(1);
        self
    }

    /// How many compiled components to keep, by content hash. Default 64.
    pub fn compiled_cache_capacity(mut self, components: usize) -> Self {
        self.compiled_cache_capacity = components;
        self
    }

    /// Also keep compiled components on disk, in `dir` (created if missing), so a restarted host
    /// does not compile its actions again. Files are named by content hash and engine
    /// configuration, written atomically with mode 0600, and loaded as native code: point this
    /// only at a directory that nobody else can write.
    pub fn compiled_cache_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.compiled_cache_dir = Some(dir.into());
        self
    }

    /// wasmtime's component-model concurrency support. Off by default: actions do not use
    /// component-model async, and off halves the cost of each host call (see BENCHMARKS.md).
    pub fn concurrency_support(mut self, enable: bool) -> Self {
        self.concurrency_support = enable;
        self
    }

    /// Builds the runtime: validates the limits and creates the engine and its instance pool.
    pub fn build(self) -> Result<Runtime, BuildError> {
        self.cache_limits.validate()?;
        self.execution_limits.validate()?;
        let engine = self
            .engine()
            .map_err(|e| BuildError::Engine(e.to_string()))?;
        let linker =
            |trigger| linker(&engine, trigger).map_err(|e| BuildError::Engine(e.to_string()));
        let linkers = [
            linker(Trigger::PostLogin)?,
            linker(Trigger::CredentialsExchange)?,
        ];
        let store = self
            .store
            .unwrap_or_else(|| Arc::new(MemoryStore::new(self.cache_limits, self.policy)));
        let capacity = NonZeroUsize::new(self.compiled_cache_capacity).unwrap_or(NonZeroUsize::MIN);
        let disk_cache = match self.compiled_cache_dir {
            Some(dir) => {
                std::fs::create_dir_all(&dir).map_err(|e| {
                    BuildError::Engine(format!(
                        "cannot create the compiled cache directory {}: {e}",
                        dir.display()
                    ))
                })?;
                // Components compiled by another wasmtime or configuration must not match.
                let mut hasher = std::collections::hash_map::DefaultHasher::new();
                engine.precompile_compatibility_hash().hash(&mut hasher);
                Some((dir, format!("{:016x}", hasher.finish())))
            }
            None => None,
        };
        Ok(Runtime {
            inner: Arc::new(Inner {
                epochs: Epochs::start(engine.clone(), self.epoch_ticks),
                engine,
                linkers,
                compiled: Mutex::new(LruCache::new(capacity)),
                disk_cache,
                compile_stats: CompileCounters::default(),
                store,
                clock: self.clock,
                limits: self.execution_limits,
                action_limits: self.action_limits,
                flows: RwLock::new(HashMap::new()),
                jwks: Arc::default(),
            }),
        })
    }

    fn engine(&self) -> wasmtime::Result<Engine> {
        let slots = self.instance_pool_size;
        let mut pool = PoolingAllocationConfig::new();
        pool.total_component_instances(slots)
            // A Rust wasip2 component has one main module plus a few small shim modules.
            .total_core_instances(slots * 4)
            .total_memories(slots)
            .total_tables(slots * 4)
            .total_stacks(slots)
            .max_memories_per_component(1)
            .max_memory_size(self.execution_limits.max_memory_bytes)
            // Reuse a slot's pages instead of returning them to the kernel after every
            // execution, and reset only the dirty ones: the measured difference between
            // ~40 µs and ~15 µs per fresh instance.
            .linear_memory_keep_resident(2 * 1024 * 1024)
            .table_keep_resident(64 * 1024)
            .pagemap_scan(Enabled::Auto);

        let mut config = Config::new();
        config
            .wasm_component_model(true)
            .epoch_interruption(true)
            .concurrency_support(self.concurrency_support)
            .allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
        Engine::new(&config)
    }
}

fn linker(engine: &Engine, trigger: Trigger) -> wasmtime::Result<Linker<Ctx>> {
    let mut linker = Linker::new(engine);
    wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
    wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker)?;
    match trigger {
        Trigger::PostLogin => {
            post_login::PostLogin::add_to_linker::<Ctx, ExecData>(&mut linker, |c| &mut c.exec)?
        }
        Trigger::CredentialsExchange => credentials_exchange::CredentialsExchange::add_to_linker::<
            Ctx,
            ExecData,
        >(&mut linker, |c| &mut c.exec)?,
    }
    Ok(linker)
}

/// The Cachet runtime. Cheap to clone; clones share everything.
///
/// Actions are loaded once ([`Runtime::load_action`]: validated, compiled, pre-linked) and
/// executed many times, each execution in a fresh instance, so nothing leaks from one login to
/// the next except what an action deliberately puts in its trigger's cache.
#[derive(Clone)]
pub struct Runtime {
    inner: Arc<Inner>,
}

struct Inner {
    engine: Engine,
    /// Indexed by [`trigger_index`].
    linkers: [Linker<Ctx>; 2],
    compiled: Mutex<LruCache<[u8; 32], Component>>,
    /// Directory and engine-compatibility tag of the on-disk compiled cache, if enabled.
    disk_cache: Option<(PathBuf, String)>,
    compile_stats: CompileCounters,
    store: Arc<dyn CacheStore>,
    clock: Arc<dyn Clock>,
    limits: ExecutionLimits,
    action_limits: ActionLimits,
    flows: RwLock<HashMap<PartitionKey, Arc<[Action]>>>,
    epochs: Arc<Epochs>,
    jwks: Arc<JwksCache>,
}

#[derive(Default)]
struct CompileCounters {
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

fn trigger_index(t: Trigger) -> usize {
    match t {
        Trigger::PostLogin => 0,
        Trigger::CredentialsExchange => 1,
    }
}

/// A loaded action: compiled, linked against its trigger's world, with its secrets. Cheap to
/// clone.
#[derive(Clone)]
pub struct Action {
    inner: Arc<ActionInner>,
}

struct ActionInner {
    name: String,
    trigger: Trigger,
    digest: String,
    pre: ActionPre,
    /// The secrets as the JSON object the event carries, serialized once at load.
    secrets_json: Box<RawValue>,
    allow: AllowList,
}

/// How an action is configured: its secrets and the hosts it may reach.
///
/// ```
/// use cachet_host::ActionConfig;
/// let config = ActionConfig::default()
///     .secret("client_id", "abc")
///     .allow_host("tenant.example.com");
/// assert_eq!(config.secrets["client_id"], "abc");
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ActionConfig {
    /// Secrets by name; the action reads them as `event.secrets`.
    pub secrets: BTreeMap<String, String>,
    /// `HOST` or `HOST:PORT` entries the action may reach over HTTP (and fetch JWKS from).
    /// Empty: no outbound HTTP at all.
    pub allowed_hosts: Vec<String>,
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
}

impl From<BTreeMap<String, String>> for ActionConfig {
    fn from(secrets: BTreeMap<String, String>) -> Self {
        Self {
            secrets,
            allowed_hosts: Vec::new(),
        }
    }
}

enum ActionPre {
    PostLogin(post_login::PostLoginPre<Ctx>),
    CredentialsExchange(credentials_exchange::CredentialsExchangePre<Ctx>),
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

impl Runtime {
    /// A builder with production defaults.
    pub fn builder() -> RuntimeBuilder {
        RuntimeBuilder::default()
    }

    /// The runtime's clock reading, ms since the Unix epoch.
    pub fn now_ms(&self) -> u64 {
        self.inner.clock.now_ms()
    }

    /// The cache store.
    pub fn store(&self) -> &Arc<dyn CacheStore> {
        &self.inner.store
    }

    /// The execution limits in force.
    pub fn execution_limits(&self) -> &ExecutionLimits {
        &self.inner.limits
    }

    /// Advances the deadline epoch by `ticks` (one tick is 10 ms of deadline under
    /// [`EpochTicks::Manual`]). With a ticker thread this only makes deadlines come sooner.
    pub fn advance_epochs(&self, ticks: u64) {
        self.inner.epochs.advance(ticks);
    }

    /// Loads an action: checks its size and secrets, compiles it (or reuses the compiled
    /// component with the same content hash), and links it against `trigger`'s world.
    /// `config` is its secrets and outbound allow-list (a plain secrets map converts into one).
    ///
    /// Compiling takes milliseconds to seconds of CPU; from async code call this inside
    /// `tokio::task::spawn_blocking`.
    pub fn load_action(
        &self,
        name: &str,
        trigger: Trigger,
        wasm: &[u8],
        config: impl Into<ActionConfig>,
    ) -> Result<Action, LoadError> {
        let ActionConfig {
            secrets,
            allowed_hosts,
        } = config.into();
        let inner = &self.inner;
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

        let exports = |t: Trigger| component.get_export_index(None, t.export_name()).is_some();
        if !exports(trigger) {
            let other = match trigger {
                Trigger::PostLogin => Trigger::CredentialsExchange,
                Trigger::CredentialsExchange => Trigger::PostLogin,
            };
            return Err(if exports(other) {
                LoadError::WrongTrigger {
                    name: named(),
                    expected: trigger,
                    actual: other,
                }
            } else {
                LoadError::MissingExport {
                    name: named(),
                    trigger,
                }
            });
        }

        let unsatisfied = |e: wasmtime::Error| LoadError::UnsatisfiedImports {
            name: named(),
            trigger,
            reason: format!("{e:#}"),
        };
        let instance_pre = inner.linkers[trigger_index(trigger)]
            .instantiate_pre(&component)
            .map_err(unsatisfied)?;
        let pre = match trigger {
            Trigger::PostLogin => ActionPre::PostLogin(
                post_login::PostLoginPre::new(instance_pre).map_err(unsatisfied)?,
            ),
            Trigger::CredentialsExchange => ActionPre::CredentialsExchange(
                credentials_exchange::CredentialsExchangePre::new(instance_pre)
                    .map_err(unsatisfied)?,
            ),
        };
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
                pre,
                secrets_json,
                allow: AllowList::new(&allowed_hosts),
            }),
        })
    }

    fn compile(&self, digest: &[u8; 32], wasm: &[u8]) -> wasmtime::Result<Component> {
        let inner = &self.inner;
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

    /// Where loaded components came from since the runtime started.
    pub fn compile_stats(&self) -> CompileStats {
        let s = &self.inner.compile_stats;
        CompileStats {
            memory_hits: s.memory_hits.load(Ordering::Relaxed),
            disk_hits: s.disk_hits.load(Ordering::Relaxed),
            compiled: s.compiled.load(Ordering::Relaxed),
        }
    }

    /// Binds `actions` (in order) to `tenant`'s `trigger`, replacing any previous flow.
    pub fn bind(
        &self,
        tenant: &str,
        trigger: Trigger,
        actions: Vec<Action>,
    ) -> Result<(), ExecuteError> {
        self.check_flow(trigger, &actions)?;
        self.inner
            .flows
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(PartitionKey::new(tenant, trigger), actions.into());
        Ok(())
    }

    /// Runs the flow bound to `tenant`'s `trigger` on `event_json`. A tenant with no flow bound
    /// succeeds with no commands.
    pub async fn execute(
        &self,
        tenant: &str,
        trigger: Trigger,
        event_json: &str,
    ) -> Result<FlowResult, ExecuteError> {
        let partition = PartitionKey::new(tenant, trigger);
        let flow = self
            .inner
            .flows
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&partition)
            .cloned()
            .unwrap_or_else(|| Arc::from(Vec::new()));
        self.run_flow(partition, &flow, event_json).await
    }

    /// Runs `actions` as `tenant`'s `trigger` flow on `event_json`, without binding them.
    pub async fn execute_actions(
        &self,
        tenant: &str,
        trigger: Trigger,
        actions: &[Action],
        event_json: &str,
    ) -> Result<FlowResult, ExecuteError> {
        self.check_flow(trigger, actions)?;
        self.run_flow(PartitionKey::new(tenant, trigger), actions, event_json)
            .await
    }

    /// Usage of `tenant`'s `trigger` partition.
    pub async fn partition_usage(&self, tenant: &str, trigger: Trigger) -> Usage {
        self.inner
            .store
            .usage(&PartitionKey::new(tenant, trigger))
            .await
            .unwrap_or_default()
    }

    fn check_flow(&self, trigger: Trigger, actions: &[Action]) -> Result<(), ExecuteError> {
        self.inner.limits.check_actions(actions.len())?;
        match actions.iter().find(|a| a.trigger() != trigger) {
            Some(a) => Err(ExecuteError::TriggerMismatch {
                name: a.name().to_string(),
                expected: trigger,
                actual: a.trigger(),
            }),
            None => Ok(()),
        }
    }

    async fn run_flow(
        &self,
        partition: PartitionKey,
        actions: &[Action],
        event_json: &str,
    ) -> Result<FlowResult, ExecuteError> {
        let started = Instant::now();
        let limits = &self.inner.limits;
        limits.check_event_bytes(event_json.len())?;
        let event = EventFields::parse(event_json)?;
        let deadline_epoch = self.inner.epochs.deadline_after(limits.flow_deadline_ms);
        let deadline = started + Duration::from_millis(limits.flow_deadline_ms) + DEADLINE_GRACE;

        let mut outcome = Outcome::Success;
        let mut commands = Vec::new();
        let mut results = Vec::with_capacity(actions.len());
        for action in actions {
            let event_json = event.with_secrets(&action.inner.secrets_json);
            let result = self
                .run_action(action, &partition, &event_json, deadline_epoch, deadline)
                .await;
            let stop = result.outcome != Outcome::Success;
            if result.outcome != Outcome::Failed {
                commands.extend(result.commands.iter().cloned());
            }
            outcome = result.outcome;
            results.push(result);
            if stop {
                break;
            }
        }
        let cache = self.inner.store.usage(&partition).await.unwrap_or_default();
        Ok(FlowResult {
            outcome,
            commands,
            actions: results,
            cache,
            duration_us: micros(started.elapsed()),
        })
    }

    async fn run_action(
        &self,
        action: &Action,
        partition: &PartitionKey,
        event_json: &str,
        deadline_epoch: u64,
        deadline: Instant,
    ) -> ActionResult {
        let inner = &self.inner;
        let logs = LogSink::new(inner.limits.max_log_bytes);
        let wasi = WasiCtxBuilder::new()
            .stdout(logs.clone())
            .stderr(logs.clone())
            .wall_clock(WasiWallClock(Arc::clone(&inner.clock)))
            .allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false)
            .build();
        let ctx = Ctx {
            wasi,
            table: ResourceTable::new(),
            http: wasmtime_wasi_http::WasiHttpCtx::new(),
            egress: Egress {
                allow: action.inner.allow.clone(),
                deadline,
            },
            limiter: MemoryLimiter::new(inner.limits.max_memory_bytes),
            exec: ExecState {
                partition: partition.clone(),
                store: Arc::clone(&inner.store),
                clock: Arc::clone(&inner.clock),
                egress: action.inner.allow.clone(),
                jwks: Arc::clone(&inner.jwks),
                budget: inner.limits.write_budget(),
                commands: Vec::new(),
                command_bytes: 0,
            },
            deadline_hit: false,
        };
        let mut store = Store::new(&inner.engine, ctx);
        store.limiter(|c| &mut c.limiter);
        // Wake on every epoch tick: yield to the executor (so a looping action cannot hog a
        // worker thread) until the flow's deadline epoch, then interrupt.
        store.set_epoch_deadline(1);
        let epochs = Arc::clone(&inner.epochs);
        store.epoch_deadline_callback(move |mut store| {
            if epochs.now() >= deadline_epoch {
                store.data_mut().deadline_hit = true;
                return Err(Trap::Interrupt.into());
            }
            Ok(UpdateDeadline::Yield(1))
        });

        let started = Instant::now();
        let call = async {
            match &action.inner.pre {
                ActionPre::PostLogin(pre) => {
                    let instance = pre
                        .instantiate_async(&mut store)
                        .await
                        .map_err(Instantiation)?;
                    instance
                        .call_on_execute_post_login(&mut store, event_json)
                        .await
                        .map_err(Call)
                }
                ActionPre::CredentialsExchange(pre) => {
                    let instance = pre
                        .instantiate_async(&mut store)
                        .await
                        .map_err(Instantiation)?;
                    instance
                        .call_on_execute_credentials_exchange(&mut store, event_json)
                        .await
                        .map_err(Call)
                }
            }
        };
        let returned = tokio::time::timeout_at(deadline.into(), call).await;
        let duration_us = micros(started.elapsed());

        let ctx = store.data();
        let failure = match returned {
            Ok(Ok(Ok(()))) => None,
            Ok(Ok(Err(message))) => Some(ActionFailure {
                kind: FailureKind::ActionError,
                message,
            }),
            // The deadline or memory limit can strike during instantiation too (start
            // functions run wasm), so what the sandbox observed decides first.
            Ok(Err(Instantiation(_) | Call(_))) if ctx.deadline_hit => {
                Some(deadline_failure(&inner.limits))
            }
            Ok(Err(Instantiation(e))) if !ctx.limiter.exceeded => Some(ActionFailure {
                kind: FailureKind::Instantiation,
                message: format!("could not instantiate the action: {e:#}"),
            }),
            Ok(Err(Instantiation(e) | Call(e))) => Some(classify_trap(&e, ctx, &inner.limits)),
            // Only reachable when a host-side await (a remote store) outlives the deadline.
            Err(_elapsed) => Some(deadline_failure(&inner.limits)),
        };
        let (logs, _truncated) = logs.finish();
        let denied = ctx
            .exec
            .commands
            .iter()
            .any(|c| matches!(c, Command::Deny { .. }));
        let outcome = match (&failure, denied) {
            (Some(_), _) => Outcome::Failed,
            (None, true) => Outcome::Denied,
            (None, false) => Outcome::Success,
        };
        let cache_writes = ctx.exec.budget.used();
        // The store is finished with: move the commands out rather than copy them.
        let commands = std::mem::take(&mut store.data_mut().exec.commands);
        ActionResult {
            name: action.name().to_string(),
            outcome,
            error: failure,
            logs,
            commands,
            cache_writes,
            duration_us,
        }
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

/// Where an execution failed: getting an instance, or running it.
enum CallError {
    Instantiation(wasmtime::Error),
    Call(wasmtime::Error),
}
use CallError::{Call, Instantiation};

fn deadline_failure(limits: &ExecutionLimits) -> ActionFailure {
    ActionFailure {
        kind: FailureKind::DeadlineExceeded,
        message: format!(
            "the flow deadline of {} ms passed while the action ran; make it finish sooner \
             (look for loops, or slow calls without a timeout)",
            limits.flow_deadline_ms
        ),
    }
}

/// Turns a trap into a failure an action author can act on, using what the sandbox observed
/// (deadline, memory limit) before what the trap itself says.
fn classify_trap(e: &wasmtime::Error, ctx: &Ctx, limits: &ExecutionLimits) -> ActionFailure {
    if ctx.deadline_hit {
        return deadline_failure(limits);
    }
    if ctx.limiter.exceeded {
        return ActionFailure {
            kind: FailureKind::MemoryLimitExceeded,
            message: format!(
                "the action tried to grow its memory past {} bytes; keep less in memory",
                limits.max_memory_bytes
            ),
        };
    }
    match e.downcast_ref::<Trap>() {
        Some(Trap::StackOverflow) => ActionFailure {
            kind: FailureKind::StackOverflow,
            message: "the action overflowed its stack (unbounded recursion?)".into(),
        },
        Some(Trap::UnreachableCodeReached) => ActionFailure {
            kind: FailureKind::Trap,
            message: "the action panicked or aborted (wasm `unreachable`); its logs hold the panic message".into(),
        },
        Some(Trap::MemoryOutOfBounds) => ActionFailure {
            kind: FailureKind::Trap,
            message: "the action accessed memory out of bounds (in Rust actions usually a shadow-stack \
                      overflow: deep recursion with large locals)"
                .into(),
        },
        Some(trap) => ActionFailure {
            kind: FailureKind::Trap,
            message: format!("the action trapped: {trap}"),
        },
        None => ActionFailure {
            kind: FailureKind::Trap,
            message: format!("the action failed: {e:#}"),
        },
    }
}

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

/// The event's top-level fields, parsed once per flow without building a DOM, so that each
/// action's copy (with its own `secrets`) is a cheap splice.
struct EventFields(BTreeMap<String, Box<RawValue>>);

impl EventFields {
    fn parse(json: &str) -> Result<Self, ExecuteError> {
        match serde_json::from_str::<BTreeMap<String, Box<RawValue>>>(json) {
            Ok(mut fields) => {
                // The caller's `secrets`, if any, never reach an action: each action gets its
                // own configured secrets.
                fields.remove("secrets");
                Ok(Self(fields))
            }
            Err(e) => match serde_json::from_str::<serde::de::IgnoredAny>(json) {
                Ok(_) => Err(ExecuteError::EventNotObject),
                Err(_) => Err(ExecuteError::EventNotJson(e.to_string())),
            },
        }
    }

    fn with_secrets(&self, secrets: &RawValue) -> String {
        let mut view: BTreeMap<&str, &RawValue> = self
            .0
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_ref()))
            .collect();
        view.insert("secrets", secrets);
        // Serializing borrowed raw JSON cannot fail.
        serde_json::to_string(&view).unwrap_or_else(|_| "{}".into())
    }
}
