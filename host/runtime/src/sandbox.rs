//! The sandbox of one action execution: its store data ([`Ctx`]: WASI without filesystem,
//! environment or sockets, the memory limiter, and each interface's per-execution state), the
//! linker that gives an action its trigger's world, the epoch clock that enforces the flow
//! deadline, and how a trap is turned into a failure an action author can act on.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use cachet_limits::ExecutionLimits;
use wasmtime::component::{Linker, ResourceTable};
use wasmtime::{Engine, ResourceLimiter, Trap};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

use crate::interfaces::cache::{self, CacheCtx};
use crate::interfaces::commands::Commands;
use crate::interfaces::http::Egress;
use crate::interfaces::jwt::{self, JwtCtx};
use crate::result::{ActionFailure, FailureKind};
use crate::trigger::Trigger;

/// The data of one action's `Store`.
pub(crate) struct Ctx {
    pub(crate) wasi: WasiCtx,
    /// Host resources the action holds (streams, requests, fields), capped at
    /// [`ExecutionLimits::max_resources`].
    pub(crate) table: ResourceTable,
    pub(crate) http: WasiHttpCtx,
    pub(crate) egress: Egress,
    pub(crate) limiter: MemoryLimiter,
    pub(crate) cache: CacheCtx,
    pub(crate) jwt: JwtCtx,
    pub(crate) commands: Commands,
    /// Set by the epoch callback when it interrupts the action, so the resulting trap can be
    /// reported as a deadline rather than a generic interrupt.
    pub(crate) deadline_hit: bool,
}

impl WasiView for Ctx {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl WasiHttpView for Ctx {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView {
            hooks: &mut self.egress,
            table: &mut self.table,
            ctx: &mut self.http,
        }
    }
}

/// The linker of one trigger's world: WASI (whose filesystem, environment and sockets the
/// [`WasiCtx`] leaves empty or denied), `wasi:http`, the cache, jwt, crypto, and `api`. Every world
/// imports the same interfaces today (a trigger's API is a table behind `api`, chosen by the
/// execution's trigger), so `_trigger` only names whose world this linker serves.
pub(crate) fn linker(engine: &Engine, _trigger: Trigger) -> wasmtime::Result<Linker<Ctx>> {
    let mut linker = Linker::<Ctx>::new(engine);
    wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
    wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker)?;
    cache::add_to_linker(&mut linker, |c| &mut c.cache)?;
    jwt::add_to_linker(&mut linker, |c| &mut c.jwt)?;
    crate::interfaces::crypto::add_to_linker(&mut linker)?;
    crate::interfaces::api::add_to_linker(&mut linker, |c| &mut c.commands)?;
    Ok(linker)
}

/// Caps an instance's linear memory and tables and remembers that it refused memory, so the
/// trap that follows a refused `memory.grow` (most languages abort on allocation failure) is
/// reported as what it is.
pub(crate) struct MemoryLimiter {
    max_memory_bytes: usize,
    max_table_elements: usize,
    pub(crate) exceeded: bool,
}

impl MemoryLimiter {
    pub(crate) fn new(limits: &ExecutionLimits) -> Self {
        Self {
            max_memory_bytes: limits.max_memory_bytes,
            max_table_elements: limits.max_table_elements,
            exceeded: false,
        }
    }
}

impl ResourceLimiter for MemoryLimiter {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.max_memory_bytes {
            self.exceeded = true;
            return Ok(false);
        }
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= self.max_table_elements)
    }
}

/// How the engine's epoch advances.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EpochTicks {
    /// A background thread advances the epoch at this period. The flow deadline is enforced to
    /// within one period.
    Every(Duration),
    /// Only [`Runtime::advance_epochs`](crate::Runtime::advance_epochs) advances it: for tests,
    /// which must not depend on wall-clock time.
    Manual,
}

impl Default for EpochTicks {
    fn default() -> Self {
        Self::Every(Duration::from_millis(10))
    }
}

/// The epoch counter shared by the runtime, its ticker thread and every running action.
///
/// wasmtime checks the engine epoch at function entries and loop back-edges; the runtime keeps
/// its own count beside it so a store's callback can tell how far the flow has gone.
pub(crate) struct Epochs {
    engine: Engine,
    count: AtomicU64,
    tick: Duration,
}

impl Epochs {
    pub(crate) fn start(engine: Engine, ticks: EpochTicks) -> Arc<Self> {
        let tick = match ticks {
            EpochTicks::Every(d) => d.max(Duration::from_millis(1)),
            // Deadlines are still expressed in ticks; a nominal period converts them.
            EpochTicks::Manual => Duration::from_millis(10),
        };
        let epochs = Arc::new(Self {
            engine,
            count: AtomicU64::new(0),
            tick,
        });
        if let EpochTicks::Every(_) = ticks {
            let weak: Weak<Self> = Arc::downgrade(&epochs);
            // The thread holds only a weak reference, so it ends within one tick of the runtime
            // being dropped.
            std::thread::Builder::new()
                .name("cachet-epoch".into())
                .spawn(move || {
                    // Tick against absolute times: sleeping `tick` in a loop overshoots a little
                    // every time, which over a 2 000-tick deadline adds up to ~100 ms.
                    let mut start = std::time::Instant::now();
                    let mut ticks: u32 = 0;
                    loop {
                        if ticks == 1_000_000 {
                            // Re-base well before the multiplier could overflow.
                            start += tick * ticks;
                            ticks = 0;
                        }
                        ticks += 1;
                        let due = start + tick * ticks;
                        std::thread::sleep(
                            due.saturating_duration_since(std::time::Instant::now()),
                        );
                        match weak.upgrade() {
                            Some(e) => e.advance(1),
                            None => break,
                        }
                    }
                })
                .ok();
        }
        epochs
    }

    pub(crate) fn now(&self) -> u64 {
        self.count.load(Ordering::Acquire)
    }

    pub(crate) fn advance(&self, ticks: u64) {
        for _ in 0..ticks {
            // Count first: a callback woken by the engine epoch must see the new count.
            self.count.fetch_add(1, Ordering::AcqRel);
            self.engine.increment_epoch();
        }
    }

    /// The epoch at which a flow starting now must stop. One extra tick, because the current
    /// tick may be about to end.
    pub(crate) fn deadline_after(&self, ms: u64) -> u64 {
        let tick_ms = u64::try_from(self.tick.as_millis())
            .unwrap_or(u64::MAX)
            .max(1);
        self.now() + ms.div_ceil(tick_ms) + 1
    }
}

pub(crate) fn deadline_failure(limits: &ExecutionLimits, stop: DeadlineStop) -> ActionFailure {
    let how = match stop {
        DeadlineStop::Epoch => "the action was interrupted at the deadline epoch",
        DeadlineStop::HostCall => "a host call it made was cut short at the deadline",
        DeadlineStop::Backstop => {
            "the host's wall-clock backstop stopped it while a host-side wait outlived the deadline"
        }
    };
    ActionFailure {
        kind: FailureKind::DeadlineExceeded,
        message: format!(
            "the flow deadline of {} ms passed while the action ran ({how}); make it finish \
             sooner (look for loops, or slow calls without a timeout)",
            limits.flow_deadline_ms
        ),
    }
}

/// What ended an execution at its deadline. The failure says which, so a test (and an
/// operator) can tell the epoch interruption from the backstop that exists for host waits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DeadlineStop {
    /// Epoch interruption: wasm code was running when the deadline epoch came.
    Epoch,
    /// A host call (HTTP, JWKS) ended at the deadline and the action failed from it.
    HostCall,
    /// The wall-clock backstop (deadline plus a grace) dropped the execution.
    Backstop,
}

/// Turns a trap into a failure an action author can act on, using what the sandbox observed
/// (deadline, memory limit) before what the trap itself says. The hints name what the trap
/// means in the languages actions are written in, not only Rust.
pub(crate) fn classify_trap(
    e: &wasmtime::Error,
    ctx: &Ctx,
    limits: &ExecutionLimits,
) -> ActionFailure {
    if ctx.deadline_hit {
        return deadline_failure(limits, DeadlineStop::Epoch);
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
    let (kind, message) = match e.downcast_ref::<Trap>() {
        Some(Trap::StackOverflow) => (
            FailureKind::StackOverflow,
            "the action overflowed its stack (unbounded recursion?)".to_string(),
        ),
        Some(Trap::UnreachableCodeReached) => (
            FailureKind::Trap,
            "the action aborted (wasm `unreachable`: a Rust panic, or a fatal error in the \
             language runtime); its logs usually say why"
                .to_string(),
        ),
        Some(Trap::MemoryOutOfBounds) => (
            FailureKind::Trap,
            "the action accessed memory out of bounds (often a stack overflow inside the \
             language runtime: deep recursion with large locals)"
                .to_string(),
        ),
        Some(trap) => (FailureKind::Trap, format!("the action trapped: {trap}")),
        None => (FailureKind::Trap, format!("the action failed: {e:#}")),
    };
    ActionFailure { kind, message }
}
