//! Warm instances: an action that opts in keeps its instances after an execution and reuses
//! them for later executions of the same action for the same tenant, as Auth0 reuses a warm
//! Node runtime (module globals persist). Fresh instances stay the default.
//!
//! What survives is the instance (its linear memory and globals), its WASI context (no files,
//! environment or sockets; the runtime's clock; stdout and stderr into a log sink emptied
//! before each execution), the stdio streams wasi-libc keeps open, and what is left of
//! finished HTTP exchanges that a garbage-collected language has not yet dropped (at most 64
//! resources in all). Everything else an
//! execution is given (cache partition and write budget, commands, secrets, deadline,
//! outbound budget) is new for each execution. An instance is discarded, never reused, after
//! any failure (an error, a trap, the deadline, the memory limit), after memory growth was
//! refused, when it returns holding any other host resource (a request still in flight, say)
//! or more than 64, after
//! [`WarmOptions::max_executions`] executions, or once older than [`WarmOptions::max_age`].
//! Idle instances are bounded per action ([`WarmOptions::max_idle`]) and in the whole runtime
//! ([`crate::RuntimeBuilder::warm_idle_instances`], slots the pool has in addition to those
//! for executions, so idle instances never make an execution wait or fail for a slot).

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use wasmtime::Store;
use wasmtime::component::Instance;

use crate::log::LogSink;
use crate::sandbox::Ctx;

/// How an action's executions get their instance.
///
/// ```
/// use cachet_runtime::{ActionConfig, InstanceMode, WarmOptions};
/// let config = ActionConfig {
///     instance: InstanceMode::Warm(WarmOptions::default()),
///     ..ActionConfig::default()
/// };
/// assert_eq!(ActionConfig::default().instance, InstanceMode::Fresh);
/// # drop(config);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum InstanceMode {
    /// A new instance for every execution: nothing an execution does outlives it except what
    /// it writes to the cache.
    #[default]
    Fresh,
    /// Instances are kept and reused for the same action and tenant (see the module docs).
    Warm(WarmOptions),
}

/// When warm instances are retired, and how many may wait idle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WarmOptions {
    /// Executions after which an instance is retired. Default 10 000.
    pub max_executions: u32,
    /// Age after which an instance is retired. Default 5 minutes.
    pub max_age: Duration,
    /// Idle instances kept per action, across its tenants; each holds an instance slot.
    /// Default 8.
    pub max_idle: usize,
}

impl Default for WarmOptions {
    fn default() -> Self {
        Self {
            max_executions: 10_000,
            max_age: Duration::from_secs(300),
            max_idle: 8,
        }
    }
}

/// A kept instance and the store it lives in.
pub(crate) struct WarmInstance {
    pub(crate) store: Store<Ctx>,
    /// The log sink its WASI context writes to (emptied before each execution).
    pub(crate) logs: LogSink,
    pub(crate) instance: Instance,
    /// When it was instantiated.
    pub(crate) created: Instant,
    /// Executions it has run.
    pub(crate) executions: u32,
}

/// How many warm instances may wait idle in the whole runtime: the instance slots the
/// runtime adds to its pool for them ([`crate::RuntimeBuilder::warm_idle_instances`]), so
/// that idle instances never take a slot an execution needs.
pub(crate) struct IdleBudget {
    limit: usize,
    idle: AtomicUsize,
}

impl IdleBudget {
    pub(crate) fn new(limit: usize) -> Arc<Self> {
        Arc::new(Self {
            limit,
            idle: AtomicUsize::new(0),
        })
    }

    /// A slot for one idle instance, released when the returned guard drops.
    fn reserve(self: &Arc<Self>) -> Option<IdleSlot> {
        self.idle
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < self.limit).then_some(n + 1)
            })
            .ok()
            .map(|_| IdleSlot(Arc::clone(self)))
    }
}

/// One reserved idle slot.
struct IdleSlot(Arc<IdleBudget>);

impl Drop for IdleSlot {
    fn drop(&mut self) {
        self.0.idle.fetch_sub(1, Ordering::AcqRel);
    }
}

/// One action's idle warm instances, oldest first, each tagged with its tenant and holding one
/// slot of the runtime's idle budget.
pub(crate) struct WarmPool {
    pub(crate) options: WarmOptions,
    budget: Arc<IdleBudget>,
    idle: Mutex<VecDeque<(String, WarmInstance, IdleSlot)>>,
}

impl WarmPool {
    pub(crate) fn new(options: WarmOptions, budget: Arc<IdleBudget>) -> Self {
        Self {
            options,
            budget,
            idle: Mutex::default(),
        }
    }

    /// An idle instance of `tenant` young enough to reuse, if any (the most recently used).
    pub(crate) fn take(&self, tenant: &str) -> Option<WarmInstance> {
        let mut idle = self.idle.lock().unwrap_or_else(PoisonError::into_inner);
        // Retire the old ones first, whoever they belong to: they hold pool slots.
        idle.retain(|(_, w, _)| w.created.elapsed() < self.options.max_age);
        let at = idle.iter().rposition(|(t, _, _)| t == tenant)?;
        idle.remove(at).map(|(_, w, _slot)| w)
    }

    /// Keeps `warm` for `tenant`'s next execution unless it is due to retire; drops the
    /// oldest idle instance when more than `max_idle` would wait.
    pub(crate) fn put(&self, tenant: &str, warm: WarmInstance) {
        if warm.executions >= self.options.max_executions
            || warm.created.elapsed() >= self.options.max_age
            || self.options.max_idle == 0
        {
            return;
        }
        let mut idle = self.idle.lock().unwrap_or_else(PoisonError::into_inner);
        if idle.len() >= self.options.max_idle {
            idle.pop_front();
        }
        // No idle slot left in the runtime: this instance is dropped, not kept.
        if let Some(slot) = self.budget.reserve() {
            idle.push_back((tenant.to_owned(), warm, slot));
        }
    }
}
