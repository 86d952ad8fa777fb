//! `cachet serve`: the Cachet runtime as an HTTP service that login servers call once per
//! login or token exchange, one replica or many behind a load balancer sharing one cache
//! through Redis.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use cachet_server::{Config, Server};
//!
//! let config = Config::load(std::path::Path::new("cachet.toml"))?;
//! let listener = tokio::net::TcpListener::bind(config.listen).await?;
//! let server = Server::start(config).await?;
//! // Serves until Ctrl-C, then drains in-flight executions and flushes the store.
//! server
//!     .serve(listener, async {
//!         let _ = tokio::signal::ctrl_c().await;
//!     })
//!     .await?;
//! # Ok(()) }
//! ```
//!
//! The pieces: [`Config`] (the TOML file, validated with the file and line of each mistake),
//! [`Server`] (the runtime, the flows built from the config, reload and graceful shutdown),
//! and the routes by group, each a module that contributes its own: `api` (execute, inspect
//! and purge a partition, list flows, reload), `deploy` (actions deployed through the API,
//! their versions and bindings, followed by every replica), `console` (the web console and its test
//! runner), `metrics` ([`Metrics`], Prometheus text) and `probes` (health, readiness). What
//! the groups share (error answers, the partition extractor) is in `http`, bearer-token auth
//! ([`Tokens`]) in `auth`. [`open_store`] opens whichever store a URL names.
//!
//! Flows are swapped as a whole: an execution takes the flow table once, when it starts, and
//! finishes on it even if a reload or a deployment replaces it meanwhile. The table served is
//! the config file's flows with the deployed ones over them.

mod api;
mod auth;
mod config;
mod console;
mod deploy;
mod http;
mod metrics;
mod probes;

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::{Duration, Instant};

use cachet_loader::ActionLoader;
use cachet_loader::LoadFileError;
use cachet_loader::js::JsBuilder;
use cachet_runtime::{
    Action, BuildError, ExecuteError, FunctionCache, LoadError, PartitionKey, Runtime, StoreError,
    SystemClock, Trigger,
};
use thiserror::Error;
use tokio::sync::Semaphore;

pub use auth::{Grant, MIN_TOKEN_CHARS, Role, Tokens, TokensError};
pub use cachet_loader::{OpenStoreError, OpenedStore, open_deploy_store, open_store};
pub use config::{
    ActionSpec, Config, ConfigError, DeployConfig, EXAMPLE_CONFIG, MAX_INFLIGHT, TenantGrants,
};
pub use deploy::RefreshError;
pub use metrics::Metrics;
use metrics::PartitionMetrics;

/// Why the service could not start, reload or finish cleanly.
#[derive(Debug, Error)]
pub enum ServerError {
    /// The configuration is invalid.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The store could not be opened.
    #[error(transparent)]
    Store(#[from] OpenStoreError),
    /// The runtime could not be built from the configured limits.
    #[error("cannot start the runtime: {0}")]
    Runtime(#[from] BuildError),
    /// An action could not be compiled or linked.
    #[error("{config}:{line}: {source}")]
    LoadAction {
        /// The config file.
        config: PathBuf,
        /// The action's line.
        line: usize,
        /// Why (it names the action).
        source: LoadFileError,
    },
    /// A flow cannot run as configured (too many actions).
    #[error("{config}: tenant `{tenant}`'s {trigger} flow: {source}")]
    Flow {
        /// The config file.
        config: PathBuf,
        /// The tenant.
        tenant: String,
        /// The trigger.
        trigger: Trigger,
        /// Why.
        source: ExecuteError,
    },
    /// A reload changed settings that only a restart can apply; nothing was changed.
    #[error(
        "{config}: {} changed; that takes a restart (the running service keeps its current \
         configuration, flows included)",
        changed.join(", ")
    )]
    RestartRequired {
        /// The config file.
        config: PathBuf,
        /// The settings that differ.
        changed: Vec<&'static str>,
    },
    /// The listener failed.
    #[error("serving failed: {0}")]
    Serve(std::io::Error),
    /// Saving the cache at shutdown failed.
    #[error("the service stopped but its cache was not saved: {0}")]
    Flush(StoreError),
    /// The deployed actions could not be read at start-up.
    #[error("cannot read the deployed actions: {0}")]
    Deployments(#[from] RefreshError),
}

/// Where `env:` secrets and the bearer tokens are read from: the process environment, or a
/// function standing in for it (tests, embedders with their own secret source).
pub type Environment = Arc<dyn Fn(&str) -> Option<String> + Send + Sync>;

/// One configured flow: its actions, in order, and its partition's metric series.
#[derive(Clone)]
pub(crate) struct Flow {
    pub(crate) actions: Arc<[Action]>,
    pub(crate) series: Arc<PartitionMetrics>,
    /// Each action's source language (`javascript`, `typescript`, `wasm`), in flow order.
    pub(crate) languages: Arc<[&'static str]>,
    /// Where the flow comes from.
    pub(crate) source: FlowSource,
}

/// Where a flow comes from: the config file's `[[actions]]`, or bindings set through the
/// deployment API (which win where both name one tenant's trigger).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FlowSource {
    /// `[[actions]]` of the config file.
    Config,
    /// `PUT …/bindings` of the deployment API.
    Deployed,
}

impl FlowSource {
    /// The name the API and console show.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            FlowSource::Config => "config",
            FlowSource::Deployed => "deployed",
        }
    }
}

/// The longest any request body may take to arrive (a component upload is the largest).
const BODY_READ_LIMIT: Duration = Duration::from_secs(60);

/// The flows of every tenant and trigger, swapped as a whole by a reload.
pub(crate) type Flows = HashMap<PartitionKey, Flow>;

/// What a reload did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct ReloadReport {
    /// Flows (tenant and trigger pairs) now configured.
    pub flows: usize,
    /// Actions now configured.
    pub actions: usize,
    /// Actions compiled for this reload (new or changed components).
    pub compiled: u64,
    /// Actions whose compiled component was reused, from memory or disk.
    pub reused: u64,
}

/// The running service: cheap to clone, clones share everything.
#[derive(Clone)]
pub struct Server {
    shared: Arc<Shared>,
}

struct Shared {
    runtime: Runtime,
    /// Loads the configured action files (building JavaScript) on start, reload and trial.
    loader: ActionLoader,
    config: RwLock<Arc<Config>>,
    /// The flows served: the config file's, with the deployed ones over them.
    flows: RwLock<Arc<Flows>>,
    /// The config file's flows.
    configured: RwLock<Arc<Flows>>,
    /// The deployed flows (see [`deploy`]).
    deployed: RwLock<Arc<Flows>>,
    /// Merging the two into `flows` takes turns.
    publishing: std::sync::Mutex<()>,
    /// The deployment store and what this replica loaded from it.
    deployments: deploy::Deployments,
    metrics: Arc<Metrics>,
    /// One permit per execution allowed at once.
    inflight: Arc<Semaphore>,
    /// Reloads take turns: two at once could apply an older file last.
    reloading: tokio::sync::Mutex<()>,
    /// Set when shutdown begins: readiness then fails so load balancers stop sending.
    stopping: AtomicBool,
    /// Read again by each reload.
    env: Environment,
}

impl Server {
    /// Opens the store, builds the runtime and compiles every configured action (reusing
    /// `compiled_cache_dir`); the server is ready when this returns. Reloads read `env:`
    /// secrets and tokens from the process environment.
    pub async fn start(config: Config) -> Result<Self, ServerError> {
        Self::start_with_env(config, Arc::new(|name: &str| std::env::var(name).ok())).await
    }

    /// [`Server::start`], with reloads reading `env:` secrets and tokens through `env`.
    pub async fn start_with_env(config: Config, env: Environment) -> Result<Self, ServerError> {
        let clock = Arc::new(SystemClock);
        let opened = open_store(
            &config.store,
            config.cache_limits,
            config.policy,
            clock.clone(),
            Duration::from_millis(config.store_timeout_ms),
        )
        .await?;
        if let Some(aside) = &opened.set_aside {
            tracing::warn!(
                store = %config.store,
                moved_to = %aside.display(),
                "the snapshot file was unusable; it was set aside and the cache starts empty"
            );
        }
        let metrics = Arc::new(Metrics::new());
        let pool = u32::try_from(config.max_inflight).unwrap_or(u32::MAX);
        let loader = ActionLoader::new(
            JsBuilder::new(
                config
                    .js_cache_dir
                    .clone()
                    .unwrap_or_else(JsBuilder::default_cache_dir),
            )
            .on_progress(|message| tracing::info!("{message}")),
        );
        let function_cache = function_cache(config.function_cache_mb);
        if let Some(cache) = &function_cache {
            metrics.watch_function_cache(Arc::clone(cache));
        }
        let mut builder = Runtime::builder()
            .store(opened.store)
            .cache_limits(config.cache_limits)
            .overflow_policy(config.policy)
            .execution_limits(config.execution_limits)
            .clock(clock)
            // One instance slot per execution allowed at once: a flow runs one action at a
            // time, so the service never fails an execution for want of a slot.
            .instance_pool_size(pool)
            .function_cache(function_cache.clone())
            .observer(metrics.clone());
        if let Some(dir) = &config.compiled_cache_dir {
            builder = builder.compiled_cache_dir(dir);
        }
        let runtime = builder.build()?;
        let deploy_store = open_deploy_store(&config.store, config.deploy.dir.as_deref()).await?;
        let (flows, _) = load_flows(&runtime, &loader, &metrics, &config).await?;
        metrics.reload(true);
        tracing::info!(
            store = %config.store,
            flows = flows.len(),
            actions = config.actions.len(),
            "flows ready"
        );
        let flows = Arc::new(flows);
        let server = Self {
            shared: Arc::new(Shared {
                runtime,
                loader,
                inflight: Arc::new(Semaphore::new(config.max_inflight)),
                config: RwLock::new(Arc::new(config)),
                flows: RwLock::new(Arc::clone(&flows)),
                configured: RwLock::new(flows),
                deployed: RwLock::default(),
                publishing: std::sync::Mutex::new(()),
                deployments: deploy::Deployments::new(deploy_store),
                metrics,
                reloading: tokio::sync::Mutex::new(()),
                stopping: AtomicBool::new(false),
                env,
            }),
        };
        // Deployed flows are served from the start (a restart keeps them); then a poller
        // follows the deployment store for as long as the server lives.
        server.refresh_deployments().await?;
        let weak = Arc::downgrade(&server.shared);
        tokio::spawn(async move {
            loop {
                let Some(shared) = weak.upgrade() else { break };
                if shared.stopping.load(Ordering::SeqCst) {
                    break;
                }
                let server = Server { shared };
                let pause = Duration::from_millis(server.config().deploy.poll_ms);
                server.refresh_logged().await;
                drop(server);
                tokio::time::sleep(pause).await;
            }
        });
        Ok(server)
    }

    /// The configuration in force.
    pub fn config(&self) -> Arc<Config> {
        Arc::clone(
            &self
                .shared
                .config
                .read()
                .unwrap_or_else(PoisonError::into_inner),
        )
    }

    /// The runtime (its store, limits and compile statistics).
    pub fn runtime(&self) -> &Runtime {
        &self.shared.runtime
    }

    /// What loads the configured action files (building JavaScript first).
    pub fn loader(&self) -> &ActionLoader {
        &self.shared.loader
    }

    /// The metrics, as `GET /metrics` shows them.
    pub fn metrics(&self) -> &Metrics {
        &self.shared.metrics
    }

    /// The HTTP API, for serving it on a listener of one's own.
    pub fn router(&self) -> axum::Router {
        let groups = [
            api::routes(),
            deploy::routes(),
            console::routes(),
            metrics::routes(),
            probes::routes(),
        ];
        let (mut open, mut authenticated) = (axum::Router::new(), axum::Router::new());
        for group in groups {
            open = open.merge(group.open);
            authenticated = authenticated.merge(group.authenticated);
        }
        let authenticated = authenticated.route_layer(axum::middleware::from_fn_with_state(
            self.clone(),
            auth::require_token,
        ));
        open.merge(authenticated)
            .fallback(http::not_found)
            // No request body may take longer than this to arrive (an event's own limit is
            // shorter), so a slow client cannot hold a connection with a trickle.
            .layer(tower_http::timeout::RequestBodyTimeoutLayer::new(
                BODY_READ_LIMIT,
            ))
            .layer(tower_http::catch_panic::CatchPanicLayer::custom(
                http::panicked,
            ))
            .with_state(self.clone())
    }

    /// Re-reads the config file and swaps in its flows. A config that cannot be used (bad
    /// syntax, a missing file, an action that does not compile, a setting that needs a
    /// restart) changes nothing and says why.
    pub async fn reload(&self) -> Result<ReloadReport, ServerError> {
        // The turn is taken before the file is read: two reloads then apply the file in the
        // order they read it, never an older version last.
        let _turn = self.shared.reloading.lock().await;
        let path = self.config().path.clone();
        let loaded = Config::load_with_env(&path, &*self.shared.env).map_err(ServerError::from);
        self.finish_reload(match loaded {
            Ok(config) => self.apply(config).await,
            Err(e) => Err(e),
        })
    }

    /// Swaps in `config`'s flows and tokens (see [`Server::reload`]).
    pub async fn reload_with(&self, config: Config) -> Result<ReloadReport, ServerError> {
        let _turn = self.shared.reloading.lock().await;
        let result = self.apply(config).await;
        self.finish_reload(result)
    }

    /// Counts and logs a reload's outcome.
    fn finish_reload(
        &self,
        result: Result<ReloadReport, ServerError>,
    ) -> Result<ReloadReport, ServerError> {
        self.shared.metrics.reload(result.is_ok());
        match &result {
            Ok(report) => tracing::info!(
                flows = report.flows,
                actions = report.actions,
                compiled = report.compiled,
                reused = report.reused,
                "reloaded"
            ),
            Err(e) => tracing::warn!(error = %e, "reload refused; the current flows stay"),
        }
        result
    }

    async fn apply(&self, config: Config) -> Result<ReloadReport, ServerError> {
        let changed = self.config().restart_only_changes(&config);
        if !changed.is_empty() {
            return Err(ServerError::RestartRequired {
                config: config.path.clone(),
                changed,
            });
        }
        let (flows, report) = load_flows(
            &self.shared.runtime,
            &self.shared.loader,
            &self.shared.metrics,
            &config,
        )
        .await?;
        let grants_changed = self.config().deploy.tenants != config.deploy.tenants;
        // Both swaps are single pointer writes; an execution that already took the old table
        // finishes on it.
        *self
            .shared
            .configured
            .write()
            .unwrap_or_else(PoisonError::into_inner) = Arc::new(flows);
        self.publish();
        *self
            .shared
            .config
            .write()
            .unwrap_or_else(PoisonError::into_inner) = Arc::new(config);
        if grants_changed {
            // Deployed versions were loaded with the old secrets and grants: load them again.
            self.forget_deployments().await;
            self.refresh_logged().await;
        }
        Ok(report)
    }

    /// The flow bound to `partition`, if any.
    fn flow(&self, partition: &PartitionKey) -> Option<Flow> {
        self.shared
            .flows
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(partition)
            .cloned()
    }

    /// The deployed flows alone.
    pub(crate) fn deployed_flows(&self) -> Arc<Flows> {
        Arc::clone(
            &self
                .shared
                .deployed
                .read()
                .unwrap_or_else(PoisonError::into_inner),
        )
    }

    /// Serves the config file's flows with the deployed ones over them (a binding through
    /// the API wins over the file's flow for the same tenant and trigger, and says so).
    pub(crate) fn publish(&self) {
        let _turn = self
            .shared
            .publishing
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let configured = Arc::clone(
            &self
                .shared
                .configured
                .read()
                .unwrap_or_else(PoisonError::into_inner),
        );
        let deployed = self.deployed_flows();
        let mut merged: Flows = (*configured).clone();
        for (partition, flow) in deployed.iter() {
            if merged.insert(partition.clone(), flow.clone()).is_some() {
                tracing::warn!(
                    partition = %partition,
                    "the config file's flow is replaced by the deployed bindings for this partition"
                );
            }
        }
        *self
            .shared
            .flows
            .write()
            .unwrap_or_else(PoisonError::into_inner) = Arc::new(merged);
    }

    fn flows(&self) -> Arc<Flows> {
        Arc::clone(
            &self
                .shared
                .flows
                .read()
                .unwrap_or_else(PoisonError::into_inner),
        )
    }

    /// Serves the API on `listener` until `shutdown` completes; then stops accepting, lets
    /// in-flight executions finish (for at most the flow deadline and a second), flushes the
    /// store and returns.
    pub async fn serve(
        &self,
        listener: tokio::net::TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), ServerError> {
        let (stop_tx, mut stop_rx) = tokio::sync::watch::channel(false);
        let shared = Arc::clone(&self.shared);
        let graceful = async move {
            shutdown.await;
            shared.stopping.store(true, Ordering::SeqCst);
            tracing::info!("shutting down: no new connections; in-flight executions finish");
            let _ = stop_tx.send(true);
        };
        let config = self.config();
        let serving = accept(
            listener,
            self.router(),
            graceful,
            config.max_connections,
            Duration::from_millis(config.header_read_timeout_ms),
        );
        let drain_limit = Duration::from_millis(config.execution_limits.flow_deadline_ms)
            + Duration::from_secs(1);
        let mut drain_started = None;
        let drained = tokio::select! {
            () = serving => Ok(()),
            () = async {
                let _ = stop_rx.wait_for(|stopping| *stopping).await;
                drain_started = Some(tokio::time::Instant::now());
                tokio::time::sleep(drain_limit).await;
            } => {
                tracing::warn!(
                    "connections still open {drain_limit:?} after shutdown began; closing them"
                );
                Ok(())
            }
        };
        // Executions run on tasks of their own, so one whose caller hung up is still running
        // after its connection closed: wait for every execution slot to be free (within what
        // is left of the drain limit) before flushing, so its cache writes are saved.
        let left = drain_started.map_or(drain_limit, |t| drain_limit.saturating_sub(t.elapsed()));
        let slots = u32::try_from(config.max_inflight).unwrap_or(u32::MAX);
        let idle = tokio::time::timeout(left, self.shared.inflight.acquire_many(slots)).await;
        if idle.is_err() {
            tracing::warn!("executions still running {drain_limit:?} after shutdown began");
        }
        let flushed = self
            .shared
            .runtime
            .store()
            .flush()
            .await
            .map_err(ServerError::Flush);
        drained.and(flushed)
    }
}

/// The compiled-function cache `function_cache_mb` asks for: none for 0; at the default size
/// the process's shared one, so servers started in one process (tests, an embedding host)
/// reuse each other's compiled functions; otherwise one of that size for this server.
fn function_cache(mb: u64) -> Option<Arc<FunctionCache>> {
    match mb {
        0 => None,
        config::DEFAULT_FUNCTION_CACHE_MB => Some(FunctionCache::shared()),
        mb => Some(Arc::new(FunctionCache::new(
            usize::try_from(mb << 20).unwrap_or(usize::MAX),
        ))),
    }
}

/// Serves `router` on `listener` until `shutdown` completes, then lets every open connection
/// finish its request and returns when the last one closed.
///
/// At most `max_connections` connections are open at once (beyond, new ones wait in the
/// listen backlog, so a flood of idle clients cannot exhaust file descriptors or memory), and
/// a connection that does not send a request's headers within `header_timeout` (a slow
/// client, or one idling on keep-alive) is closed: hyper's HTTP/1 with a timer, which
/// `axum::serve` does not set.
async fn accept(
    listener: tokio::net::TcpListener,
    router: axum::Router,
    shutdown: impl Future<Output = ()>,
    max_connections: usize,
    header_timeout: Duration,
) {
    let slots = Arc::new(Semaphore::new(max_connections));
    let (closing_tx, closing_rx) = tokio::sync::watch::channel(false);
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let permit = tokio::select! {
            permit = Arc::clone(&slots).acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_) => break,
            },
            () = &mut shutdown => break,
        };
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    // Out of file descriptors and the like: wait instead of spinning.
                    tracing::warn!(error = %e, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let service = hyper_util::service::TowerToHyperService::new(router.clone());
        let mut closing = closing_rx.clone();
        tokio::spawn(async move {
            // The slot is held until the connection is closed.
            let _slot = permit;
            let mut builder = hyper::server::conn::http1::Builder::new();
            builder
                .timer(hyper_util::rt::TokioTimer::new())
                .header_read_timeout(header_timeout);
            let conn = builder.serve_connection(hyper_util::rt::TokioIo::new(stream), service);
            let mut conn = std::pin::pin!(conn);
            tokio::select! {
                _ = conn.as_mut() => {}
                () = async {
                    // The guard `wait_for` returns is dropped here, not held across an await.
                    let _ = closing.wait_for(|closing| *closing).await;
                } => {
                    // Finishes the request in progress, then closes.
                    conn.as_mut().graceful_shutdown();
                    let _ = conn.await;
                }
            }
        });
    }
    drop(listener);
    let _ = closing_tx.send(true);
    let all = u32::try_from(max_connections).unwrap_or(u32::MAX);
    let _ = slots.acquire_many(all).await;
}

/// An action's source language, from its file's extension (for the console).
fn language(path: &Path) -> &'static str {
    match path.extension().and_then(|e| e.to_str()) {
        Some("ts" | "mts" | "cts") => "typescript",
        Some("js" | "mjs" | "cjs") => "javascript",
        _ => "wasm",
    }
}

/// Reads, compiles and binds every action of `config`, in file order, into flows.
async fn load_flows(
    runtime: &Runtime,
    loader: &ActionLoader,
    metrics: &Metrics,
    config: &Config,
) -> Result<(Flows, ReloadReport), ServerError> {
    let before = runtime.compile_stats();
    let mut grouped: BTreeMap<PartitionKey, Vec<(Action, &'static str)>> = BTreeMap::new();
    for spec in &config.actions {
        let started = Instant::now();
        let (rt, loader, spec_owned) = (runtime.clone(), loader.clone(), spec.clone());
        // Building a JavaScript action and compiling take CPU for up to seconds: off the async
        // workers. A built JavaScript action is cached by content hash, so a reload that does
        // not change it costs milliseconds.
        let loaded = tokio::task::spawn_blocking(move || {
            loader.load(
                &rt,
                &spec_owned.name,
                spec_owned.trigger,
                &spec_owned.path,
                spec_owned.config,
            )
        })
        .await;
        let action = match loaded {
            Ok(result) => result.map_err(|source| ServerError::LoadAction {
                config: config.path.clone(),
                line: spec.line,
                source,
            })?,
            Err(join) => {
                return Err(ServerError::LoadAction {
                    config: config.path.clone(),
                    line: spec.line,
                    source: LoadFileError::Load(LoadError::Invalid {
                        name: spec.name.clone(),
                        reason: format!("compiling stopped unexpectedly: {join}"),
                    }),
                });
            }
        };
        tracing::info!(
            tenant = %spec.tenant,
            trigger = %spec.trigger,
            action = %spec.name,
            load_ms = started.elapsed().as_secs_f64() * 1e3,
            "action loaded"
        );
        grouped
            .entry(PartitionKey::new(spec.tenant.clone(), spec.trigger))
            .or_default()
            .push((action, language(&spec.path)));
    }
    let after = runtime.compile_stats();
    let mut flows = Flows::with_capacity(grouped.len());
    for (partition, loaded) in grouped {
        let (actions, languages): (Vec<Action>, Vec<&'static str>) = loaded.into_iter().unzip();
        // Checks the flow (its length) without binding it in the runtime: the service keeps
        // its own table so that a reload swaps every flow at once.
        runtime
            .check_flow(partition.trigger, &actions)
            .map_err(|source| ServerError::Flow {
                config: config.path.clone(),
                tenant: partition.tenant.clone(),
                trigger: partition.trigger,
                source,
            })?;
        let names: Vec<&str> = actions.iter().map(Action::name).collect();
        let series = Arc::new(metrics.partition(&partition, &names));
        flows.insert(
            partition,
            Flow {
                actions: actions.into(),
                series,
                languages: languages.into(),
                source: FlowSource::Config,
            },
        );
    }
    let report = ReloadReport {
        flows: flows.len(),
        actions: config.actions.len(),
        compiled: after.compiled - before.compiled,
        reused: (after.memory_hits - before.memory_hits) + (after.disk_hits - before.disk_hits),
    };
    Ok((flows, report))
}
