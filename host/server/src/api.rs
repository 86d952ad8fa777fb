//! The partition API, behind the bearer token: execute a flow, inspect and purge a
//! partition, list the flows, reload the config. Every failure maps to a status and a JSON
//! error (see [`crate::http::error`]).
//!
//! | Route | |
//! |---|---|
//! | `POST /v1/tenants/{tenant}/triggers/{trigger}/execute` | run the flow on the body (an event) |
//! | `POST /v1/tenants/{tenant}/triggers/{trigger}/continue` | continue a redirected flow: `{ "state", "query", "body" }` |
//! | `GET /v1/tenants/{tenant}/triggers/{trigger}/cache` | the partition, values redacted |
//! | `DELETE /v1/tenants/{tenant}/triggers/{trigger}/cache` | purge the partition |
//! | `DELETE /v1/tenants/{tenant}/triggers/{trigger}/cache/{key}` | remove one entry |
//! | `GET /v1/flows` | the configured flows |
//! | `POST /v1/admin/reload` | re-read the config file |
//!
//! The other groups: `GET /metrics` ([`crate::metrics`]), `GET /healthz` and `/readyz`
//! ([`crate::probes`]), the console at `/ui` ([`crate::console`]).
//!
//! Request bodies, events, cache keys and values, and tokens are never logged.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Extension, Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use cachet_limits::{CacheError, LimitError};
use cachet_runtime::{ContinueError, ContinueParams, ExecuteError, FlowResult, PartitionKey};
use http_body_util::{BodyExt as _, LengthLimitError, Limited};
use serde::Deserialize;
use serde_json::json;

use crate::Server;
use crate::auth::Grant;
use crate::http::{Configured, Routes, error, store_unavailable};

/// How long an event body may take to arrive. The execution slot is taken first (so bodies
/// in memory are bounded by `max_inflight`), so a slow upload must not hold it for long.
const BODY_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// The partition routes, all authenticated.
pub(crate) fn routes() -> Routes {
    let partition = "/v1/tenants/{tenant}/triggers/{trigger}";
    Routes {
        open: Router::new(),
        authenticated: Router::new()
            .route(&format!("{partition}/execute"), post(execute))
            .route(&format!("{partition}/continue"), post(continue_flow))
            .route(
                &format!("{partition}/cache"),
                get(show_cache).delete(purge_cache),
            )
            .route(&format!("{partition}/cache/{{key}}"), delete(delete_entry))
            .route("/v1/flows", get(list_flows))
            .route("/v1/admin/reload", post(reload)),
    }
}

async fn execute(
    State(server): State<Server>,
    Configured { partition, flow }: Configured,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let metrics = server.metrics();
    let (permit, bytes) = match admit_and_read(&server, &headers, body, "the event").await {
        Ok(admitted) => admitted,
        Err(response) => return response,
    };
    let Ok(event) = String::from_utf8(bytes.to_vec()) else {
        metrics.rejected("bad-request");
        return error(
            StatusCode::BAD_REQUEST,
            "event_not_json",
            "the event is not valid JSON: it is not UTF-8",
        );
    };
    let actions = Arc::clone(&flow.actions);
    let result = run(&server, &partition, &flow, permit, |s, p| async move {
        s.runtime()
            .execute_actions(&p.tenant, p.trigger, &actions, &event)
            .await
    })
    .await;
    match result {
        Err(response) => response,
        Ok(Ok(result)) => answer(&partition, result),
        Ok(Err(ExecuteError::EventNotJson(message))) => {
            metrics.rejected("bad-request");
            error(
                StatusCode::BAD_REQUEST,
                "event_not_json",
                format!("the event is not valid JSON: {message}"),
            )
        }
        Ok(Err(ExecuteError::EventNotObject)) => {
            metrics.rejected("bad-request");
            error(
                StatusCode::BAD_REQUEST,
                "event_not_object",
                "the event must be a JSON object",
            )
        }
        Ok(Err(ExecuteError::Limit(LimitError::EventTooLarge { .. }))) => {
            too_large(&server, "the event")
        }
        Ok(Err(e)) => {
            tracing::error!(partition = %partition, error = %e, "the flow could not run");
            error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "flow_invalid",
                e.to_string(),
            )
        }
    }
}

/// What a login server sends to continue a redirected flow: the `state` it got with the
/// redirect, and what the user came back with.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ContinueRequest {
    state: String,
    #[serde(default)]
    query: serde_json::Map<String, serde_json::Value>,
    #[serde(default)]
    body: serde_json::Map<String, serde_json::Value>,
}

/// `POST …/continue`: continues a flow an action paused with a redirect. Nothing runs for an
/// unknown, used or expired state (404 `unknown_state`).
async fn continue_flow(
    State(server): State<Server>,
    Configured { partition, flow }: Configured,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let metrics = server.metrics();
    let (permit, bytes) = match admit_and_read(&server, &headers, body, "the request").await {
        Ok(admitted) => admitted,
        Err(response) => return response,
    };
    let request: ContinueRequest = match serde_json::from_slice(&bytes) {
        Ok(request) => request,
        Err(e) => {
            metrics.continuation("refused");
            return error(
                StatusCode::BAD_REQUEST,
                "continue_request_invalid",
                format!(
                    "the body must be {{ \"state\": \"…\", \"query\": {{…}}, \"body\": {{…}} }} \
                     (query and body optional): {e}"
                ),
            );
        }
    };
    let actions = Arc::clone(&flow.actions);
    let params = ContinueParams {
        query: request.query,
        body: request.body,
    };
    let state = request.state;
    let result = run(&server, &partition, &flow, permit, |s, p| async move {
        s.runtime()
            .continue_actions(&p.tenant, p.trigger, &actions, &state, params)
            .await
    })
    .await;
    let (outcome, response) = match result {
        Err(response) => ("failed", response),
        Ok(Ok(result)) => ("continued", answer(&partition, result)),
        Ok(Err(ContinueError::UnknownState)) => (
            "unknown-state",
            error(
                StatusCode::NOT_FOUND,
                "unknown_state",
                ContinueError::UnknownState.to_string(),
            ),
        ),
        Ok(Err(e @ ContinueError::CannotRedirect(_))) => (
            "refused",
            error(
                StatusCode::BAD_REQUEST,
                "trigger_cannot_redirect",
                e.to_string(),
            ),
        ),
        Ok(Err(e @ ContinueError::FlowChanged { .. })) => (
            "refused",
            error(StatusCode::CONFLICT, "flow_changed", e.to_string()),
        ),
        Ok(Err(ContinueError::Limit(_))) => ("refused", too_large(&server, "the event")),
        Ok(Err(ContinueError::Store(e))) => ("failed", store_unavailable(e)),
        Ok(Err(e)) => {
            // The detail may quote the stored event: the log has it, the caller does not.
            tracing::error!(partition = %partition, error = %e, "a flow could not be continued");
            (
                "failed",
                error(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "continuation_unreadable",
                    "the redirected flow could not be continued; the login must start again \
                     (the reason is in the service's log)",
                ),
            )
        }
    };
    metrics.continuation(outcome);
    response
}

/// An execution slot, then the body (`what`, for messages): the slot first, so bodies in
/// memory are bounded by `max_inflight`.
// The error is the handler's early answer, returned once per request: boxing it buys nothing.
#[allow(clippy::result_large_err)]
async fn admit_and_read(
    server: &Server,
    headers: &HeaderMap,
    body: Body,
    what: &str,
) -> Result<(tokio::sync::OwnedSemaphorePermit, Bytes), Response> {
    let permit = admit(server)?;
    let bytes = read_body(server, headers, body, what).await?;
    Ok((permit, bytes))
}

/// An execution slot, or 503: never queue without bound; beyond `max_inflight` the caller is
/// told to come back.
// The error is the handler's early answer, returned once per request: boxing it buys nothing.
#[allow(clippy::result_large_err)]
fn admit(server: &Server) -> Result<tokio::sync::OwnedSemaphorePermit, Response> {
    Arc::clone(&server.shared.inflight)
        .try_acquire_owned()
        .map_err(|_| {
            server.metrics().rejected("overloaded");
            let config = server.config();
            let mut response = error(
                StatusCode::SERVICE_UNAVAILABLE,
                "overloaded",
                format!(
                    "{} executions are already running (max_inflight); retry shortly",
                    config.max_inflight
                ),
            );
            response.headers_mut().insert(
                header::RETRY_AFTER,
                HeaderValue::from(config.retry_after_secs),
            );
            response
        })
}

/// 413: `what` is larger than an event may be.
fn too_large(server: &Server, what: &str) -> Response {
    server.metrics().rejected("too-large");
    let max = server.runtime().execution_limits().max_event_bytes;
    error(
        StatusCode::PAYLOAD_TOO_LARGE,
        "event_too_large",
        format!("{what} is larger than {max} bytes (execution_limits.max_event_bytes)"),
    )
}

/// The body, read within the event size limit and [`BODY_READ_TIMEOUT`].
// The error is the handler's early answer, returned once per request: boxing it buys nothing.
#[allow(clippy::result_large_err)]
async fn read_body(
    server: &Server,
    headers: &HeaderMap,
    body: Body,
    what: &str,
) -> Result<Bytes, Response> {
    let max = server.runtime().execution_limits().max_event_bytes;
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > max as u64) {
        return Err(too_large(server, what));
    }
    match tokio::time::timeout(BODY_READ_TIMEOUT, Limited::new(body, max).collect()).await {
        Ok(Ok(collected)) => Ok(collected.to_bytes()),
        Err(_elapsed) => {
            server.metrics().rejected("bad-request");
            Err(error(
                StatusCode::REQUEST_TIMEOUT,
                "body_timeout",
                format!("{what} did not arrive within {BODY_READ_TIMEOUT:?}"),
            ))
        }
        Ok(Err(e)) if e.is::<LengthLimitError>() => Err(too_large(server, what)),
        Ok(Err(e)) => Err(error(
            StatusCode::BAD_REQUEST,
            "body_unreadable",
            format!("the request body could not be read: {e}"),
        )),
    }
}

/// Runs `work` (an execution or a continuation) on its own task, holding `permit`: a caller
/// that hangs up does not cut a flow short half-way through its cache writes. Counts the
/// flow's result there, so an execution whose caller hung up counts too.
// The error is the handler's early answer, returned once per request: boxing it buys nothing.
#[allow(clippy::result_large_err)]
async fn run<E, F, Fut>(
    server: &Server,
    partition: &PartitionKey,
    flow: &crate::Flow,
    permit: tokio::sync::OwnedSemaphorePermit,
    work: F,
) -> Result<Result<FlowResult, E>, Response>
where
    E: Send + 'static,
    F: FnOnce(Server, PartitionKey) -> Fut + Send + 'static,
    Fut: Future<Output = Result<FlowResult, E>> + Send,
{
    let runner = server.clone();
    let task_partition = partition.clone();
    let series = Arc::clone(&flow.series);
    let task = tokio::spawn(async move {
        let _permit = permit;
        let _running = Running::start(runner.metrics());
        let result = work(runner.clone(), task_partition).await;
        if let Ok(result) = &result {
            runner
                .metrics()
                .execution(&series, result, runner.runtime().now_ms());
        }
        result
    });
    task.await.map_err(|join| {
        tracing::error!(partition = %partition, error = %join, "an execution task failed");
        error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "the execution stopped unexpectedly; it has been logged",
        )
    })
}

/// 200 with the flow's result; failed actions are logged by kind (their messages are the
/// actions' own text).
fn answer(partition: &PartitionKey, result: FlowResult) -> Response {
    for action in &result.actions {
        if let Some(failure) = &action.error {
            tracing::info!(
                tenant = %partition.tenant,
                trigger = %partition.trigger,
                action = %action.name,
                kind = ?failure.kind,
                "action failed"
            );
        }
    }
    axum::Json(result).into_response()
}

/// Keeps `cachet_inflight_executions` right even if an execution's task panics.
struct Running<'a>(&'a crate::Metrics);

impl<'a> Running<'a> {
    fn start(metrics: &'a crate::Metrics) -> Self {
        metrics.inflight.inc();
        Self(metrics)
    }
}

impl Drop for Running<'_> {
    fn drop(&mut self) {
        self.0.inflight.dec();
    }
}

async fn show_cache(
    State(server): State<Server>,
    Configured { partition, .. }: Configured,
) -> Response {
    let runtime = server.runtime();
    let limits = server.config().cache_limits;
    match cachet_runtime::inspect(
        runtime.store().as_ref(),
        &partition,
        &limits,
        runtime.now_ms(),
    )
    .await
    {
        Ok(report) => {
            server
                .metrics()
                .usage(&partition, report.usage.entries, report.usage.bytes);
            axum::Json(report).into_response()
        }
        Err(e) => store_unavailable(e),
    }
}

async fn purge_cache(
    State(server): State<Server>,
    Extension(grant): Extension<Arc<Grant>>,
    Configured { partition, .. }: Configured,
) -> Response {
    let store = server.runtime().store();
    let cleared = match store.usage(&partition).await {
        Ok(usage) => usage.entries,
        Err(e) => return store_unavailable(e),
    };
    if let Err(e) = store
        .restore(&partition, Vec::new(), server.runtime().now_ms())
        .await
    {
        return store_unavailable(e);
    }
    server.metrics().usage(&partition, 0, 0);
    tracing::info!(partition = %partition, cleared, token = %grant.name, "partition purged");
    axum::Json(json!({ "partition": partition.to_string(), "cleared": cleared })).into_response()
}

async fn delete_entry(
    State(server): State<Server>,
    Extension(grant): Extension<Arc<Grant>>,
    Configured { partition, .. }: Configured,
    Path(EntryKey { key }): Path<EntryKey>,
) -> Response {
    let store = server.runtime().store();
    match store
        .delete(&partition, &key, server.runtime().now_ms())
        .await
    {
        Ok(()) => {
            // The key is the action's data: not logged.
            tracing::info!(partition = %partition, token = %grant.name, "cache entry deleted");
            if let Ok(usage) = store.usage(&partition).await {
                server
                    .metrics()
                    .usage(&partition, usage.entries, usage.bytes);
            }
            axum::Json(json!({ "partition": partition.to_string(), "deleted": key }))
                .into_response()
        }
        Err(e @ CacheError::CacheKeyDoesNotExist) => error(
            StatusCode::NOT_FOUND,
            e.code(),
            format!("{partition} has no live entry with that key"),
        ),
        Err(e @ CacheError::CacheKeySizeExceeded { .. }) => {
            error(StatusCode::BAD_REQUEST, e.code(), e.to_string())
        }
        Err(e) => store_unavailable(format!("{}: {e}", e.code())),
    }
}

/// The `{key}` of `DELETE …/cache/{key}`.
#[derive(serde::Deserialize)]
struct EntryKey {
    key: String,
}

async fn list_flows(
    State(server): State<Server>,
    Extension(grant): Extension<Arc<Grant>>,
) -> Response {
    let flows = server.flows();
    let mut list: Vec<_> = flows
        .iter()
        .filter(|(partition, _)| grant.allows(&partition.tenant))
        .map(|(partition, flow)| {
            json!({
                "tenant": partition.tenant,
                "trigger": partition.trigger,
                "source": flow.source.as_str(),
                "actions": flow.actions.iter().map(|a| json!({
                    "name": a.name(),
                    "sha256": a.digest(),
                })).collect::<Vec<_>>(),
            })
        })
        .collect();
    list.sort_by(|a, b| {
        a["tenant"]
            .as_str()
            .cmp(&b["tenant"].as_str())
            .then_with(|| a["trigger"].as_str().cmp(&b["trigger"].as_str()))
    });
    axum::Json(json!({ "flows": list })).into_response()
}

async fn reload(State(server): State<Server>, Extension(grant): Extension<Arc<Grant>>) -> Response {
    tracing::info!(token = %grant.name, "reload requested");
    match server.reload().await {
        Ok(report) => axum::Json(json!({ "reloaded": report })).into_response(),
        Err(e) => error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "reload_refused",
            e.to_string(),
        ),
    }
}
