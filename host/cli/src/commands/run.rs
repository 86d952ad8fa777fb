//! `cachet run`: executes a flow of actions once on an event file and prints the result as one
//! JSON object; with a file or Redis store, successive runs behave like successive logins.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use cachet_limits::OverflowPolicy;
use cachet_loader::js::JsBuilder;
use cachet_runtime::{
    ActionConfig, Clock, ContinueParams, ManualClock, Outcome, Redirect, Runtime, StoreUrl,
    SystemClock, Trigger,
};

use super::{loader, read};
use crate::InputError;

#[derive(clap::Args)]
pub(crate) struct RunArgs {
    /// The trigger.
    #[arg(long, value_parser = super::trigger_parser())]
    pub(crate) trigger: Trigger,
    /// The event, a JSON file in Auth0's shape.
    #[arg(
        long,
        value_name = "EVENT.json",
        required_unless_present = "continue_state"
    )]
    pub(crate) event: Option<PathBuf>,
    /// Continue a flow an action redirected (api.redirect.sendUserTo) in an earlier run, with
    /// the `state` that run printed: the redirecting action's onContinuePostLogin runs, then the
    /// rest of the flow. Needs the same --store (memory: does not outlive a run).
    #[arg(long = "continue", value_name = "STATE", conflicts_with = "event")]
    pub(crate) continue_state: Option<String>,
    /// With --continue: a query parameter the user came back with (repeatable).
    #[arg(long = "query", value_name = "NAME=VALUE", requires = "continue_state", value_parser = param)]
    pub(crate) query: Vec<(String, String)>,
    /// With --continue: a form (body) parameter the user came back with (repeatable).
    #[arg(long = "form", value_name = "NAME=VALUE", requires = "continue_state", value_parser = param)]
    pub(crate) form: Vec<(String, String)>,
    /// Secrets for every action, a JSON object of names to string values.
    #[arg(long, value_name = "S.json")]
    pub(crate) secrets: Option<PathBuf>,
    /// Where the cache lives: memory: (the default, gone after the run), file:PATH (loaded
    /// before the run and saved after; mode 0600, as it may hold tokens),
    /// redis://[user:password@]host[:port][/db], rediss://… or redis-cluster://host:port
    /// (shared with other hosts).
    /// Read from CACHET_STORE when not given, so a Redis password need not be on the command
    /// line. (Parsed by hand, not by clap: clap's errors would echo a password.)
    #[arg(
        long,
        env = "CACHET_STORE",
        hide_env_values = true,
        value_name = "URL",
        conflicts_with = "cache_state"
    )]
    pub(crate) store: Option<String>,
    /// Shorthand for --store file:STATE.json.
    #[arg(long, value_name = "STATE.json")]
    pub(crate) cache_state: Option<PathBuf>,
    /// How long one Redis store operation may take before it counts as failed (a read is then
    /// a miss, a write FailedToSetCacheRecord or FailedToDeleteCacheRecord).
    #[arg(long, value_name = "MS", default_value_t = 100, value_parser = clap::value_parser!(u64).range(1..=60_000))]
    pub(crate) store_timeout_ms: u64,
    /// Run at this time (ms since the Unix epoch) instead of now.
    #[arg(long, value_name = "MS")]
    pub(crate) now: Option<u64>,
    /// What a write into a full cache does: evict least recently used entries, or fail.
    #[arg(long, default_value = "evict")]
    pub(crate) policy: OverflowPolicy,
    /// Let the actions make HTTP requests to HOST or HOST:PORT (repeatable). Without it they
    /// have no network at all.
    #[arg(long = "allow-host", value_name = "HOST[:PORT]")]
    pub(crate) allow_hosts: Vec<String>,
    /// Like --allow-host, for a name that resolves to a loopback, private or link-local address
    /// (an internal service). Without it such names are refused; IP literals need no flag.
    #[arg(long = "allow-private-host", value_name = "HOST[:PORT]")]
    pub(crate) allow_private_hosts: Vec<String>,
    /// Send https:// requests to this loopback HOST:PORT (also given to --allow-host) over
    /// plain HTTP (repeatable): for a local test server standing in for an https one, such as
    /// `cachet dev-idp` given to a client library as the tenant's domain.
    #[arg(long = "plain-http-host", value_name = "HOST[:PORT]")]
    pub(crate) plain_http_hosts: Vec<String>,
    /// The tenant whose partition the actions use.
    #[arg(long, default_value = "default")]
    pub(crate) tenant: String,
    /// Actions, run in this order: components (.wasm built for wasm32-wasip2) or JavaScript
    /// and TypeScript actions (.js, .ts; built on first use and cached by content hash).
    #[arg(required = true, value_name = "ACTION.wasm|ACTION.js")]
    pub(crate) actions: Vec<PathBuf>,
}

impl RunArgs {
    /// The store named by --store or --cache-state.
    fn store_url(&self) -> Result<StoreUrl> {
        Ok(match (&self.store, &self.cache_state) {
            (Some(url), _) => url.parse()?,
            (None, Some(path)) => StoreUrl::File(path.clone()),
            (None, None) => StoreUrl::Memory,
        })
    }
}

/// `NAME=VALUE`.
fn param(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((name, value)) if !name.is_empty() => Ok((name.to_owned(), value.to_owned())),
        _ => Err(format!("expected NAME=VALUE, not {text:?}")),
    }
}

/// Parameters as a JSON object of strings.
fn params(pairs: &[(String, String)]) -> serde_json::Map<String, serde_json::Value> {
    pairs
        .iter()
        .map(|(k, v)| (k.clone(), serde_json::Value::from(v.as_str())))
        .collect()
}

pub(crate) async fn run(args: RunArgs) -> Result<ExitCode, InputError> {
    let (runtime, actions) = prepare(&args).await.map_err(InputError)?;
    let result = match (&args.continue_state, &args.event) {
        (Some(state), _) => {
            let params = ContinueParams {
                query: params(&args.query),
                body: params(&args.form),
            };
            runtime
                .continue_actions(&args.tenant, args.trigger, &actions, state, params)
                .await
                .map_err(|e| InputError(e.into()))?
        }
        (None, Some(event)) => {
            let event = read(event).map_err(InputError)?;
            runtime
                .execute_actions(&args.tenant, args.trigger, &actions, &event)
                .await
                .map_err(|e| InputError(e.into()))?
        }
        (None, None) => return Err(InputError(anyhow::anyhow!("give --event or --continue"))),
    };
    // The result is printed whatever happens to the save: the run happened.
    let json = serde_json::to_string_pretty(&result).map_err(|e| InputError(e.into()))?;
    println!("{json}");
    if let Err(e) = runtime.store().flush().await {
        let store = args
            .store_url()
            .map_or_else(|_| "the store".to_owned(), |url| url.to_string());
        eprintln!("cachet: the run finished but its cache was not saved to {store}: {e}");
        return Ok(ExitCode::from(1));
    }
    if let Some(redirect) = &result.redirect {
        print_continue_hint(&args, redirect);
    }
    Ok(match result.outcome {
        Outcome::Success | Outcome::Denied | Outcome::Redirect => ExitCode::SUCCESS,
        Outcome::Failed => ExitCode::from(1),
    })
}

/// Tells the user (on stderr, the result being on stdout) where the flow sent the user and
/// how to continue it.
fn print_continue_hint(args: &RunArgs, redirect: &Redirect) {
    let store = match (&args.store, &args.cache_state) {
        (Some(_), _) => " --store …(the same store)".to_owned(),
        (None, Some(path)) => format!(" --cache-state {}", path.display()),
        (None, None) => String::new(),
    };
    let actions: Vec<String> = args
        .actions
        .iter()
        .map(|p| p.display().to_string())
        .collect();
    eprintln!(
        "cachet: the flow redirected the user to {}\n\
         cachet: when the user is back, continue it (before {} ms since the epoch; with the same \
         --secrets and --allow-host) with:\n\
         \x20 cachet run --trigger {} --tenant {}{store} --continue {} [--query NAME=VALUE …] {}",
        redirect.url,
        redirect.expires_at,
        args.trigger,
        args.tenant,
        redirect.state,
        actions.join(" ")
    );
    if store.is_empty() {
        eprintln!(
            "cachet: this run kept its cache in memory, so the continuation is gone with it: run \
             with --cache-state FILE or --store redis://… to continue in another run"
        );
    }
}

pub(crate) fn clock_at(now: Option<u64>) -> Arc<dyn Clock> {
    match now {
        Some(ms) => Arc::new(ManualClock::new(ms)),
        None => Arc::new(SystemClock),
    }
}

pub(crate) async fn prepare(args: &RunArgs) -> Result<(Runtime, Vec<cachet_runtime::Action>)> {
    let clock = clock_at(args.now);
    let secrets: BTreeMap<String, String> = match &args.secrets {
        Some(path) => serde_json::from_str(&read(path)?).with_context(|| {
            format!(
                "{}: secrets must be a JSON object of names to string values",
                path.display()
            )
        })?,
        None => BTreeMap::new(),
    };
    if args.actions.is_empty() {
        bail!("no actions given");
    }
    let mut wasms = Vec::with_capacity(args.actions.len());
    for path in &args.actions {
        // A JavaScript action is built first (cached by content hash), with progress on stderr.
        let (loader, source, trigger) = (loader(), path.clone(), args.trigger);
        let component = tokio::task::spawn_blocking(move || {
            loader.component(&source.display().to_string(), trigger, &source)
        })
        .await
        .context("the JavaScript build stopped unexpectedly")??;
        let wasm = std::fs::read(&component)
            .with_context(|| format!("cannot read action {}", component.display()))?;
        wasms.push((path, wasm));
    }
    // Opened after the cheap checks: a file store waits for other runs on the same file.
    let store = crate::store::open(
        &args.store_url()?,
        args.policy,
        Arc::clone(&clock),
        args.store_timeout_ms,
    )
    .await?;
    let runtime = Runtime::builder()
        .overflow_policy(args.policy)
        .store(store)
        .clock(clock)
        .instance_pool_size(32)
        // Compiled machine code kept between runs (in the user's own cache directory): a
        // JavaScript action's ~12 MB component takes seconds to compile, then milliseconds.
        .compiled_cache_dir(JsBuilder::default_cache_dir().join("compiled"))
        .build()?;
    let mut actions = Vec::with_capacity(wasms.len());
    for (path, wasm) in wasms {
        let name = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| path.display().to_string());
        let config = ActionConfig {
            secrets: secrets.clone(),
            allowed_hosts: args
                .allow_hosts
                .iter()
                .chain(&args.allow_private_hosts)
                .cloned()
                .collect(),
            allowed_private_hosts: args.allow_private_hosts.clone(),
            plain_http_hosts: args.plain_http_hosts.clone(),
            ..ActionConfig::default()
        };
        actions.push(runtime.load_action(&name, args.trigger, &wasm, config)?);
    }
    Ok((runtime, actions))
}
