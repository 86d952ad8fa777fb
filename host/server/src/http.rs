//! What every route group shares: the JSON error answer `{"error": {"code", "message"}}`, the
//! [`Configured`] extractor that turns a route's `{tenant}` and `{trigger}` into a configured
//! partition (or a 404 before the handler runs), and [`Routes`], the shape in which each group
//! (`api`, `console`, `metrics`, `probes`) hands its routes to [`crate::Server::router`].
//!
//! Handlers answer errors through [`error`] only, so every failure has a stable `code` to
//! branch on and a `message` for people.

use axum::Router;
use axum::extract::{FromRequestParts, Path};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use cachet_runtime::{PartitionKey, Trigger, UnknownTrigger};
use serde_json::json;

use crate::{Flow, Server};

/// The routes one group contributes: those anyone may call, and those behind the bearer
/// token (the router adds the token check to these, once, for every group).
#[derive(Default)]
pub(crate) struct Routes {
    /// No token needed (the console's static page, health and readiness).
    pub(crate) open: Router<Server>,
    /// Behind `Authorization: Bearer …` when the service has `[auth]`.
    pub(crate) authenticated: Router<Server>,
}

/// A JSON error with a stable `code` to branch on and a `message` for people.
pub(crate) fn error(status: StatusCode, code: &str, message: impl Into<String>) -> Response {
    let body = json!({ "error": { "code": code, "message": message.into() } });
    (status, axum::Json(body)).into_response()
}

/// The store failed: 503, and the caller may retry.
pub(crate) fn store_unavailable(e: impl std::fmt::Display) -> Response {
    error(
        StatusCode::SERVICE_UNAVAILABLE,
        "store_unavailable",
        format!("{e}; retry when the store is back"),
    )
}

/// A handler panicked (a bug): 500, logged, and the service keeps running.
pub(crate) fn panicked(_: Box<dyn std::any::Any + Send + 'static>) -> Response {
    tracing::error!("a request handler panicked; the service keeps running");
    error(
        StatusCode::INTERNAL_SERVER_ERROR,
        "internal",
        "the service failed on this request; it has been logged",
    )
}

/// The answer for a path no group routes.
pub(crate) async fn not_found() -> Response {
    error(
        StatusCode::NOT_FOUND,
        "no_route",
        "no such endpoint; see /v1/tenants/{tenant}/triggers/{trigger}/execute",
    )
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
                "tenant `{}` has no {} actions (none in the config file, none bound through \
                 the deployment API)",
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
