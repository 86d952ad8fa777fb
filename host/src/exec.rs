//! Per-execution state: what one action's sandbox holds while it runs, and the epoch clock
//! that enforces the flow deadline.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use cachet_limits::WriteBudget;
use wasmtime::component::{HasData, ResourceTable};
use wasmtime::{Engine, ResourceLimiter};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

use crate::egress::{AllowList, Egress};
use crate::jwt::JwksCache;

use crate::result::Command;
use crate::{CacheStore, Clock, PartitionKey};

/// The data of one action's `Store`: WASI (no filesystem, environment or network), the
/// memory limiter, and the action's view of its trigger API and cache.
pub(crate) struct Ctx {
    pub(crate) wasi: WasiCtx,
    pub(crate) table: ResourceTable,
    pub(crate) http: WasiHttpCtx,
    pub(crate) egress: Egress,
    pub(crate) limiter: MemoryLimiter,
    pub(crate) exec: ExecState,
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

/// What the trigger API, cache and jwt imports operate on.
pub(crate) struct ExecState {
    pub(crate) partition: PartitionKey,
    pub(crate) store: Arc<dyn CacheStore>,
    pub(crate) clock: Arc<dyn Clock>,
    /// The action's allow-list, for host-side fetches made on its behalf (JWKS).
    pub(crate) egress: AllowList,
    pub(crate) jwks: Arc<JwksCache>,
    pub(crate) budget: WriteBudget,
    pub(crate) commands: Vec<Command>,
    pub(crate) command_bytes: usize,
}

/// Lets the generated `add_to_linker` functions reach [`ExecState`] inside [`Ctx`].
pub(crate) struct ExecData;

impl HasData for ExecData {
    type Data<'a> = &'a mut ExecState;
}

/// Caps an instance's linear memory and remembers that it did, so the trap that follows a
/// refused `memory.grow` (Rust aborts on allocation failure) is reported as what it is.
pub(crate) struct MemoryLimiter {
    max_memory_bytes: usize,
    pub(crate) exceeded: bool,
}

/// Table elements an instance may have; Rust actions use a few hundred.
const MAX_TABLE_ELEMENTS: usize = 100_000;

impl MemoryLimiter {
    pub(crate) fn new(max_memory_bytes: usize) -> Self {
        Self {
            max_memory_bytes,
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
        Ok(desired <= MAX_TABLE_ELEMENTS)
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
