//! The console's test runner: one run of a partition's flow on an event the operator gives,
//! on the live partition or on a scratch copy of it (optionally as if later), with the
//! partition before and after and the codes its cache writes were refused with. A live run
//! that redirects can be continued from the page with what the user would come back with.
//!
//! A run is an execution like any other: it takes an execution slot, counts in the metrics and
//! (unless it is a dry run) writes to the live cache.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::http::StatusCode;
use axum::response::Response;
use cachet_runtime::{
    Action, ActionConfig, CacheStore, Clock, ContinueError, ContinueParams, ErrorCodes, FlowResult,
    MemoryStore, PartitionKey, PartitionReport, Runtime, inspect,
};
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::sync::OwnedSemaphorePermit;

use crate::http::{Configured, error, store_unavailable};
use crate::{Flow, Server};

/// The longest "as if later" a test may ask for: the cache's own 24 h maximum lifetime, and
/// a day on top to see everything expire.
const MAX_CLOCK_OFFSET_SECS: u64 = 2 * 24 * 3600;

/// The body of a test run.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct TestRun {
    /// The event, a JSON object (absent when continuing).
    #[serde(default)]
    event: Option<Value>,
    /// Continue a redirect a live run made, instead of running on an event.
    #[serde(default, rename = "continue")]
    resume: Option<TrialContinue>,
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

/// What continues a redirected test run: its state and what the user came back with.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct TrialContinue {
    state: String,
    #[serde(default)]
    query: serde_json::Map<String, Value>,
    #[serde(default)]
    body: serde_json::Map<String, Value>,
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

/// A checked test run holding its execution slot. Each step answers the error response that
/// ends the run early.
pub(crate) struct Trial {
    server: Server,
    partition: PartitionKey,
    flow: Flow,
    run: TestRun,
    _slot: OwnedSemaphorePermit,
}

impl Trial {
    /// Checks `run` and takes an execution slot (or answers 503 when none is free).
    pub(crate) async fn new(
        server: Server,
        Configured { partition, flow }: Configured,
        run: TestRun,
    ) -> Result<Self, Response> {
        match (&run.event, &run.resume) {
            (Some(event), None) if event.is_object() => {}
            (None, Some(_)) if !run.dry_run => {}
            (None, Some(_)) => {
                return Err(error(
                    StatusCode::BAD_REQUEST,
                    "continue_needs_live_run",
                    "a dry run's redirect is kept in its scratch copy of the partition, which is \
                     gone after the run: continue the redirect of a live run (dry_run false)",
                ));
            }
            (Some(_), Some(_)) => {
                return Err(error(
                    StatusCode::BAD_REQUEST,
                    "event_or_continue",
                    "give either an event or a continue, not both",
                ));
            }
            _ => {
                return Err(error(
                    StatusCode::BAD_REQUEST,
                    "event_not_object",
                    "the event must be a JSON object",
                ));
            }
        }
        if run.clock_offset_secs > 0 && !run.dry_run {
            return Err(error(
                StatusCode::BAD_REQUEST,
                "clock_offset_needs_dry_run",
                "a clock offset runs the flow as if later, which only a scratch copy of the \
                 partition can do: set dry_run",
            ));
        }
        if run.clock_offset_secs > MAX_CLOCK_OFFSET_SECS {
            return Err(error(
                StatusCode::BAD_REQUEST,
                "clock_offset_too_large",
                format!("clock_offset_secs may be at most {MAX_CLOCK_OFFSET_SECS} (two days)"),
            ));
        }
        // A test is an execution like any other: it takes a slot or is refused.
        let Ok(slot) = Arc::clone(&server.shared.inflight).try_acquire_owned() else {
            return Err(error(
                StatusCode::SERVICE_UNAVAILABLE,
                "overloaded",
                "every execution slot is busy (max_inflight); retry shortly",
            ));
        };
        Ok(Self {
            server,
            partition,
            flow,
            run,
            _slot: slot,
        })
    }

    /// Runs the flow and reports: the result, the refused writes, the partition before and
    /// after.
    pub(crate) async fn run(self) -> Result<Value, Response> {
        let actions = self.actions().await?;
        let codes = Arc::new(ErrorCodes::forwarding_to(Arc::clone(
            self.server.runtime().observer(),
        )));
        let runtime = self.runtime(Arc::clone(&codes)).await?;
        let before = self.report(&runtime).await?;
        let (tenant, trigger) = (&self.partition.tenant, self.partition.trigger);
        let result = match (&self.run.resume, &self.run.event) {
            (Some(resume), _) => {
                let params = ContinueParams {
                    query: resume.query.clone(),
                    body: resume.body.clone(),
                };
                runtime
                    .continue_actions(tenant, trigger, &actions, &resume.state, params)
                    .await
                    .map_err(|e| match e {
                        ContinueError::UnknownState => {
                            error(StatusCode::NOT_FOUND, "unknown_state", e.to_string())
                        }
                        e => error(StatusCode::BAD_REQUEST, "continue_refused", e.to_string()),
                    })?
            }
            (None, event) => {
                let event = event.as_ref().map(Value::to_string).unwrap_or_default();
                runtime
                    .execute_actions(tenant, trigger, &actions, &event)
                    .await
                    .map_err(|e| error(StatusCode::BAD_REQUEST, "flow_refused", e.to_string()))?
            }
        };
        let after = self.report(&runtime).await?;
        if !self.run.dry_run {
            self.server
                .metrics()
                .usage(&self.partition, after.usage.entries, after.usage.bytes);
        }
        Ok(self.answer(&result, &codes, before, after))
    }

    /// The flow's actions; with secrets for this run, reloaded with them over the configured
    /// ones (the compiled component and a JavaScript action's build are reused, so this costs
    /// milliseconds).
    async fn actions(&self) -> Result<Arc<[Action]>, Response> {
        if self.run.secrets.is_empty() {
            return Ok(Arc::clone(&self.flow.actions));
        }
        if self.flow.source == crate::FlowSource::Deployed {
            // Its actions come from the deployment store, not the config file's specs.
            return Err(error(
                StatusCode::BAD_REQUEST,
                "secrets_not_supported",
                "this flow is deployed through the API: test it with its deployed secrets \
                 (leave `secrets` empty), or upload a version whose secret references name \
                 other secrets of the tenant",
            ));
        }
        let specs: Vec<_> = self
            .server
            .config()
            .actions
            .iter()
            .filter(|a| a.tenant == self.partition.tenant && a.trigger == self.partition.trigger)
            .cloned()
            .collect();
        let runtime = self.server.runtime().clone();
        let loader = self.server.loader().clone();
        let secrets = self.run.secrets.clone();
        let loaded = tokio::task::spawn_blocking(move || {
            specs
                .into_iter()
                .map(|spec| {
                    let mut config: ActionConfig = spec.config;
                    config.secrets.extend(secrets.clone());
                    loader.load(&runtime, &spec.name, spec.trigger, &spec.path, config)
                })
                .collect::<Result<Vec<_>, _>>()
        })
        .await;
        match loaded {
            Ok(Ok(actions)) => Ok(actions.into()),
            Ok(Err(e)) => Err(error(StatusCode::BAD_REQUEST, "bad_secrets", e.to_string())),
            Err(_) => Err(error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "loading the actions stopped unexpectedly",
            )),
        }
    }

    /// The runtime the run executes on, observed by `codes`: the live one, or for a dry run
    /// one on a scratch copy of the partition and a clock moved on by the offset.
    async fn runtime(&self, codes: Arc<ErrorCodes>) -> Result<Runtime, Response> {
        let live = self.server.runtime();
        if !self.run.dry_run {
            return Ok(live.with_store(Arc::clone(live.store()), Arc::clone(live.clock()), codes));
        }
        let config = self.server.config();
        let scratch: Arc<dyn CacheStore> =
            Arc::new(MemoryStore::new(config.cache_limits, config.policy));
        let now = live.now_ms();
        let copied = match live.store().snapshot(&self.partition, now).await {
            Ok(entries) => scratch.restore(&self.partition, entries, now).await,
            Err(e) => Err(e),
        };
        if let Err(e) = copied {
            return Err(store_unavailable(e));
        }
        // The live runtime's clock, moved on: a test of a manual-clock runtime stays on it.
        let clock: Arc<dyn Clock> = Arc::new(Later {
            clock: Arc::clone(live.clock()),
            offset_ms: self.run.clock_offset_secs.saturating_mul(1000),
        });
        Ok(live.with_store(scratch, clock, codes))
    }

    /// The partition as `runtime` sees it now.
    async fn report(&self, runtime: &Runtime) -> Result<PartitionReport, Response> {
        let limits = self.server.config().cache_limits;
        inspect(
            runtime.store().as_ref(),
            &self.partition,
            &limits,
            runtime.now_ms(),
        )
        .await
        .map_err(store_unavailable)
    }

    /// The answer's body; the run is logged without its event or secrets.
    fn answer(
        &self,
        result: &FlowResult,
        codes: &ErrorCodes,
        before: PartitionReport,
        after: PartitionReport,
    ) -> Value {
        tracing::info!(
            partition = %self.partition,
            dry_run = self.run.dry_run,
            clock_offset_secs = self.run.clock_offset_secs,
            outcome = ?result.outcome,
            "console test run"
        );
        // In the order of their names, as the page lists them.
        let mut refused: Vec<_> = codes
            .counts()
            .into_iter()
            .map(|((op, code), count)| (op.as_str(), code.as_str(), count))
            .collect();
        refused.sort_unstable();
        let refused: Vec<_> = refused
            .into_iter()
            .map(|(op, code, count)| json!({ "op": op, "code": code, "count": count }))
            .collect();
        json!({
            "dry_run": self.run.dry_run,
            "clock_offset_secs": self.run.clock_offset_secs,
            "result": result,
            "refused": refused,
            "before": before,
            "after": after,
        })
    }
}
