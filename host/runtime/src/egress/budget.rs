//! One execution's outbound budget (how many requests in all and at once) and the refusals:
//! the host's rate-limited log of them, and each execution's record in the action's log.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::{Duration, Instant};

use cachet_limits::ExecutionLimits;

use crate::log::LogSink;

/// One execution's outbound requests: how many were started and how many are in flight.
#[derive(Debug)]
pub(crate) struct OutboundBudget {
    started: AtomicU32,
    in_flight: AtomicU32,
    max_total: u32,
    max_concurrent: u32,
}

/// One request in flight; releases its slot when dropped (request failed, response body read
/// to the end or dropped, connection closed, or the execution's store dropped).
#[derive(Debug)]
pub(crate) struct InFlight(Arc<OutboundBudget>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Which limit refused a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub(crate) enum BudgetExceeded {
    /// `max_outbound_requests`.
    #[error("more than {0} outbound requests in one execution")]
    Total(u32),
    /// `max_concurrent_outbound_requests`.
    #[error("more than {0} outbound requests in flight at once")]
    Concurrent(u32),
}

impl OutboundBudget {
    pub(crate) fn new(limits: &ExecutionLimits) -> Self {
        Self {
            started: AtomicU32::new(0),
            in_flight: AtomicU32::new(0),
            max_total: limits.max_outbound_requests,
            max_concurrent: limits.max_concurrent_outbound_requests,
        }
    }

    /// Takes a slot for one more request, or says which limit refused it. Every attempt counts
    /// toward the total, refused ones included: the total bounds the work an action can make
    /// the host do, not only the connections it gets.
    pub(crate) fn start(self: &Arc<Self>) -> Result<InFlight, BudgetExceeded> {
        let started = self.started.fetch_add(1, Ordering::AcqRel);
        if started >= self.max_total {
            // Saturate rather than count on: the counter cannot wrap.
            self.started.fetch_sub(1, Ordering::AcqRel);
            return Err(BudgetExceeded::Total(self.max_total));
        }
        let in_flight = self.in_flight.fetch_add(1, Ordering::AcqRel);
        if in_flight >= self.max_concurrent {
            self.in_flight.fetch_sub(1, Ordering::AcqRel);
            return Err(BudgetExceeded::Concurrent(self.max_concurrent));
        }
        Ok(InFlight(Arc::clone(self)))
    }
}

// ---------------------------------------------------------------------------------------------
// Rate-limited refusal log

/// Logs refusals at most once a second across the whole process, so a hostile action cannot
/// flood the host's log; the next line says how many were not logged.
pub(super) struct RefusalLog {
    last: Mutex<Option<Instant>>,
    suppressed: AtomicU64,
}

pub(super) static REFUSALS: RefusalLog = RefusalLog {
    last: Mutex::new(None),
    suppressed: AtomicU64::new(0),
};

impl RefusalLog {
    pub(super) fn warn(&self, host: &str, why: &str) {
        let now = Instant::now();
        let mut last = self.last.lock().unwrap_or_else(PoisonError::into_inner);
        if last.is_some_and(|t| now.duration_since(t) < Duration::from_secs(1)) {
            self.suppressed.fetch_add(1, Ordering::Relaxed);
            return;
        }
        *last = Some(now);
        drop(last);
        let suppressed = self.suppressed.swap(0, Ordering::Relaxed);
        // The host only: paths and queries may carry user data.
        tracing::warn!(%host, suppressed, "outbound request refused: {why}");
    }
}

/// The refusals of one execution: each is written to the action's log, and the first is kept
/// so that an action that fails after a refusal says which rule refused which host (a
/// JavaScript `fetch` rejects with a generic `TypeError`).
#[derive(Clone)]
pub(crate) struct Refusals {
    log: LogSink,
    first: Arc<OnceLock<(String, String)>>,
}

impl Refusals {
    /// Refusals written to `log`.
    pub(crate) fn new(log: LogSink) -> Self {
        Self {
            log,
            first: Arc::default(),
        }
    }

    /// Says why a request was refused, in the host's log (rate-limited; the host only, since
    /// paths and queries may carry user data) and in the action's.
    pub(crate) fn note(&self, host: &str, why: &str) {
        REFUSALS.warn(host, why);
        let host = if host.is_empty() { "(no host)" } else { host };
        let line = format!("outbound request to {host} refused: {why}");
        self.log.host_line(&line);
        let _ = self.first.set((host.to_string(), line));
    }

    /// The first refusal of the execution: the host it refused, and the line that says why.
    pub(crate) fn first(&self) -> Option<(&str, &str)> {
        self.first
            .get()
            .map(|(host, line)| (host.as_str(), line.as_str()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_outbound_budget_bounds_total_and_concurrent_requests() {
        let limits = ExecutionLimits {
            max_outbound_requests: 3,
            max_concurrent_outbound_requests: 2,
            ..ExecutionLimits::default()
        };
        let budget = Arc::new(OutboundBudget::new(&limits));
        let a = budget.start().unwrap();
        let _b = budget.start().unwrap();
        assert_eq!(budget.start().unwrap_err(), BudgetExceeded::Concurrent(2));
        drop(a);
        // The refused attempt counted: three were started, allowed or not.
        assert_eq!(budget.start().unwrap_err(), BudgetExceeded::Total(3));
    }
}
