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
use std::thread::ThreadId;
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

/// Which of the idle instances (tenant and last thread, oldest first) `here` reuses for
/// `tenant`: the newest this thread ran, else the newest of the tenant's.
fn pick<'a>(
    idle: impl DoubleEndedIterator<Item = (&'a str, ThreadId)> + ExactSizeIterator + Clone,
    tenant: &str,
    here: ThreadId,
) -> Option<usize> {
    let mut mine = idle.clone();
    let mut any = idle;
    mine.rposition(|(t, thread)| thread == here && t == tenant)
        .or_else(|| any.rposition(|(t, _)| t == tenant))
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
    idle: Mutex<VecDeque<Idle>>,
}

/// An idle instance: its tenant, and the thread that ran it last.
struct Idle {
    tenant: String,
    warm: WarmInstance,
    thread: ThreadId,
    _slot: IdleSlot,
}

impl WarmPool {
    pub(crate) fn new(options: WarmOptions, budget: Arc<IdleBudget>) -> Self {
        Self {
            options,
            budget,
            idle: Mutex::default(),
        }
    }

    /// An idle instance of `tenant` young enough to reuse, if any: the one this thread ran
    /// last, else the most recently used.
    ///
    /// Why the thread: an instance's memory is in the cache of the core that ran it last, and
    /// a warm JavaScript execution touches much of its engine's heap; two threads taking
    /// whichever instance the other just put back would each run on the other core's lines.
    pub(crate) fn take(&self, tenant: &str) -> Option<WarmInstance> {
        let here = std::thread::current().id();
        let mut idle = self.idle.lock().unwrap_or_else(PoisonError::into_inner);
        // Retire the old ones first, whoever they belong to: they hold pool slots.
        idle.retain(|i| i.warm.created.elapsed() < self.options.max_age);
        let at = pick(
            idle.iter().map(|i| (i.tenant.as_str(), i.thread)),
            tenant,
            here,
        )?;
        idle.remove(at).map(|i| i.warm)
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
            idle.push_back(Idle {
                tenant: tenant.to_owned(),
                warm,
                thread: std::thread::current().id(),
                _slot: slot,
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn other_thread() -> ThreadId {
        std::thread::spawn(|| std::thread::current().id())
            .join()
            .unwrap_or_else(|_| unreachable!("the thread only reads its id"))
    }

    #[test]
    fn a_thread_reuses_the_instance_it_ran_last_before_a_newer_one_another_thread_ran() {
        let (here, there) = (std::thread::current().id(), other_thread());
        let idle = [("acme", here), ("acme", there), ("globex", here)];
        assert_eq!(pick(idle.into_iter(), "acme", here), Some(0));
        assert_eq!(pick(idle.into_iter(), "acme", there), Some(1));
    }

    #[test]
    fn without_one_of_its_own_a_thread_takes_the_tenants_newest_and_never_another_tenants() {
        let (here, there) = (std::thread::current().id(), other_thread());
        let idle = [("acme", there), ("globex", here), ("acme", there)];
        assert_eq!(pick(idle.into_iter(), "acme", here), Some(2));
        assert_eq!(pick(idle.into_iter(), "initech", here), None);
        assert_eq!(pick([].into_iter(), "acme", here), None);
    }
}
