//! [`Runtime`]: loads actions, binds them into flows, and executes flows in fresh sandboxes.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::num::NonZeroUsize;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError, RwLock};

use cachet_limits::{ActionLimits, CacheLimits, ExecutionLimits, OverflowPolicy, Usage};
use lru::LruCache;
use wasmtime::{Config, Enabled, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

use crate::action::{Action, ActionConfig, CompileCounters, CompileStats, Loader};
use crate::clock::{Clock, SystemClock};
use crate::error::{BuildError, ContinueError, ExecuteError, LoadError};
use crate::flow::Executor;
use crate::function_cache::FunctionCache;
use crate::interfaces::jwt::JwksCache;
use crate::observe::{NoObserver, Observer};
use crate::result::{ContinueParams, FlowResult};
use crate::sandbox::{EpochTicks, Epochs};
use crate::store::{CacheStore, MemoryStore, PartitionKey};
use crate::trigger::Trigger;
use crate::warm::IdleBudget;

/// Builds a [`Runtime`]. Every setting has a production default.
///
/// ```
/// use cachet_runtime::{ManualClock, Runtime};
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
    observer: Arc<dyn Observer>,
    warm_idle_instances: u32,
    slot_reset: SlotReset,
    keep_resident: usize,
    function_cache: Option<Arc<FunctionCache>>,
}

/// How much of a slot's linear memory stays resident between instances by default (see
/// [`RuntimeBuilder::keep_resident`]).
pub const DEFAULT_KEEP_RESIDENT: usize = 2 * 1024 * 1024;

/// How a pool slot's linear memory is made pristine for the next instance (of any tenant).
///
/// wasmtime can reset only the pages an instance dirtied, found with Linux's `PAGEMAP_SCAN`:
/// the difference between ~15 µs and ~40 µs per fresh instance. In wasmtime 48.0.10 (the
/// newest 48.0.x whose crates are all on crates.io; the fix is in 48.0.11, which depends on
/// crates that were never published there) that scan skips dirty pages the kernel has swapped
/// out: they are neither reset nor decommitted, and the next instance in the slot can read
/// them. Without swap, no page is ever swapped out, so the scan is exact.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum SlotReset {
    /// Dirty pages only when the machine has no swap configured (`/proc/swaps` lists none,
    /// read when the runtime is built), the whole kept-resident region otherwise. Swap enabled
    /// after the runtime is built is not seen: restart it, or choose [`SlotReset::Whole`].
    #[default]
    Auto,
    /// Always scan for dirty pages (where the kernel supports it), swap or not.
    DirtyPages,
    /// Always reset the kept-resident region whole and decommit the rest: exact whatever the
    /// kernel does, at the cost of touching every kept page per instance.
    Whole,
}

impl SlotReset {
    /// Whether the pool may scan for dirty pages.
    fn scans(self) -> bool {
        match self {
            Self::Auto => !swap_configured(),
            Self::DirtyPages => true,
            Self::Whole => false,
        }
    }
}

/// Whether any swap area is active. Unreadable (not Linux, or hidden) counts as yes: the safe
/// answer, and where there is no `/proc` there is no `PAGEMAP_SCAN` either.
fn swap_configured() -> bool {
    std::fs::read_to_string("/proc/swaps").map_or(true, |swaps| swaps.lines().count() > 1)
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
            observer: Arc::new(NoObserver),
            warm_idle_instances: 64,
            slot_reset: SlotReset::default(),
            keep_resident: DEFAULT_KEEP_RESIDENT,
            function_cache: Some(FunctionCache::shared()),
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

    /// How many warm instances ([`crate::InstanceMode::Warm`]) may wait idle across every
    /// action. The pool gets this many slots on top of
    /// [`RuntimeBuilder::instance_pool_size`], so idle instances never take a slot an
    /// execution needs; past it, a warm instance is dropped after its execution instead of
    /// kept. Default 64. The pool cannot tell the two kinds of slot apart: while fewer warm
    /// instances wait, executions may use the spare slots too, so the pool is full at
    /// `instance_pool_size + warm_idle_instances` executions; set this to 0 for an exact cap
    /// when no action is warm.
    pub fn warm_idle_instances(mut self, instances: u32) -> Self {
        self.warm_idle_instances = instances;
        self
    }

    /// How many bytes of each pool slot's linear memory stay resident between instances
    /// (reset in place rather than returned to the kernel and faulted in again by the next
    /// instance). Larger suits actions whose instances touch more memory per execution (a
    /// JavaScript engine's heap), at the cost of that much resident memory per slot in use.
    /// Default [`DEFAULT_KEEP_RESIDENT`] (2 MiB).
    pub fn keep_resident(mut self, bytes: usize) -> Self {
        self.keep_resident = bytes;
        self
    }

    /// How a slot's memory is reset between instances. Default [`SlotReset::Auto`].
    pub fn slot_reset(mut self, reset: SlotReset) -> Self {
        self.slot_reset = reset;
        self
    }

    /// Where compiled functions are kept for later compilations to reuse (see
    /// [`FunctionCache`]): `None` compiles every component whole. Default: the process's
    /// [`FunctionCache::shared`], so runtimes of one process share what they compiled.
    pub fn function_cache(mut self, cache: Option<Arc<FunctionCache>>) -> Self {
        self.function_cache = cache;
        self
    }

    /// Who is told about every cache operation and outbound request (for metrics). Default:
    /// nobody.
    pub fn observer(mut self, observer: Arc<dyn Observer>) -> Self {
        self.observer = observer;
        self
    }

    /// Builds the runtime: validates the limits and creates the engine and its instance pool.
    pub fn build(self) -> Result<Runtime, BuildError> {
        self.cache_limits.validate()?;
        self.execution_limits.validate()?;
        let engine = self
            .engine()
            .map_err(|e| BuildError::Engine(e.to_string()))?;
        let linker = |trigger: Trigger| {
            crate::sandbox::linker(&engine, trigger).map_err(|e| BuildError::Engine(e.to_string()))
        };
        let linkers = Trigger::ALL
            .into_iter()
            .map(linker)
            .collect::<Result<Vec<_>, _>>()?;
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
                executor: Executor {
                    epochs: Epochs::start(engine.clone(), self.epoch_ticks),
                    engine: engine.clone(),
                    store,
                    clock: self.clock,
                    limits: self.execution_limits,
                    jwks: Arc::new(JwksCache::new(&self.execution_limits)),
                    observer: self.observer,
                },
                loader: Arc::new(Loader {
                    engine,
                    linkers,
                    compiled: Mutex::new(LruCache::new(capacity)),
                    warm_idle: IdleBudget::new(self.warm_idle_instances as usize),
                    disk_cache,
                    compile_stats: CompileCounters::default(),
                    limits: self.execution_limits,
                    action_limits: self.action_limits,
                }),
                flows: RwLock::default(),
            }),
        })
    }

    fn engine(&self) -> wasmtime::Result<Engine> {
        let slots = self
            .instance_pool_size
            .saturating_add(self.warm_idle_instances);
        let limits = &self.execution_limits;
        let mut pool = PoolingAllocationConfig::new();
        pool.total_component_instances(slots)
            .max_core_instances_per_component(limits.max_core_instances_per_component)
            .total_core_instances(slots.saturating_mul(limits.max_core_instances_per_component))
            .max_memories_per_component(limits.max_memories_per_component)
            .total_memories(slots.saturating_mul(limits.max_memories_per_component))
            .max_tables_per_component(limits.max_tables_per_component)
            .total_tables(slots.saturating_mul(limits.max_tables_per_component))
            .table_elements(limits.max_table_elements)
            .total_stacks(slots)
            .max_memory_size(limits.max_memory_bytes)
            // Reuse a slot's pages instead of returning them to the kernel after every
            // execution, and reset only the dirty ones where that is exact (see `SlotReset`):
            // the measured difference between ~40 µs and ~15 µs per fresh instance.
            .linear_memory_keep_resident(self.keep_resident)
            .table_keep_resident(64 * 1024)
            .pagemap_scan(if self.slot_reset.scans() {
                Enabled::Auto
            } else {
                Enabled::No
            });

        let mut config = Config::new();
        config
            .wasm_component_model(true)
            .epoch_interruption(true)
            .concurrency_support(self.concurrency_support)
            .allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
        if let Some(cache) = &self.function_cache {
            config.enable_incremental_compilation(
                Arc::clone(cache) as Arc<dyn wasmtime::CacheStore>
            )?;
        }
        Engine::new(&config)
    }
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
    /// Shared with the runtimes [`Runtime::with_store`] makes.
    loader: Arc<Loader>,
    executor: Executor,
    /// The flows bound to each partition.
    flows: RwLock<HashMap<PartitionKey, Arc<[Action]>>>,
}

impl Runtime {
    /// A builder with production defaults.
    pub fn builder() -> RuntimeBuilder {
        RuntimeBuilder::default()
    }

    /// The runtime's clock reading, ms since the Unix epoch.
    pub fn now_ms(&self) -> u64 {
        self.inner.executor.clock.now_ms()
    }

    /// The runtime's clock.
    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.inner.executor.clock
    }

    /// The runtime's observer.
    pub fn observer(&self) -> &Arc<dyn Observer> {
        &self.inner.executor.observer
    }

    /// The cache store.
    pub fn store(&self) -> &Arc<dyn CacheStore> {
        &self.inner.executor.store
    }

    /// The execution limits in force.
    pub fn execution_limits(&self) -> &ExecutionLimits {
        &self.inner.executor.limits
    }

    /// Advances the deadline epoch by `ticks` (one tick is 10 ms of deadline under
    /// [`EpochTicks::Manual`]). With a ticker thread this only makes deadlines come sooner.
    pub fn advance_epochs(&self, ticks: u64) {
        self.inner.executor.epochs.advance(ticks);
    }

    /// Where loaded components came from since the runtime started.
    pub fn compile_stats(&self) -> CompileStats {
        self.inner.loader.stats()
    }

    /// Loads an action: checks its size, secrets and allow-list, compiles it (or reuses the
    /// compiled component with the same content hash), and links it against `trigger`'s world.
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
        self.inner.loader.load(name, trigger, wasm, config.into())
    }

    /// A runtime sharing this one's engine, compiled components, limits and epochs, but
    /// keeping its cache in `store`, reading the time from `clock` and telling `observer`
    /// what happens: to try a flow against a scratch copy of a partition (a dry run) or as if
    /// later without touching the live store, or to see one execution's cache operations
    /// apart from everyone else's. Actions loaded by either runtime run on both; no flow is
    /// bound in the new one (use [`Runtime::execute_actions`]). A warm action keeps its idle
    /// instances per action and tenant, whichever runtime ran them.
    pub fn with_store(
        &self,
        store: Arc<dyn CacheStore>,
        clock: Arc<dyn Clock>,
        observer: Arc<dyn Observer>,
    ) -> Runtime {
        let live = &self.inner.executor;
        Runtime {
            inner: Arc::new(Inner {
                loader: Arc::clone(&self.inner.loader),
                executor: Executor {
                    engine: live.engine.clone(),
                    store,
                    clock,
                    limits: live.limits,
                    epochs: Arc::clone(&live.epochs),
                    jwks: Arc::clone(&live.jwks),
                    observer,
                },
                flows: RwLock::default(),
            }),
        }
    }

    /// Binds `actions` (in order) to `tenant`'s `trigger`, replacing any previous flow.
    pub fn bind(
        &self,
        tenant: &str,
        trigger: Trigger,
        actions: Vec<Action>,
    ) -> Result<(), ExecuteError> {
        self.inner.executor.check_flow(trigger, &actions)?;
        self.inner
            .flows
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(PartitionKey::new(tenant, trigger), actions.into());
        Ok(())
    }

    /// Checks that `actions` may run, in this order, as one `trigger` flow (their triggers and
    /// their number), as [`Runtime::bind`] does, for hosts that keep their own flow table.
    pub fn check_flow(&self, trigger: Trigger, actions: &[Action]) -> Result<(), ExecuteError> {
        self.inner.executor.check_flow(trigger, actions)
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
        let flow = self.flow(&partition);
        self.inner
            .executor
            .run_flow(partition, &flow, event_json)
            .await
    }

    /// Continues a flow an action paused with `api.redirect.sendUserTo`: `state` is
    /// [`FlowResult::redirect`]'s, `params` what the user came back with. Runs the redirecting
    /// action's `onContinuePostLogin`, then the rest of the flow bound to `tenant`'s
    /// `trigger`; the result's commands are the whole flow's, before and after the redirect.
    ///
    /// Any runtime sharing the store continues it (the continuation lives in the store's
    /// backend), once: a second call with the same state, or one after
    /// `execution_limits.continuation_ttl_ms`, is [`ContinueError::UnknownState`] and runs
    /// nothing.
    ///
    /// [`FlowResult::redirect`]: crate::FlowResult::redirect
    pub async fn continue_flow(
        &self,
        tenant: &str,
        trigger: Trigger,
        state: &str,
        params: ContinueParams,
    ) -> Result<FlowResult, ContinueError> {
        let partition = PartitionKey::new(tenant, trigger);
        let flow = self.flow(&partition);
        self.inner
            .executor
            .continue_flow(partition, &flow, state, params)
            .await
    }

    /// [`Runtime::continue_flow`] for a flow of `actions` run with
    /// [`Runtime::execute_actions`].
    pub async fn continue_actions(
        &self,
        tenant: &str,
        trigger: Trigger,
        actions: &[Action],
        state: &str,
        params: ContinueParams,
    ) -> Result<FlowResult, ContinueError> {
        let executor = &self.inner.executor;
        executor
            .check_flow(trigger, actions)
            .map_err(ContinueError::Flow)?;
        executor
            .continue_flow(PartitionKey::new(tenant, trigger), actions, state, params)
            .await
    }

    /// The flow bound to `partition` (empty when none is).
    fn flow(&self, partition: &PartitionKey) -> Arc<[Action]> {
        self.inner
            .flows
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(partition)
            .cloned()
            .unwrap_or_else(|| Arc::from(Vec::new()))
    }

    /// Runs `actions` as `tenant`'s `trigger` flow on `event_json`, without binding them.
    pub async fn execute_actions(
        &self,
        tenant: &str,
        trigger: Trigger,
        actions: &[Action],
        event_json: &str,
    ) -> Result<FlowResult, ExecuteError> {
        let executor = &self.inner.executor;
        executor.check_flow(trigger, actions)?;
        executor
            .run_flow(PartitionKey::new(tenant, trigger), actions, event_json)
            .await
    }

    /// Usage of `tenant`'s `trigger` partition.
    pub async fn partition_usage(&self, tenant: &str, trigger: Trigger) -> Usage {
        self.store()
            .usage(&PartitionKey::new(tenant, trigger))
            .await
            .unwrap_or_default()
    }
}
