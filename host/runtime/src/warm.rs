//! Warm instances: an action that opts in keeps its instances after an execution and reuses
//! them for later executions of the same action for the same tenant, as Auth0 reuses a warm
//! Node runtime (module globals persist). Fresh instances stay the default.
//!
//! What survives is the instance (its linear memory and globals), its WASI context (no files,
//! environment or sockets; the runtime's clock; stdout and stderr into a log sink emptied
//! before each execution) and the stdio streams wasi-libc keeps open. Everything else an
//! execution is given (cache partition and write budget, commands, secrets, deadline,
//! outbound budget) is new for each execution. An instance is discarded, never reused, after
//! any failure (an error, a trap, the deadline, the memory limit), when it returns holding a
//! host resource other than its stdio streams and their pollables, after
//! [`WarmOptions::max_executions`] executions, or once older than [`WarmOptions::max_age`].
//! Idle instances are bounded per action ([`WarmOptions::max_idle`]); each one holds an
//! instance slot of the runtime's pool.

use std::collections::VecDeque;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use wasmtime::Store;
use wasmtime::component::Instance;

use crate::log::LogSink;
use crate::sandbox::Ctx;

/// How an action's executions get their instance.
///
/// ```
/// use cachet_host::{ActionConfig, InstanceMode, WarmOptions};
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

/// One action's idle warm instances, oldest first, each tagged with its tenant.
pub(crate) struct WarmPool {
    pub(crate) options: WarmOptions,
    idle: Mutex<VecDeque<(String, WarmInstance)>>,
}

impl WarmPool {
    pub(crate) fn new(options: WarmOptions) -> Self {
        Self {
            options,
            idle: Mutex::default(),
        }
    }

    /// An idle instance of `tenant` young enough to reuse, if any (the most recently used).
    pub(crate) fn take(&self, tenant: &str) -> Option<WarmInstance> {
        let mut idle = self.idle.lock().unwrap_or_else(PoisonError::into_inner);
        // Retire the old ones first, whoever they belong to: they hold pool slots.
        idle.retain(|(_, w)| w.created.elapsed() < self.options.max_age);
        let at = idle.iter().rposition(|(t, _)| t == tenant)?;
        idle.remove(at).map(|(_, w)| w)
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
        idle.push_back((tenant.to_owned(), warm));
        while idle.len() > self.options.max_idle {
            idle.pop_front();
        }
    }
}
