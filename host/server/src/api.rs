//! The partition API, behind the bearer token: execute a flow, inspect and purge a
//! partition, list the flows, reload the config. Every failure maps to a status and a JSON
//! error (see [`crate::http::error`]).
//!
//! | Route | |
//! |---|---|
//! | `POST /v1/tenants/{tenant}/triggers/{trigger}/execute` | run the flow on the body (an event) |
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
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use cachet_limits::{CacheError, LimitError};
use cachet_runtime::ExecuteError;
use http_body_util::{BodyExt as _, LengthLimitError, Limited};
use serde_json::json;

use crate::Server;
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
    // Never queue without bound: beyond max_inflight the caller is told to come back.
    let Ok(permit) = Arc::clone(&server.shared.inflight).try_acquire_owned() else {
        metrics.rejected("overloaded");
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
        return response;
    };
    let max = server.runtime().execution_limits().max_event_bytes;
    let too_large = || {
        metrics.rejected("too-large");
        error(
            StatusCode::PAYLOAD_TOO_LARGE,
            "event_too_large",
            format!("the event is larger than {max} bytes (execution_limits.max_event_bytes)"),
        )
    };
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > max as u64) {
        return too_large();
    }
    let read = tokio::time::timeout(BODY_READ_TIMEOUT, Limited::new(body, max).collect()).await;
    let bytes: Bytes = match read {
        Ok(Ok(collected)) => collected.to_bytes(),
        Err(_elapsed) => {
            metrics.rejected("bad-request");
            return error(
                StatusCode::REQUEST_TIMEOUT,
                "body_timeout",
                format!("the event did not arrive within {BODY_READ_TIMEOUT:?}"),
            );
        }
        Ok(Err(e)) => {
            return if e.is::<LengthLimitError>() {
                too_large()
            } else {
                error(
                    StatusCode::BAD_REQUEST,
                    "body_unreadable",
                    format!("the request body could not be read: {e}"),
                )
            };
        }
    };
    let Ok(event) = String::from_utf8(bytes.to_vec()) else {
        metrics.rejected("bad-request");
        return error(
            StatusCode::BAD_REQUEST,
            "event_not_json",
            "the event is not valid JSON: it is not UTF-8",
        );
    };
    // The execution runs on its own task: a caller that hangs up does not cut a flow short
    // half-way through its cache writes.
    let runner = server.clone();
    let task_partition = partition.clone();
    let actions = Arc::clone(&flow.actions);
    let task = tokio::spawn(async move {
        let _permit = permit;
        let _running = Running::start(runner.metrics());
        let result = runner
            .runtime()
            .execute_actions(
                &task_partition.tenant,
                task_partition.trigger,
                &actions,
                &event,
            )
            .await;
        // Counted here, not in the handler, so an execution whose caller hung up counts too.
        if let Ok(result) = &result {
            runner
                .metrics()
                .execution(&flow.series, result, runner.runtime().now_ms());
        }
        result
    });
    let result = match task.await {
        Ok(result) => result,
        Err(join) => {
            tracing::error!(partition = %partition, error = %join, "an execution task failed");
            return error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "the execution stopped unexpectedly; it has been logged",
            );
        }
    };
    match result {
        Ok(result) => {
            for action in &result.actions {
                if let Some(failure) = &action.error {
                    // The kind only: the message is the action's own text.
                    tracing::info!(
                        tenant = %partition.tenant,
                        trigger = %partition.trigger,
                        action = %action.name,
                        kind = ?failure.kind,
                        "action failed"
                    );
                }
            }
            let mut response = axum::Json(result).into_response();
            *response.status_mut() = StatusCode::OK;
            response
        }
        Err(ExecuteError::EventNotJson(message)) => {
            metrics.rejected("bad-request");
            error(
                StatusCode::BAD_REQUEST,
                "event_not_json",
                format!("the event is not valid JSON: {message}"),
            )
        }
        Err(ExecuteError::EventNotObject) => {
            metrics.rejected("bad-request");
            error(
                StatusCode::BAD_REQUEST,
                "event_not_object",
                "the event must be a JSON object",
            )
        }
        Err(ExecuteError::Limit(LimitError::EventTooLarge { .. })) => too_large(),
        Err(e) => {
            tracing::error!(partition = %partition, error = %e, "the flow could not run");
            error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "flow_invalid",
                e.to_string(),
            )
        }
    }
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
    tracing::info!(partition = %partition, cleared, "partition purged");
    axum::Json(json!({ "partition": partition.to_string(), "cleared": cleared })).into_response()
}

async fn delete_entry(
    State(server): State<Server>,
    Configured { partition, .. }: Configured,
    Path(EntryKey { key }): Path<EntryKey>,
) -> Response {
    let store = server.runtime().store();
    match store
        .delete(&partition, &key, server.runtime().now_ms())
        .await
    {
        Ok(()) => {
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

async fn list_flows(State(server): State<Server>) -> Response {
    let flows = server.flows();
    let mut list: Vec<_> = flows
        .iter()
        .map(|(partition, flow)| {
            json!({
                "tenant": partition.tenant,
                "trigger": partition.trigger,
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

async fn reload(State(server): State<Server>) -> Response {
    match server.reload().await {
        Ok(report) => axum::Json(json!({ "reloaded": report })).into_response(),
        Err(e) => error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "reload_refused",
            e.to_string(),
        ),
    }
}
