//! The web console at `/ui`: one page (`console/console.html`, `.css`, `.js`, compiled into
//! the binary; no framework, nothing from a CDN) and the two JSON endpoints only it needs.
//!
//! | Route | |
//! |---|---|
//! | `GET /ui`, `/ui/console.css`, `/ui/console.js` | the page; no auth (it holds no data: it asks for the bearer token and keeps it in the tab's `sessionStorage`) |
//! | `GET /v1/console/overview` | flows, actions, partition usage against the quotas, per-action activity, token requests |
//! | `POST /v1/tenants/{tenant}/triggers/{trigger}/test` | run the flow on an event, optionally on a scratch copy of the partition and as if later; the partition before and after |
//!
//! The page's actions (delete an entry, purge) use the API's own routes.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use cachet_host::{
    ActionConfig, CacheOp, CacheOpResult, CacheStore, Clock, EgressOutcome, MemoryStore, Observer,
    PartitionKey, Trigger, inspect,
};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::Server;
use crate::api::{Configured, error, store_unavailable};
use crate::metrics::ACTIVITY_MINUTES;

const HTML: &str = include_str!("console/console.html");
const CSS: &str = include_str!("console/console.css");
const JS: &str = include_str!("console/console.js");

/// The longest "as if later" a test may ask for: the cache's own 24 h maximum lifetime, and
/// a day on top to see everything expire.
const MAX_CLOCK_OFFSET_SECS: u64 = 2 * 24 * 3600;

/// The console's files, with headers that keep the page to itself: no inline script, no
/// framing, nothing fetched from elsewhere.
fn asset(content_type: &'static str, body: &'static str) -> Response {
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; \
             img-src 'self' data:; form-action 'none'; frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}

pub(crate) async fn page() -> Response {
    asset("text/html; charset=utf-8", HTML)
}

pub(crate) async fn style() -> Response {
    asset("text/css; charset=utf-8", CSS)
}

pub(crate) async fn script() -> Response {
    asset("text/javascript; charset=utf-8", JS)
}

/// Everything the overview shows, in one request.
pub(crate) async fn overview(State(server): State<Server>) -> Response {
    let config = server.config();
    let runtime = server.runtime();
    let now = runtime.now_ms();
    let flows = server.flows();
    let mut keys: Vec<&PartitionKey> = flows.keys().collect();
    keys.sort_by(|a, b| (&a.tenant, a.trigger).cmp(&(&b.tenant, b.trigger)));
    let mut partitions = Vec::with_capacity(keys.len());
    for key in keys {
        let flow = &flows[key];
        // The store's error is logged, never shown: it may name the store's address.
        let usage = match runtime.store().usage(key).await {
            Ok(usage) => {
                server.metrics().usage(key, usage.entries, usage.bytes);
                json!({ "entries": usage.entries, "bytes": usage.bytes })
            }
            Err(e) => {
                tracing::warn!(partition = %key, error = %e, "the console could not read a partition's usage");
                serde_json::Value::Null
            }
        };
        let actions: Vec<_> = flow
            .actions
            .iter()
            .zip(flow.languages.iter())
            .zip(&flow.series.actions)
            .map(|((action, language), metrics)| {
                let (executions, failures) = metrics.totals();
                json!({
                    "name": action.name(),
                    "language": language,
                    "instance": if action.is_warm() { "warm" } else { "fresh" },
                    "component_bytes": action.component_bytes(),
                    "sha256": action.digest(),
                    "executions": executions,
                    "failures": failures,
                    "recent": metrics.recent(now),
                })
            })
            .collect();
        partitions.push(json!({
            "tenant": key.tenant,
            "trigger": key.trigger,
            "usage": usage,
            "actions": actions,
        }));
    }
    let (token_requests, egress_requests) = server.metrics().egress_totals();
    let limits = config.cache_limits;
    Json(json!({
        "now_ms": now,
        "minutes": ACTIVITY_MINUTES,
        "limits": {
            "max_entries": limits.max_entries,
            "max_total_bytes": limits.max_total_bytes,
            "max_key_bytes": limits.max_key_bytes,
            "max_value_bytes": limits.max_value_bytes,
        },
        "policy": config.policy,
        "egress": { "token_requests": token_requests, "requests": egress_requests },
        "partitions": partitions,
        // Every trigger the runtime runs, with the event its tests start from: the console
        // reads them from the trigger table rather than keeping copies of its own.
        "triggers": Trigger::ALL
            .iter()
            .map(|t| {
                let event: Value = serde_json::from_str(t.default_event()).unwrap_or(Value::Null);
                json!({ "name": t.as_str(), "default_event": event })
            })
            .collect::<Vec<_>>(),
    }))
    .into_response()
}

/// The body of a test run.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct TestRun {
    /// The event, a JSON object.
    event: serde_json::Value,
    /// Secrets for this run only, over each action's configured ones.
    #[serde(default)]
    secrets: BTreeMap<String, String>,
    /// Run on a scratch copy of the partition: the live cache is not touched.
    #[serde(default)]
    dry_run: bool,
    /// Run as if this many seconds later (dry runs only).
    #[serde(default)]
    clock_offset_secs: u64,
}

/// A clock some seconds ahead of another.
struct Later {
    clock: Arc<dyn Clock>,
    offset_ms: u64,
}

impl Clock for Later {
    fn now_ms(&self) -> u64 {
        self.clock.now_ms().saturating_add(self.offset_ms)
    }
}

/// Records one test run's cache operations (for the codes its writes were refused with) and
/// passes everything on to the service's metrics.
struct Recorder {
    metrics: Arc<dyn Observer>,
    refused: Mutex<BTreeMap<(&'static str, &'static str), u64>>,
}

impl Observer for Recorder {
    fn cache_operation(&self, partition: &PartitionKey, op: CacheOp, result: CacheOpResult) {
        self.metrics.cache_operation(partition, op, result);
        if let CacheOpResult::Error(code) = result {
            *self
                .refused
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .entry((op.as_str(), code))
                .or_default() += 1;
        }
    }

    fn egress_request(&self, outcome: EgressOutcome) {
        self.metrics.egress_request(outcome);
    }

    fn token_request(&self, outcome: EgressOutcome) {
        self.metrics.token_request(outcome);
    }
}

/// Runs the partition's flow on the test's event and answers with the result and the
/// partition before and after.
pub(crate) async fn test(
    State(server): State<Server>,
    Configured { partition, flow }: Configured,
    body: Result<Json<TestRun>, axum::extract::rejection::JsonRejection>,
) -> Response {
    let Json(run) = match body {
        Ok(run) => run,
        Err(rejection) => {
            return error(
                StatusCode::BAD_REQUEST,
                "bad_test",
                format!(
                    "{}; send {{\"event\": {{…}}, \"secrets\": {{…}}, \"dry_run\": bool, \"clock_offset_secs\": n}}",
                    rejection.body_text()
                ),
            );
        }
    };
    if !run.event.is_object() {
        return error(
            StatusCode::BAD_REQUEST,
            "event_not_object",
            "the event must be a JSON object",
        );
    }
    if run.clock_offset_secs > 0 && !run.dry_run {
        return error(
            StatusCode::BAD_REQUEST,
            "clock_offset_needs_dry_run",
            "a clock offset runs the flow as if later, which only a scratch copy of the \
             partition can do: set dry_run",
        );
    }
    if run.clock_offset_secs > MAX_CLOCK_OFFSET_SECS {
        return error(
            StatusCode::BAD_REQUEST,
            "clock_offset_too_large",
            format!("clock_offset_secs may be at most {MAX_CLOCK_OFFSET_SECS} (two days)"),
        );
    }
    // A test is an execution like any other: it takes a slot or is refused.
    let Ok(_permit) = Arc::clone(&server.shared.inflight).try_acquire_owned() else {
        return error(
            StatusCode::SERVICE_UNAVAILABLE,
            "overloaded",
            "every execution slot is busy (max_inflight); retry shortly",
        );
    };
    let config = server.config();
    let live = server.runtime().clone();
    let limits = config.cache_limits;

    let actions: Arc<[cachet_host::Action]> = if run.secrets.is_empty() {
        Arc::clone(&flow.actions)
    } else {
        // Reloaded with the test's secrets over the configured ones: the compiled component
        // (and a JavaScript action's build) are reused, so this costs milliseconds.
        let specs: Vec<_> = config
            .actions
            .iter()
            .filter(|a| a.tenant == partition.tenant && a.trigger == partition.trigger)
            .cloned()
            .collect();
        let (rt, loader, secrets) = (live.clone(), server.loader().clone(), run.secrets.clone());
        let loaded = tokio::task::spawn_blocking(move || {
            specs
                .into_iter()
                .map(|spec| {
                    let mut config: ActionConfig = spec.config;
                    config.secrets.extend(secrets.clone());
                    loader.load(&rt, &spec.name, spec.trigger, &spec.path, config)
                })
                .collect::<Result<Vec<_>, _>>()
        })
        .await;
        match loaded {
            Ok(Ok(actions)) => actions.into(),
            Ok(Err(e)) => return error(StatusCode::BAD_REQUEST, "bad_secrets", e.to_string()),
            Err(_) => {
                return error(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal",
                    "loading the actions stopped unexpectedly",
                );
            }
        }
    };

    let recorder = Arc::new(Recorder {
        metrics: Arc::clone(live.observer()),
        refused: Mutex::default(),
    });
    let runtime = if run.dry_run {
        let scratch: Arc<dyn CacheStore> = Arc::new(MemoryStore::new(limits, config.policy));
        let now = live.now_ms();
        let copied = match live.store().snapshot(&partition, now).await {
            Ok(entries) => scratch.restore(&partition, entries, now).await,
            Err(e) => Err(e),
        };
        if let Err(e) = copied {
            return store_unavailable(e);
        }
        // The live runtime's clock, moved on: a test of a manual-clock runtime stays on it.
        let clock: Arc<dyn Clock> = Arc::new(Later {
            clock: Arc::clone(live.clock()),
            offset_ms: run.clock_offset_secs.saturating_mul(1000),
        });
        live.with_store(scratch, clock, recorder.clone())
    } else {
        live.with_store(
            Arc::clone(live.store()),
            Arc::clone(live.clock()),
            recorder.clone(),
        )
    };

    let report = || {
        inspect(
            runtime.store().as_ref(),
            &partition,
            &limits,
            runtime.now_ms(),
        )
    };
    let before = match report().await {
        Ok(report) => report,
        Err(e) => return store_unavailable(e),
    };
    let event = run.event.to_string();
    let result = runtime
        .execute_actions(&partition.tenant, partition.trigger, &actions, &event)
        .await;
    let result = match result {
        Ok(result) => result,
        Err(e) => return error(StatusCode::BAD_REQUEST, "flow_refused", e.to_string()),
    };
    let after = match report().await {
        Ok(report) => report,
        Err(e) => return store_unavailable(e),
    };
    if !run.dry_run {
        server
            .metrics()
            .usage(&partition, after.usage.entries, after.usage.bytes);
    }
    tracing::info!(
        partition = %partition,
        dry_run = run.dry_run,
        clock_offset_secs = run.clock_offset_secs,
        outcome = ?result.outcome,
        "console test run"
    );
    let refused: Vec<_> = recorder
        .refused
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .iter()
        .map(|((op, code), count)| json!({ "op": op, "code": code, "count": count }))
        .collect();
    Json(json!({
        "dry_run": run.dry_run,
        "clock_offset_secs": run.clock_offset_secs,
        "result": result,
        "refused": refused,
        "before": before,
        "after": after,
    }))
    .into_response()
}
