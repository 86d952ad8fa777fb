//! Actions deployed through the API, shared by every replica through the deployment store
//! ([`cachet_deploy::DeployStore`]: Redis for replicas, a directory or memory for one host).
//!
//! | Route | role | |
//! |---|---|---|
//! | `PUT /v1/tenants/{tenant}/actions/{action}?trigger=…` | deploy | upload a component (`application/wasm`) as a new version |
//! | `GET /v1/tenants/{tenant}/actions` | read | the tenant's deployed actions |
//! | `GET /v1/tenants/{tenant}/actions/{action}/versions` | read | its versions, oldest first, and the deployed one |
//! | `POST /v1/tenants/{tenant}/actions/{action}/deploy` | deploy | `{"version": "…"}`: deploy (or roll back to) a version |
//! | `GET /v1/tenants/{tenant}/triggers/{trigger}/bindings` | read | the actions the trigger runs |
//! | `PUT /v1/tenants/{tenant}/triggers/{trigger}/bindings` | deploy | `{"actions": ["a", "b"]}`: set them, in order |
//!
//! An upload is checked before anything is stored: its size, that it is a component exporting
//! the trigger's entry point and importing only what the trigger provides (it is compiled, as
//! it will run), that its secret references name secrets its tenant has, and that any
//! private or plain-HTTP host it asks for is one the operator granted the tenant
//! (`[deploy.tenants.NAME]`: a deploy token alone cannot open the service's own network). The upload's query carries its settings: `trigger`,
//! `allow_hosts`, `allow_private_hosts`, `plain_http_hosts` (comma-separated), `secrets`
//! (`NAME` or `NAME=TENANT_SECRET`, comma-separated), `instance` (`fresh` or `warm`) and
//! `language` (what it was built from, for the console).
//!
//! Every replica checks the store's generation every `[deploy] poll_ms` (default 500 ms) and,
//! when it moved, reads the deployed versions and bindings, loads what it has not loaded yet
//! (compiled components come from memory or `compiled_cache_dir`, by content hash) and swaps
//! its deployed flows in at once; the replica that took a change applies it before answering.
//! An execution keeps the flow it started with. Where a tenant's trigger has both a flow in
//! the config file and a binding through the API, **the binding wins** (it is the later,
//! deliberate choice); the flow list says which source each flow comes from.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use axum::Json;
use axum::body::{Body, Bytes};
use axum::extract::{DefaultBodyLimit, Extension, Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use cachet_deploy::{DeployStore, DeployStoreError, Settings, Snapshot, VersionMeta};
use cachet_runtime::{Action, ActionConfig, InstanceMode, PartitionKey, Trigger, WarmOptions};
use http_body_util::{BodyExt as _, LengthLimitError, Limited};
use serde::Deserialize;
use serde_json::json;

use crate::auth::Grant;
use crate::config::{TenantGrants, valid_name};
use crate::http::{Routes, error};
use crate::{Flow, FlowSource, Flows, Server};

/// How long a component upload may take to arrive.
const UPLOAD_READ_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);

/// The deployment routes, all authenticated.
pub(crate) fn routes() -> Routes {
    Routes {
        open: axum::Router::new(),
        authenticated: axum::Router::new()
            .route(
                "/v1/tenants/{tenant}/actions/{action}",
                // The body is bounded by the module limit here, not axum's 2 MB default.
                put(upload).layer(DefaultBodyLimit::disable()),
            )
            .route("/v1/tenants/{tenant}/actions", get(list_actions))
            .route(
                "/v1/tenants/{tenant}/actions/{action}/versions",
                get(versions),
            )
            .route("/v1/tenants/{tenant}/actions/{action}/deploy", post(deploy))
            .route(
                "/v1/tenants/{tenant}/triggers/{trigger}/bindings",
                get(show_bindings).put(set_bindings),
            ),
    }
}

/// The replica's view of the deployment store: what it loaded, at which generation.
pub(crate) struct Deployments {
    pub(crate) store: Arc<dyn DeployStore>,
    loaded: tokio::sync::Mutex<Loaded>,
    /// The last refresh failure, so a store that stays down is logged when it changes, not on
    /// every poll.
    last_failure: std::sync::Mutex<Option<String>>,
    /// Uploads are read and compiled one at a time: each holds up to `max_module_bytes` and
    /// takes a core for up to seconds.
    uploading: Arc<tokio::sync::Semaphore>,
}

#[derive(Default)]
struct Loaded {
    generation: Option<u64>,
    /// (tenant, action, version) → the loaded action and its language, kept across refreshes.
    actions: HashMap<(String, String, String), (Action, &'static str)>,
}

impl Deployments {
    pub(crate) fn new(store: Arc<dyn DeployStore>) -> Self {
        Self {
            store,
            loaded: tokio::sync::Mutex::new(Loaded::default()),
            last_failure: std::sync::Mutex::new(None),
            uploading: Arc::new(tokio::sync::Semaphore::new(1)),
        }
    }
}

/// Why deployed flows could not be refreshed.
#[derive(Debug, thiserror::Error)]
pub enum RefreshError {
    /// The deployment store could not be read.
    #[error(transparent)]
    Store(#[from] DeployStoreError),
    /// Some deployed flows could not be loaded on this replica (they keep the flow they had,
    /// and are tried again on the next poll).
    #[error("deployed flows this replica cannot load (they keep their previous flow): {0}")]
    Unloadable(String),
}

/// A language name from what the uploader said (for the console).
fn language(said: Option<&str>) -> &'static str {
    match said {
        Some("javascript") => "javascript",
        Some("typescript") => "typescript",
        _ => "wasm",
    }
}

/// The runtime's settings for a deployed version: its allow-list, and its secret references
/// resolved from its tenant's `[deploy.tenants.NAME]` on this replica. Private and plain-HTTP
/// hosts must be ones the operator granted the tenant there.
fn action_config(
    meta: &VersionMeta,
    tenants: &BTreeMap<String, TenantGrants>,
) -> Result<ActionConfig, String> {
    let none = TenantGrants::default();
    let grants = tenants.get(&meta.tenant).unwrap_or(&none);
    let mut secrets = BTreeMap::new();
    for (name, reference) in &meta.settings.secrets {
        let value = grants.secrets.get(reference).ok_or_else(|| {
            format!(
                "secret `{name}` refers to `{reference}`, which tenant `{}` does not have in \
                 [deploy.tenants.{}] secrets of this service's config",
                meta.tenant, meta.tenant
            )
        })?;
        secrets.insert(name.clone(), value.clone());
    }
    let s = &meta.settings;
    for (asked, granted, what) in [
        (
            &s.allow_private_hosts,
            &grants.private_hosts,
            "private_hosts",
        ),
        (
            &s.plain_http_hosts,
            &grants.plain_http_hosts,
            "plain_http_hosts",
        ),
    ] {
        if let Some(host) = asked.iter().find(|h| !granted.contains(h)) {
            return Err(format!(
                "`{host}` is not in [deploy.tenants.{}] {what} of this service's config: a \
                 deployed action reaches private or plain-HTTP hosts only where the operator \
                 granted its tenant",
                meta.tenant
            ));
        }
    }
    Ok(ActionConfig {
        secrets,
        allowed_hosts: s
            .allow_hosts
            .iter()
            .chain(&s.allow_private_hosts)
            .cloned()
            .collect(),
        allowed_private_hosts: s.allow_private_hosts.clone(),
        plain_http_hosts: s.plain_http_hosts.clone(),
        instance: match s.instance.as_deref() {
            Some("warm") => InstanceMode::Warm(WarmOptions::default()),
            _ => InstanceMode::Fresh,
        },
    })
}

impl Server {
    /// Compiles and links `component` as `meta` says, off the async workers. `turn` (an
    /// upload's compile permit) is held until compiling ends, even if the caller is gone.
    async fn load_version(
        &self,
        meta: &VersionMeta,
        component: Bytes,
        turn: Option<tokio::sync::OwnedSemaphorePermit>,
    ) -> Result<Action, String> {
        let trigger: Trigger = meta.trigger.parse().map_err(|e| format!("{e}"))?;
        let config = action_config(meta, &self.config().deploy.tenants)?;
        let runtime = self.runtime().clone();
        let name = meta.action.clone();
        tokio::task::spawn_blocking(move || {
            let _turn = turn;
            runtime.load_action(&name, trigger, &component, config)
        })
        .await
        .map_err(|e| format!("compiling stopped unexpectedly: {e}"))?
        .map_err(|e| e.to_string())
    }

    /// Forgets what this replica loaded, so the next refresh loads every deployed version
    /// again (after a reload changed the tenants' secrets or grants).
    pub(crate) async fn forget_deployments(&self) {
        let mut loaded = self.shared.deployments.loaded.lock().await;
        *loaded = Loaded::default();
    }

    /// Reads the deployment store if its generation moved and swaps in the deployed flows;
    /// `true` when something was read. A binding that cannot be loaded on this replica (a
    /// version missing, a secret this replica lacks) keeps the flow it had, and is logged.
    pub async fn refresh_deployments(&self) -> Result<bool, RefreshError> {
        let deployments = &self.shared.deployments;
        let mut loaded = deployments.loaded.lock().await;
        let generation = deployments.store.generation().await?;
        if loaded.generation == Some(generation) {
            return Ok(false);
        }
        let snapshot = deployments.store.snapshot().await?;
        let previous = self.deployed_flows();
        let mut flows = Flows::with_capacity(snapshot.bindings.len());
        let mut keep = HashMap::new();
        let mut failed = Vec::new();
        for binding in &snapshot.bindings {
            let Ok(trigger) = binding.trigger.parse::<Trigger>() else {
                tracing::error!(tenant = %binding.tenant, trigger = %binding.trigger, "a binding names an unknown trigger; skipped");
                continue;
            };
            let partition = PartitionKey::new(binding.tenant.clone(), trigger);
            match self
                .deployed_flow(
                    &snapshot,
                    &binding.actions,
                    &partition,
                    &mut loaded,
                    &mut keep,
                )
                .await
            {
                Ok(flow) => {
                    flows.insert(partition, flow);
                }
                Err(why) => {
                    failed.push(format!("{partition}: {why}"));
                    if let Some(flow) = previous.get(&partition) {
                        flows.insert(partition, flow.clone());
                    }
                }
            }
        }
        // Versions no longer bound are dropped (their instances with them); a flow kept from
        // before, and every flow an execution holds, keeps its actions alive by itself.
        loaded.actions = keep;
        // A binding that could not be loaded is tried again on the next poll.
        loaded.generation = failed.is_empty().then_some(snapshot.generation);
        tracing::info!(
            generation = snapshot.generation,
            flows = flows.len(),
            "deployed flows refreshed"
        );
        *self
            .shared
            .deployed
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Arc::new(flows);
        self.publish();
        if failed.is_empty() {
            Ok(true)
        } else {
            Err(RefreshError::Unloadable(failed.join("; ")))
        }
    }

    /// One binding's flow, loading each action's deployed version unless loaded already.
    async fn deployed_flow(
        &self,
        snapshot: &Snapshot,
        names: &[String],
        partition: &PartitionKey,
        loaded: &mut Loaded,
        keep: &mut HashMap<(String, String, String), (Action, &'static str)>,
    ) -> Result<Flow, String> {
        let mut actions = Vec::with_capacity(names.len());
        let mut languages = Vec::with_capacity(names.len());
        for name in names {
            let deployed = snapshot
                .deployed
                .iter()
                .find(|d| d.tenant == partition.tenant && &d.action == name)
                .ok_or_else(|| format!("action `{name}` has no deployed version"))?;
            let key = (
                partition.tenant.clone(),
                name.clone(),
                deployed.version.clone(),
            );
            let entry = match loaded.actions.get(&key).or_else(|| keep.get(&key)) {
                Some(entry) => entry.clone(),
                None => {
                    let store = &self.shared.deployments.store;
                    let missing = || format!("version {} of `{name}` is not stored", key.2);
                    let meta = store
                        .version(&key.0, name, &key.2)
                        .await
                        .map_err(|e| e.to_string())?
                        .ok_or_else(missing)?;
                    let component = store
                        .component(&key.0, name, &key.2)
                        .await
                        .map_err(|e| e.to_string())?
                        .ok_or_else(missing)?;
                    let action = self.load_version(&meta, component.into(), None).await?;
                    (action, language(meta.language.as_deref()))
                }
            };
            keep.insert(key, entry.clone());
            actions.push(entry.0);
            languages.push(entry.1);
        }
        self.runtime()
            .check_flow(partition.trigger, &actions)
            .map_err(|e| e.to_string())?;
        let names: Vec<&str> = actions.iter().map(Action::name).collect();
        Ok(Flow {
            series: Arc::new(self.metrics().partition(partition, &names)),
            actions: actions.into(),
            languages: languages.into(),
            source: FlowSource::Deployed,
        })
    }

    /// [`Server::refresh_deployments`], its failure logged once until it changes.
    pub(crate) async fn refresh_logged(&self) {
        let failure = self
            .refresh_deployments()
            .await
            .err()
            .map(|e| e.to_string());
        let mut last = self
            .shared
            .deployments
            .last_failure
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if *last != failure {
            match &failure {
                Some(e) => {
                    tracing::warn!(error = %e, "deployments could not be refreshed; the current flows stay")
                }
                None => tracing::info!("deployments refreshed again"),
            }
            *last = failure;
        }
    }

    /// The deployment store.
    fn deploy_store(&self) -> &Arc<dyn DeployStore> {
        &self.shared.deployments.store
    }
}

/// A deployment store failure: 503, retry later.
fn unavailable(e: &DeployStoreError) -> Response {
    error(
        StatusCode::SERVICE_UNAVAILABLE,
        "deploy_store_unavailable",
        e.to_string(),
    )
}

/// The names in a path, checked.
#[derive(Deserialize)]
struct ActionPath {
    tenant: String,
    action: String,
}

/// The 400 for the first of `names` that is not usable, if any.
fn bad_name(names: &[(&str, &str)]) -> Option<Response> {
    names
        .iter()
        .find(|(_, name)| !valid_name(name))
        .map(|(what, name)| {
            error(
                StatusCode::BAD_REQUEST,
                "bad_name",
                format!("{what} {name:?}: use 1 to 128 ASCII letters, digits, `-`, `_` or `.`"),
            )
        })
}

/// A comma-separated list, empty items dropped.
fn list(text: Option<&str>) -> Vec<String> {
    text.unwrap_or("")
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

/// An upload's settings, from its query.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UploadQuery {
    trigger: Option<String>,
    allow_hosts: Option<String>,
    allow_private_hosts: Option<String>,
    plain_http_hosts: Option<String>,
    secrets: Option<String>,
    instance: Option<String>,
    language: Option<String>,
}

fn bad(code: &str, message: impl Into<String>) -> Response {
    error(StatusCode::BAD_REQUEST, code, message)
}

async fn upload(
    State(server): State<Server>,
    Extension(grant): Extension<Arc<Grant>>,
    Path(ActionPath { tenant, action }): Path<ActionPath>,
    query: Result<Query<UploadQuery>, axum::extract::rejection::QueryRejection>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    if let Some(response) = bad_name(&[("tenant", &tenant), ("action", &action)]) {
        return response;
    }
    let Query(query) = match query {
        Ok(q) => q,
        Err(e) => {
            return bad(
                "bad_upload",
                format!(
                    "{}; the query takes trigger, allow_hosts, allow_private_hosts, \
                     plain_http_hosts, secrets, instance and language",
                    e.body_text()
                ),
            );
        }
    };
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !content_type.starts_with("application/wasm") {
        return error(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "not_wasm",
            "send the component as the body with `Content-Type: application/wasm` (build \
             JavaScript first: `cachet deploy` does)",
        );
    }
    let Some(trigger_name) = query.trigger.as_deref() else {
        return bad(
            "no_trigger",
            "say which trigger the action is for: ?trigger=post-login (or another trigger)",
        );
    };
    let trigger: Trigger = match trigger_name.parse() {
        Ok(t) => t,
        Err(e) => return bad("unknown_trigger", format!("{e}")),
    };
    let instance = query.instance.as_deref().unwrap_or("fresh");
    if !matches!(instance, "fresh" | "warm") {
        return bad(
            "bad_instance",
            format!("instance={instance:?}: use `fresh` or `warm`"),
        );
    }
    let mut secrets = BTreeMap::new();
    for item in list(query.secrets.as_deref()) {
        let (name, reference) = item.split_once('=').unwrap_or((&item, &item));
        secrets.insert(name.trim().to_owned(), reference.trim().to_owned());
    }
    let settings = Settings {
        allow_hosts: list(query.allow_hosts.as_deref()),
        allow_private_hosts: list(query.allow_private_hosts.as_deref()),
        plain_http_hosts: list(query.plain_http_hosts.as_deref()),
        secrets,
        instance: Some(instance.to_owned()),
    };
    let config = server.config();
    let max = config.execution_limits.max_module_bytes;
    // One upload in memory and compiling at a time; the permit goes with the compile.
    let Ok(turn) = Arc::clone(&server.shared.deployments.uploading)
        .acquire_owned()
        .await
    else {
        return error(
            StatusCode::SERVICE_UNAVAILABLE,
            "shutting_down",
            "the service is stopping",
        );
    };
    // A slow upload is cut off: it must not hold a connection for long.
    let reading = tokio::time::timeout(UPLOAD_READ_TIMEOUT, Limited::new(body, max).collect());
    let Ok(read) = reading.await else {
        return error(
            StatusCode::REQUEST_TIMEOUT,
            "upload_timeout",
            format!("the component did not arrive within {UPLOAD_READ_TIMEOUT:?}"),
        );
    };
    let bytes: Bytes = match read {
        Ok(collected) => collected.to_bytes(),
        Err(e) if e.downcast_ref::<LengthLimitError>().is_some() => {
            return error(
                StatusCode::PAYLOAD_TOO_LARGE,
                "component_too_large",
                format!("the component is over {max} bytes ([execution_limits] max_module_bytes)"),
            );
        }
        Err(e) => return bad("bad_body", format!("the body could not be read: {e}")),
    };
    let created_at = server.runtime().now_ms();
    let mut meta = VersionMeta::new(
        &tenant,
        &action,
        trigger.as_str(),
        settings,
        &bytes,
        &grant.name,
        created_at,
    );
    meta.language = query
        .language
        .as_deref()
        .map(|l| language(Some(l)).to_owned());
    // Checked as it will run: compiled and linked against the trigger, secrets resolved.
    let compiled = server.load_version(&meta, bytes.clone(), Some(turn)).await;
    if let Err(why) = compiled {
        return bad("invalid_component", why);
    }
    match server.deploy_store().put_version(&meta, &bytes).await {
        Ok(created) => {
            tracing::info!(
                tenant = %tenant,
                action = %action,
                version = %meta.version,
                created,
                token = %grant.name,
                "action version uploaded"
            );
            let status = if created {
                StatusCode::CREATED
            } else {
                StatusCode::OK
            };
            (status, Json(json!({ "created": created, "version": meta }))).into_response()
        }
        Err(e) => unavailable(&e),
    }
}

async fn list_actions(State(server): State<Server>, Path(tenant): Path<String>) -> Response {
    match server.deploy_store().snapshot().await {
        Ok(snapshot) => {
            let deployed: Vec<_> = snapshot
                .deployed
                .into_iter()
                .filter(|d| d.tenant == tenant)
                .collect();
            Json(json!({ "tenant": tenant, "deployed": deployed })).into_response()
        }
        Err(e) => unavailable(&e),
    }
}

async fn versions(
    State(server): State<Server>,
    Path(ActionPath { tenant, action }): Path<ActionPath>,
) -> Response {
    let store = server.deploy_store();
    let (versions, snapshot) = match (
        store.versions(&tenant, &action).await,
        store.snapshot().await,
    ) {
        (Ok(v), Ok(s)) => (v, s),
        (Err(e), _) | (_, Err(e)) => return unavailable(&e),
    };
    if versions.is_empty() {
        return error(
            StatusCode::NOT_FOUND,
            "no_action",
            format!(
                "tenant `{tenant}` has no action `{action}`; upload one with PUT …/actions/{action}"
            ),
        );
    }
    let deployed = snapshot
        .deployed
        .into_iter()
        .find(|d| d.tenant == tenant && d.action == action);
    Json(json!({ "tenant": tenant, "action": action, "deployed": deployed, "versions": versions }))
        .into_response()
}

/// `POST …/deploy`'s body.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DeployRequest {
    version: String,
}

async fn deploy(
    State(server): State<Server>,
    Extension(grant): Extension<Arc<Grant>>,
    Path(ActionPath { tenant, action }): Path<ActionPath>,
    body: Result<Json<DeployRequest>, axum::extract::rejection::JsonRejection>,
) -> Response {
    let Json(DeployRequest { version }) = match body {
        Ok(b) => b,
        Err(e) => {
            return bad(
                "bad_deploy",
                format!("{}; send {{\"version\": \"…\"}}", e.body_text()),
            );
        }
    };
    let store = server.deploy_store();
    // Only to say what was deployed before; the store checks the triggers itself.
    let previous = match store.snapshot().await {
        Ok(snapshot) => snapshot
            .deployed
            .into_iter()
            .find(|d| d.tenant == tenant && d.action == action)
            .map(|d| d.version),
        Err(e) => return unavailable(&e),
    };
    let deployed = store
        .deploy(
            &tenant,
            &action,
            &version,
            &grant.name,
            server.runtime().now_ms(),
        )
        .await;
    match deployed {
        Ok(()) => {}
        // A version for another trigger would break the flows the action is bound into.
        Err(e @ DeployStoreError::TriggerMismatch { .. }) => {
            return error(StatusCode::CONFLICT, "trigger_mismatch", e.to_string());
        }
        Err(e @ DeployStoreError::NoSuchVersion { .. }) => {
            return error(StatusCode::NOT_FOUND, "no_version", e.to_string());
        }
        Err(e) => return unavailable(&e),
    }
    tracing::info!(
        tenant = %tenant,
        action = %action,
        version = %version,
        previous = previous.as_deref().unwrap_or("none"),
        token = %grant.name,
        "action deployed"
    );
    // Live on this replica before the answer; the others follow within a poll.
    server.refresh_logged().await;
    Json(json!({ "tenant": tenant, "action": action, "deployed": version, "previous": previous }))
        .into_response()
}

/// The names in a bindings path.
#[derive(Deserialize)]
struct BindingPath {
    tenant: String,
    trigger: String,
}

async fn show_bindings(
    State(server): State<Server>,
    Path(BindingPath { tenant, trigger }): Path<BindingPath>,
) -> Response {
    match server.deploy_store().snapshot().await {
        Ok(snapshot) => {
            let actions = snapshot
                .bindings
                .into_iter()
                .find(|b| b.tenant == tenant && b.trigger == trigger)
                .map(|b| b.actions)
                .unwrap_or_default();
            Json(json!({ "tenant": tenant, "trigger": trigger, "actions": actions }))
                .into_response()
        }
        Err(e) => unavailable(&e),
    }
}

/// `PUT …/bindings`'s body.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BindingsRequest {
    actions: Vec<String>,
}

async fn set_bindings(
    State(server): State<Server>,
    Extension(grant): Extension<Arc<Grant>>,
    Path(BindingPath { tenant, trigger }): Path<BindingPath>,
    body: Result<Json<BindingsRequest>, axum::extract::rejection::JsonRejection>,
) -> Response {
    let Json(BindingsRequest { actions }) = match body {
        Ok(b) => b,
        Err(e) => {
            return bad(
                "bad_bindings",
                format!("{}; send {{\"actions\": [\"name\", …]}}", e.body_text()),
            );
        }
    };
    if let Some(response) = bad_name(&[("tenant", &tenant)]) {
        return response;
    }
    let trigger: Trigger = match trigger.parse() {
        Ok(t) => t,
        Err(e) => return bad("unknown_trigger", format!("{e}")),
    };
    if let Err(e) = server
        .config()
        .execution_limits
        .check_actions(actions.len())
    {
        return bad("too_many_actions", e.to_string());
    }
    for (i, name) in actions.iter().enumerate() {
        if let Some(response) = bad_name(&[("action", name)]) {
            return response;
        }
        if actions[..i].contains(name) {
            return bad(
                "duplicate_action",
                format!("`{name}` is listed twice; a flow runs each action once"),
            );
        }
    }
    // The store checks, in the same step as the write, that each action is deployed as an
    // action of this trigger.
    match server
        .deploy_store()
        .bind(&tenant, trigger.as_str(), &actions, &grant.name)
        .await
    {
        Ok(()) => {}
        Err(e @ DeployStoreError::NotDeployed { .. }) => return bad("not_deployed", e.to_string()),
        Err(e @ DeployStoreError::TriggerMismatch { .. }) => {
            return bad("trigger_mismatch", e.to_string());
        }
        Err(e) => return unavailable(&e),
    }
    tracing::info!(tenant = %tenant, trigger = %trigger, actions = ?actions, token = %grant.name, "bindings set");
    server.refresh_logged().await;
    Json(json!({ "tenant": tenant, "trigger": trigger, "actions": actions })).into_response()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn a_deployed_action_gets_only_its_own_tenant_s_secrets_and_granted_hosts() {
        let settings = Settings {
            secrets: [("key".to_owned(), "ACME_KEY".to_owned())].into(),
            ..Settings::default()
        };
        let meta = VersionMeta::new("acme", "a", "post-login", settings, b"x", "ci", 1);
        let grants = |secret: &str, private: &[&str]| TenantGrants {
            secrets: [(secret.to_owned(), "v".to_owned())].into(),
            private_hosts: private.iter().map(|h| (*h).to_owned()).collect(),
            plain_http_hosts: Vec::new(),
        };
        let tenants: BTreeMap<String, TenantGrants> = [
            ("acme".to_owned(), grants("ACME_KEY", &["10.0.0.5:443"])),
            ("globex".to_owned(), grants("GLOBEX_KEY", &[])),
        ]
        .into();
        assert_eq!(action_config(&meta, &tenants).unwrap().secrets["key"], "v");
        let mut other = meta.clone();
        other.tenant = "globex".into();
        let e = action_config(&other, &tenants).unwrap_err();
        assert!(e.contains("ACME_KEY") && e.contains("globex"), "{e}");
        // Private hosts: only those granted to the tenant.
        let mut private = meta.clone();
        private.settings.allow_private_hosts = vec!["10.0.0.5:443".into()];
        assert!(action_config(&private, &tenants).is_ok());
        private.settings.allow_private_hosts = vec!["169.254.169.254".into()];
        let e = action_config(&private, &tenants).unwrap_err();
        assert!(
            e.contains("169.254.169.254") && e.contains("private_hosts"),
            "{e}"
        );
        let mut plain = meta;
        plain.settings.plain_http_hosts = vec!["127.0.0.1:8787".into()];
        assert!(
            action_config(&plain, &tenants)
                .unwrap_err()
                .contains("plain_http_hosts")
        );
    }
}
