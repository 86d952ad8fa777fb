//! The HTTP API: routes, bearer-token auth, and the mapping of every failure to a status and
//! a JSON error `{"error": {"code", "message"}}`.
//!
//! | Route | |
//! |---|---|
//! | `POST /v1/tenants/{tenant}/triggers/{trigger}/execute` | run the flow on the body (an event) |
//! | `GET /v1/tenants/{tenant}/triggers/{trigger}/cache` | the partition, values redacted |
//! | `DELETE /v1/tenants/{tenant}/triggers/{trigger}/cache` | purge the partition |
//! | `DELETE /v1/tenants/{tenant}/triggers/{trigger}/cache/{key}` | remove one entry |
//! | `GET /v1/flows` | the configured flows |
//! | `POST /v1/admin/reload` | re-read the config file |
//! | `GET /metrics` | Prometheus text |
//! | `GET /healthz`, `GET /readyz` | liveness and readiness, no auth |
//! | `GET /ui`, `GET /v1/console/overview`, `POST …/test` | the web console (see [`crate::console`]) |
//!
//! Request bodies, events, cache keys and values, and tokens are never logged.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{FromRequestParts, Path, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use cachet_host::{ExecuteError, PartitionKey, Trigger, UnknownTrigger};
use cachet_limits::{CacheError, LimitError};
use http_body_util::{BodyExt as _, LengthLimitError, Limited};
use serde_json::json;

use crate::{Flow, Server};

/// How long readiness waits for the store to answer.
const READY_PING_TIMEOUT: Duration = Duration::from_secs(1);

/// How long an event body may take to arrive. The execution slot is taken first (so bodies
/// in memory are bounded by `max_inflight`), so a slow upload must not hold it for long.
const BODY_READ_TIMEOUT: Duration = Duration::from_secs(10);

pub(crate) fn router(server: Server) -> Router {
    let partition = "/v1/tenants/{tenant}/triggers/{trigger}";
    let authed = Router::new()
        .route(&format!("{partition}/execute"), post(execute))
        .route(
            &format!("{partition}/cache"),
            get(show_cache).delete(purge_cache),
        )
        .route(&format!("{partition}/cache/{{key}}"), delete(delete_entry))
        .route(&format!("{partition}/test"), post(crate::console::test))
        .route("/v1/console/overview", get(crate::console::overview))
        .route("/v1/flows", get(list_flows))
        .route("/v1/admin/reload", post(reload))
        .route("/metrics", get(metrics))
        .route_layer(middleware::from_fn_with_state(
            server.clone(),
            require_token,
        ));
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/ui", get(crate::console::page))
        .route("/ui/", get(crate::console::page))
        .route("/ui/console.css", get(crate::console::style))
        .route("/ui/console.js", get(crate::console::script))
        .merge(authed)
        .fallback(not_found)
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(panicked))
        .with_state(server)
}

/// A JSON error with a stable `code` to branch on and a `message` for people.
pub(crate) fn error(status: StatusCode, code: &str, message: impl Into<String>) -> Response {
    let body = json!({ "error": { "code": code, "message": message.into() } });
    (status, axum::Json(body)).into_response()
}

/// A 404 for a path naming no configured partition (small, unlike a `Response`).
struct NotFound {
    code: &'static str,
    message: String,
}

impl IntoResponse for NotFound {
    fn into_response(self) -> Response {
        error(StatusCode::NOT_FOUND, self.code, self.message)
    }
}

fn panicked(_: Box<dyn std::any::Any + Send + 'static>) -> Response {
    tracing::error!("a request handler panicked; the service keeps running");
    error(
        StatusCode::INTERNAL_SERVER_ERROR,
        "internal",
        "the service failed on this request; it has been logged",
    )
}

async fn not_found() -> Response {
    error(
        StatusCode::NOT_FOUND,
        "no_route",
        "no such endpoint; see /v1/tenants/{tenant}/triggers/{trigger}/execute",
    )
}

async fn require_token(State(server): State<Server>, request: Request, next: Next) -> Response {
    let config = server.config();
    if let Some(tokens) = &config.auth {
        let presented = request
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| {
                // The scheme name is case-insensitive (RFC 9110 §11.1).
                let (scheme, token) = v.split_once(' ')?;
                scheme.eq_ignore_ascii_case("bearer").then_some(token)
            })
            .map(str::trim);
        let accepted = presented.is_some_and(|t| tokens.accepts(t));
        if !accepted {
            if request.uri().path().ends_with("/execute") {
                server.metrics().rejected("unauthorized");
            }
            let message = if presented.is_some() {
                "the bearer token is not valid"
            } else {
                "send `Authorization: Bearer <token>` with one of the service's API tokens"
            };
            let mut response = error(StatusCode::UNAUTHORIZED, "unauthorized", message);
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"cachet\""),
            );
            return response;
        }
    }
    next.run(request).await
}

/// The configured partition named by the path and its flow, or the 404 to answer.
fn partition(
    server: &Server,
    tenant: String,
    trigger: &str,
) -> Result<(PartitionKey, Flow), NotFound> {
    let trigger: Trigger = trigger
        .parse()
        .map_err(|unknown: UnknownTrigger| NotFound {
            code: "unknown_trigger",
            message: unknown.to_string(),
        })?;
    let key = PartitionKey::new(tenant, trigger);
    match server.flow(&key) {
        Some(flow) => Ok((key, flow)),
        None => Err(NotFound {
            code: "no_flow",
            message: format!(
                "tenant `{}` has no {} actions in this service's configuration",
                key.tenant, key.trigger
            ),
        }),
    }
}

/// The configured partition a route's `{tenant}` and `{trigger}` name, with its flow; a path
/// naming none is answered 404 before the handler runs.
pub(crate) struct Configured {
    pub(crate) partition: PartitionKey,
    pub(crate) flow: Flow,
}

impl FromRequestParts<Server> for Configured {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, server: &Server) -> Result<Self, Response> {
        #[derive(serde::Deserialize)]
        struct Names {
            tenant: String,
            trigger: String,
        }
        let Path(names) = Path::<Names>::from_request_parts(parts, server)
            .await
            .map_err(IntoResponse::into_response)?;
        match partition(server, names.tenant, &names.trigger) {
            Ok((partition, flow)) => Ok(Self { partition, flow }),
            Err(not_found) => {
                if parts.uri.path().ends_with("/execute") {
                    server.metrics().rejected("not-found");
                }
                Err(not_found.into_response())
            }
        }
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

pub(crate) fn store_unavailable(e: impl std::fmt::Display) -> Response {
    error(
        StatusCode::SERVICE_UNAVAILABLE,
        "store_unavailable",
        format!("{e}; retry when the store is back"),
    )
}

async fn show_cache(
    State(server): State<Server>,
    Configured { partition, .. }: Configured,
) -> Response {
    let runtime = server.runtime();
    let limits = server.config().cache_limits;
    match cachet_host::inspect(
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

async fn metrics(State(server): State<Server>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        server.metrics().encode(),
    )
        .into_response()
}

async fn healthz() -> Response {
    axum::Json(json!({ "status": "ok" })).into_response()
}

async fn readyz(State(server): State<Server>) -> Response {
    if server.shared.stopping.load(Ordering::SeqCst) {
        return error(
            StatusCode::SERVICE_UNAVAILABLE,
            "shutting_down",
            "the service is shutting down",
        );
    }
    let ping = tokio::time::timeout(READY_PING_TIMEOUT, server.runtime().store().ping()).await;
    let why = match ping {
        Ok(Ok(())) => {
            let flows = server.flows();
            let actions: usize = flows.values().map(|f| f.actions.len()).sum();
            return axum::Json(
                json!({ "status": "ready", "flows": flows.len(), "actions": actions }),
            )
            .into_response();
        }
        Ok(Err(e)) => e.to_string(),
        Err(_) => format!("no answer within {READY_PING_TIMEOUT:?}"),
    };
    // The detail (the store's address, its error) is for the operator's log, not for
    // whoever can reach this unauthenticated endpoint.
    tracing::warn!(error = %why, "not ready: the cache store does not answer");
    error(
        StatusCode::SERVICE_UNAVAILABLE,
        "store_unavailable",
        "the cache store does not answer; see the service's log",
    )
}
