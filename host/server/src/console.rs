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

mod trial;

use std::sync::Arc;

use axum::extract::{Extension, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use cachet_runtime::{PartitionKey, Trigger};
use serde_json::{Value, json};

use crate::Server;
use crate::auth::Grant;
use crate::http::{Configured, Routes, error};
use crate::metrics::ACTIVITY_MINUTES;
use trial::Trial;

const HTML: &str = include_str!("console/console.html");
const CSS: &str = include_str!("console/console.css");
const JS: &str = include_str!("console/console.js");

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

/// The page and its files (open: they hold no data), the overview and test runs (behind the
/// token).
pub(crate) fn routes() -> Routes {
    Routes {
        open: Router::new()
            .route("/ui", get(page))
            .route("/ui/", get(page))
            .route("/ui/console.css", get(style))
            .route("/ui/console.js", get(script)),
        authenticated: Router::new()
            .route("/v1/console/overview", get(overview))
            .route("/v1/tenants/{tenant}/triggers/{trigger}/test", post(test)),
    }
}

async fn page() -> Response {
    asset("text/html; charset=utf-8", HTML)
}

async fn style() -> Response {
    asset("text/css; charset=utf-8", CSS)
}

async fn script() -> Response {
    asset("text/javascript; charset=utf-8", JS)
}

/// Everything the overview shows, in one request.
async fn overview(
    State(server): State<Server>,
    Extension(grant): Extension<Arc<Grant>>,
) -> Response {
    let config = server.config();
    let runtime = server.runtime();
    let now = runtime.now_ms();
    let flows = server.flows();
    // A token scoped to some tenants sees only theirs.
    let mut keys: Vec<&PartitionKey> = flows.keys().filter(|k| grant.allows(&k.tenant)).collect();
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
            "source": flow.source.as_str(),
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
        // Totals over every tenant: only for a token that may see them all.
        "egress": if grant.all_tenants() {
            json!({ "token_requests": token_requests, "requests": egress_requests })
        } else {
            Value::Null
        },
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

/// Runs the partition's flow on the test's event and answers with the result and the
/// partition before and after (see [`Trial`]).
async fn test(
    State(server): State<Server>,
    configured: Configured,
    body: Result<Json<trial::TestRun>, axum::extract::rejection::JsonRejection>,
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
    match Trial::new(server, configured, run).await {
        Ok(trial) => match trial.run().await {
            Ok(report) => Json(report).into_response(),
            Err(response) => response,
        },
        Err(response) => response,
    }
}
