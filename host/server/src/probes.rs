//! Liveness and readiness for load balancers and orchestrators, without a token:
//! `GET /healthz` (the process answers) and `GET /readyz` (the store answers and the service
//! is not shutting down). Neither says more than that to whoever can reach it.

use std::sync::atomic::Ordering;
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::json;

use crate::Server;
use crate::http::{Routes, error};

/// How long readiness waits for the store to answer.
const READY_PING_TIMEOUT: Duration = Duration::from_secs(1);

/// `/healthz` and `/readyz`, both open.
pub(crate) fn routes() -> Routes {
    Routes {
        open: Router::new()
            .route("/healthz", get(healthz))
            .route("/readyz", get(readyz)),
        authenticated: Router::new(),
    }
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
