//! The service's Prometheus metrics (`GET /metrics`), kept with `prometheus-client`.
//!
//! Label values are bounded: tenants and triggers come from the config file (a request for an
//! unknown tenant is refused before anything is counted), and every other label is a fixed
//! word. Nothing secret is a label: no key, value, token or URL.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::Router;
use axum::extract::{Extension, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use cachet_runtime::{
    CacheOp, CacheOpResult, EgressOutcome, FailureKind, FlowResult, FunctionCache, Observer,
    PartitionKey,
};

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

use crate::Server;
use crate::auth::Grant;
use crate::http::Routes;

/// `GET /metrics`, authenticated: partition names are tenants' names.
pub(crate) fn routes() -> Routes {
    Routes {
        open: Router::new(),
        authenticated: Router::new().route("/metrics", get(scrape)),
    }
}

/// The registry as OpenMetrics text; a token scoped to some tenants gets only their series.
async fn scrape(State(server): State<Server>, Extension(grant): Extension<Arc<Grant>>) -> Response {
    let text = if grant.all_tenants() {
        server.metrics().encode()
    } else {
        server.metrics().encode_for(|tenant| grant.allows(tenant))
    };
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        text,
    )
        .into_response()
}

/// Labels of one partition.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PartitionLabels {
    tenant: String,
    trigger: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ExecutionLabels {
    tenant: String,
    trigger: &'static str,
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ActionLabels {
    tenant: String,
    trigger: &'static str,
    action: String,
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct KindLabels {
    kind: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CacheOpLabels {
    op: &'static str,
    result: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabels {
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReasonLabels {
    reason: &'static str,
}

/// The series of one partition (see [`Metrics::partition`]).
pub(crate) struct PartitionMetrics {
    success: Counter,
    denied: Counter,
    failed: Counter,
    /// Registered only for triggers whose actions can redirect.
    redirect: Counter,
    duration: Histogram,
    entries: Gauge,
    bytes: Gauge,
    /// One per action of the flow, in flow order.
    pub(crate) actions: Vec<ActionMetrics>,
}

/// How many minutes of per-action activity the console shows.
pub(crate) const ACTIVITY_MINUTES: usize = 10;

/// The series of one action of a flow, and its recent activity per minute for the console,
/// counted at the same place as the counters.
pub(crate) struct ActionMetrics {
    success: Counter,
    denied: Counter,
    failed: Counter,
    redirect: Counter,
    /// One slot per minute, reused every [`ACTIVITY_MINUTES`] minutes: atomics rather than a
    /// lock, since every execution of the service counts here.
    minutes: [MinuteSlot; ACTIVITY_MINUTES],
}

/// Executions and failures in one minute; `minute` says which (minutes since the epoch).
#[derive(Default)]
struct MinuteSlot {
    minute: AtomicU64,
    executions: AtomicU64,
    failures: AtomicU64,
}

impl ActionMetrics {
    fn record(&self, outcome: cachet_runtime::Outcome, now_ms: u64) {
        let failed = match outcome {
            cachet_runtime::Outcome::Success => {
                self.success.inc();
                false
            }
            cachet_runtime::Outcome::Denied => {
                self.denied.inc();
                false
            }
            cachet_runtime::Outcome::Failed => {
                self.failed.inc();
                true
            }
            cachet_runtime::Outcome::Redirect => {
                self.redirect.inc();
                false
            }
        };
        let minute = now_ms / 60_000;
        let slot = &self.minutes[(minute % ACTIVITY_MINUTES as u64) as usize];
        let seen = slot.minute.load(Ordering::Acquire);
        // The first execution of a new minute takes the slot over from ten minutes ago; an
        // execution racing it may land in either count, which a per-minute chart tolerates.
        if seen != minute
            && slot
                .minute
                .compare_exchange(seen, minute, Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
        {
            slot.executions.store(0, Ordering::Release);
            slot.failures.store(0, Ordering::Release);
        }
        slot.executions.fetch_add(1, Ordering::AcqRel);
        if failed {
            slot.failures.fetch_add(1, Ordering::AcqRel);
        }
    }

    /// Totals since start-up: `(executions, failures)`.
    pub(crate) fn totals(&self) -> (u64, u64) {
        let failed = self.failed.get();
        (
            self.success.get() + self.denied.get() + self.redirect.get() + failed,
            failed,
        )
    }

    /// Executions and failures in each of the last [`ACTIVITY_MINUTES`] minutes up to
    /// `now_ms`, oldest first (zeros for quiet minutes).
    pub(crate) fn recent(&self, now_ms: u64) -> Vec<(u64, u64)> {
        let now = now_ms / 60_000;
        (0..ACTIVITY_MINUTES as u64)
            .rev()
            .map(|back| {
                let minute = now.saturating_sub(back);
                let slot = &self.minutes[(minute % ACTIVITY_MINUTES as u64) as usize];
                if slot.minute.load(Ordering::Acquire) == minute {
                    (
                        slot.executions.load(Ordering::Acquire),
                        slot.failures.load(Ordering::Acquire),
                    )
                } else {
                    (0, 0)
                }
            })
            .collect()
    }
}

/// Every metric the service exports, and the registry that encodes them.
pub struct Metrics {
    registry: Registry,
    executions: Family<ExecutionLabels, Counter>,
    duration: Family<PartitionLabels, Histogram>,
    failures: Family<KindLabels, Counter>,
    cache_operations: Family<CacheOpLabels, Counter>,
    cache_entries: Family<PartitionLabels, Gauge>,
    cache_bytes: Family<PartitionLabels, Gauge>,
    store_errors: Counter,
    egress: Family<OutcomeLabels, Counter>,
    token_requests: Family<OutcomeLabels, Counter>,
    action_executions: Family<ActionLabels, Counter>,
    /// Executions running now.
    pub(crate) inflight: Gauge,
    rejected: Family<ReasonLabels, Counter>,
    reloads: Family<OutcomeLabels, Counter>,
    continuations: Family<OutcomeLabels, Counter>,
    /// The compiled-function cache the server's runtime uses, read at each scrape.
    function_cache: Arc<FunctionCacheMetrics>,
}

/// The `function_cache_*` series: the [`FunctionCache`]'s own counts, read when scraped (it
/// keeps them; copying them into counters on every compilation would count twice). Empty
/// until [`Metrics::watch_function_cache`], and for a server that keeps no compiled functions.
#[derive(Debug, Default)]
struct FunctionCacheMetrics(std::sync::OnceLock<Arc<FunctionCache>>);

impl Collector for FunctionCacheMetrics {
    fn encode(&self, mut encoder: DescriptorEncoder<'_>) -> Result<(), std::fmt::Error> {
        let Some(cache) = self.0.get() else {
            return Ok(());
        };
        let stats = cache.stats();
        let gauge = |n: usize| ConstGauge::new(i64::try_from(n).unwrap_or(i64::MAX));
        let mut emit = |name: &str, help: &str, metric: &dyn EncodeMetric| {
            metric.encode(encoder.encode_descriptor(name, help, None, metric.metric_type())?)
        };
        emit(
            "function_cache_bytes",
            "Bytes of compiled functions kept for later compilations to reuse (function_cache_mb)",
            &gauge(stats.bytes),
        )?;
        emit(
            "function_cache_entries",
            "Compiled functions kept for later compilations to reuse",
            &gauge(stats.entries),
        )?;
        emit(
            "function_cache_hits",
            "Functions a compilation took from the cache instead of compiling them",
            &ConstCounter::new(stats.hits),
        )?;
        emit(
            "function_cache_misses",
            "Functions a compilation looked for in the cache and compiled",
            &ConstCounter::new(stats.misses),
        )
    }
}

/// Execution time buckets, in seconds: 50 µs (a cache hit in a small action) up to the
/// default 20 s flow deadline.
const DURATION_BUCKETS: [f64; 16] = [
    0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0,
    5.0, 20.0,
];

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// Registers every metric under the `cachet_` prefix.
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("cachet");
        let executions = Family::<ExecutionLabels, Counter>::default();
        registry.register(
            "executions",
            "Flow executions by tenant, trigger and outcome (success, denied, failed, redirect)",
            executions.clone(),
        );
        let duration = Family::<PartitionLabels, Histogram>::new_with_constructor(
            (|| Histogram::new(DURATION_BUCKETS)) as fn() -> Histogram,
        );
        registry.register(
            "execution_duration_seconds",
            "Wall time of each flow execution",
            duration.clone(),
        );
        let failures = Family::<KindLabels, Counter>::default();
        registry.register(
            "action_failures",
            "Failed actions by kind (action-error, deadline-exceeded, memory-limit-exceeded, ...)",
            failures.clone(),
        );
        let cache_operations = Family::<CacheOpLabels, Counter>::default();
        registry.register(
            "cache_operations",
            "Cache operations by op (get, set, delete) and result (hit, miss, ok, unavailable, or the error code)",
            cache_operations.clone(),
        );
        let cache_entries = Family::<PartitionLabels, Gauge>::default();
        registry.register(
            "cache_entries",
            "Entries in each partition after its latest execution here",
            cache_entries.clone(),
        );
        let cache_bytes = Family::<PartitionLabels, Gauge>::default();
        registry.register(
            "cache_bytes",
            "Bytes (keys + values) in each partition after its latest execution here",
            cache_bytes.clone(),
        );
        let store_errors = Counter::default();
        registry.register(
            "store_errors",
            "Cache operations the store could not serve (unreachable, timed out, refused)",
            store_errors.clone(),
        );
        let egress = Family::<OutcomeLabels, Counter>::default();
        registry.register(
            "egress_requests",
            "Outbound HTTP requests of actions by outcome (completed, denied, refused, failed)",
            egress.clone(),
        );
        let token_requests = Family::<OutcomeLabels, Counter>::default();
        registry.register(
            "token_requests",
            "Outbound token requests of actions (POST to a path ending in /token) by outcome (completed, failed)",
            token_requests.clone(),
        );
        let action_executions = Family::<ActionLabels, Counter>::default();
        registry.register(
            "action_executions",
            "Executions of each configured action by outcome (success, denied, failed)",
            action_executions.clone(),
        );
        let inflight = Gauge::default();
        registry.register(
            "inflight_executions",
            "Executions running now",
            inflight.clone(),
        );
        let rejected = Family::<ReasonLabels, Counter>::default();
        registry.register(
            "rejected_requests",
            "Execute requests refused before running (overloaded, unauthorized, bad-request, not-found, too-large)",
            rejected.clone(),
        );
        let reloads = Family::<OutcomeLabels, Counter>::default();
        registry.register(
            "reloads",
            "Configuration reloads by outcome (applied, refused)",
            reloads.clone(),
        );
        let continuations = Family::<OutcomeLabels, Counter>::default();
        registry.register(
            "continuations",
            "Requests to continue a redirected flow by outcome (continued, unknown-state, refused, failed)",
            continuations.clone(),
        );
        let function_cache = Arc::new(FunctionCacheMetrics::default());
        registry.register_collector(Box::new(Arc::clone(&function_cache)));
        Self {
            registry,
            function_cache,
            continuations,
            executions,
            duration,
            failures,
            cache_operations,
            cache_entries,
            cache_bytes,
            store_errors,
            egress,
            token_requests,
            action_executions,
            inflight,
            rejected,
            reloads,
        }
    }

    /// Exports `cache`'s counts as the `function_cache_*` series. The first call wins: a
    /// server's runtime keeps the cache it was built with.
    pub(crate) fn watch_function_cache(&self, cache: Arc<FunctionCache>) {
        let _ = self.function_cache.0.set(cache);
    }

    /// The series of one configured partition, resolved once when its flow is loaded so that
    /// counting an execution neither hashes labels nor allocates. Creating them also makes
    /// every configured partition's series visible (at 0) from the start. `actions` are the
    /// flow's action names, in order.
    pub(crate) fn partition(&self, partition: &PartitionKey, actions: &[&str]) -> PartitionMetrics {
        let labels = PartitionLabels {
            tenant: partition.tenant.clone(),
            trigger: partition.trigger.as_str(),
        };
        let executions = |outcome: cachet_runtime::Outcome| {
            self.executions
                .get_or_create(&ExecutionLabels {
                    tenant: partition.tenant.clone(),
                    trigger: labels.trigger,
                    outcome: outcome_label(outcome),
                })
                .clone()
        };
        let redirects = partition.trigger.continue_export_name().is_some();
        let redirect = |make: &dyn Fn(cachet_runtime::Outcome) -> Counter| {
            if redirects {
                make(cachet_runtime::Outcome::Redirect)
            } else {
                Counter::default()
            }
        };
        PartitionMetrics {
            success: executions(cachet_runtime::Outcome::Success),
            denied: executions(cachet_runtime::Outcome::Denied),
            failed: executions(cachet_runtime::Outcome::Failed),
            redirect: redirect(&executions),
            duration: self.duration.get_or_create(&labels).clone(),
            entries: self.cache_entries.get_or_create(&labels).clone(),
            bytes: self.cache_bytes.get_or_create(&labels).clone(),
            actions: actions
                .iter()
                .map(|action| {
                    let counter = |outcome: cachet_runtime::Outcome| {
                        self.action_executions
                            .get_or_create(&ActionLabels {
                                tenant: partition.tenant.clone(),
                                trigger: labels.trigger,
                                action: (*action).to_string(),
                                outcome: outcome_label(outcome),
                            })
                            .clone()
                    };
                    ActionMetrics {
                        success: counter(cachet_runtime::Outcome::Success),
                        denied: counter(cachet_runtime::Outcome::Denied),
                        failed: counter(cachet_runtime::Outcome::Failed),
                        redirect: redirect(&counter),
                        minutes: Default::default(),
                    }
                })
                .collect(),
        }
    }

    /// Counts one finished execution of the partition whose series are `series`, which
    /// ended at `now_ms` (ms since the epoch, for the per-minute activity).
    pub(crate) fn execution(&self, series: &PartitionMetrics, result: &FlowResult, now_ms: u64) {
        // The results are in flow order and stop where the flow stopped.
        for (action, metrics) in result.actions.iter().zip(&series.actions) {
            metrics.record(action.outcome, now_ms);
        }
        match result.outcome {
            cachet_runtime::Outcome::Success => series.success.inc(),
            cachet_runtime::Outcome::Denied => series.denied.inc(),
            cachet_runtime::Outcome::Failed => series.failed.inc(),
            cachet_runtime::Outcome::Redirect => series.redirect.inc(),
        };
        series.duration.observe(result.duration_us as f64 / 1e6);
        for failure in result.actions.iter().filter_map(|a| a.error.as_ref()) {
            self.failures
                .get_or_create(&KindLabels {
                    kind: kind_label(failure.kind),
                })
                .inc();
        }
        let gauge = |n: usize| i64::try_from(n).unwrap_or(i64::MAX);
        series.entries.set(gauge(result.cache.entries));
        series.bytes.set(gauge(result.cache.bytes));
    }

    /// Records a partition's usage (after an execution, an inspection or a purge).
    pub(crate) fn usage(&self, partition: &PartitionKey, entries: usize, bytes: usize) {
        let labels = PartitionLabels {
            tenant: partition.tenant.clone(),
            trigger: partition.trigger.as_str(),
        };
        self.set_usage(labels, entries, bytes);
    }

    fn set_usage(&self, labels: PartitionLabels, entries: usize, bytes: usize) {
        let gauge = |n: usize| i64::try_from(n).unwrap_or(i64::MAX);
        self.cache_entries
            .get_or_create(&labels)
            .set(gauge(entries));
        self.cache_bytes.get_or_create(&labels).set(gauge(bytes));
    }

    /// Counts a request refused before it ran.
    pub(crate) fn rejected(&self, reason: &'static str) {
        self.rejected.get_or_create(&ReasonLabels { reason }).inc();
    }

    /// Counts a request to continue a redirected flow: `continued` (it ran, whatever its
    /// outcome), `unknown-state`, `refused` (a bad request) or `failed` (the store).
    pub(crate) fn continuation(&self, outcome: &'static str) {
        self.continuations
            .get_or_create(&OutcomeLabels { outcome })
            .inc();
    }

    /// Counts a reload.
    pub(crate) fn reload(&self, applied: bool) {
        let outcome = if applied { "applied" } else { "refused" };
        self.reloads.get_or_create(&OutcomeLabels { outcome }).inc();
    }

    /// Token requests and all outbound requests of actions since start-up, every outcome.
    pub(crate) fn egress_totals(&self) -> (u64, u64) {
        let sum = |family: &Family<OutcomeLabels, Counter>| {
            ["completed", "denied", "refused", "failed"]
                .into_iter()
                .map(|outcome| family.get_or_create(&OutcomeLabels { outcome }).get())
                .sum()
        };
        (sum(&self.token_requests), sum(&self.egress))
    }

    /// Every metric in the Prometheus text format (OpenMetrics 1.0).
    pub fn encode(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }

    /// [`Metrics::encode`] with only the series labelled with a tenant `allows` accepts (and
    /// their families' `# HELP`/`# TYPE` lines): what a token scoped to some tenants may read.
    /// Series without a tenant label are totals over every tenant, so they are left out too.
    pub fn encode_for(&self, allows: impl Fn(&str) -> bool) -> String {
        let full = self.encode();
        let mut out = String::with_capacity(full.len() / 2);
        let mut header = String::new();
        for line in full.lines() {
            if line.starts_with("# EOF") {
                out.push_str(line);
                out.push('\n');
            } else if line.starts_with('#') {
                if line.starts_with("# HELP") {
                    header.clear();
                }
                header.push_str(line);
                header.push('\n');
            } else {
                // Tenant names are ASCII letters, digits, `-`, `_` and `.`: never escaped.
                let tenant = line
                    .split_once("tenant=\"")
                    .and_then(|(_, rest)| rest.split_once('"'))
                    .map(|(tenant, _)| tenant);
                if tenant.is_some_and(&allows) {
                    out.push_str(&header);
                    header.clear();
                    out.push_str(line);
                    out.push('\n');
                }
            }
        }
        out
    }
}

impl Observer for Metrics {
    fn cache_operation(&self, _partition: &PartitionKey, op: CacheOp, result: CacheOpResult) {
        self.cache_operations
            .get_or_create(&CacheOpLabels {
                op: op.as_str(),
                result: result.as_str(),
            })
            .inc();
        if result.is_store_failure() {
            self.store_errors.inc();
        }
    }

    fn egress_request(&self, outcome: EgressOutcome) {
        self.egress
            .get_or_create(&OutcomeLabels {
                outcome: outcome.as_str(),
            })
            .inc();
    }

    fn token_request(&self, outcome: EgressOutcome) {
        self.token_requests
            .get_or_create(&OutcomeLabels {
                outcome: outcome.as_str(),
            })
            .inc();
    }
}

fn outcome_label(outcome: cachet_runtime::Outcome) -> &'static str {
    match outcome {
        cachet_runtime::Outcome::Success => "success",
        cachet_runtime::Outcome::Denied => "denied",
        cachet_runtime::Outcome::Failed => "failed",
        cachet_runtime::Outcome::Redirect => "redirect",
    }
}

fn kind_label(kind: FailureKind) -> &'static str {
    match kind {
        FailureKind::ActionError => "action-error",
        FailureKind::DeadlineExceeded => "deadline-exceeded",
        FailureKind::MemoryLimitExceeded => "memory-limit-exceeded",
        FailureKind::StackOverflow => "stack-overflow",
        FailureKind::Trap => "trap",
        FailureKind::Instantiation => "instantiation",
        FailureKind::Continuation => "continuation",
    }
}
