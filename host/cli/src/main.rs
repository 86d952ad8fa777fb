//! `cachet`: run identity-platform actions from the command line.
//!
//! - `cachet demo`: the Management-API token story against an in-process dev IdP.
//! - `cachet dev-idp`: a local OAuth 2 authorization server for trying actions by hand.
//! - `cachet run` executes a flow of actions once on an event file and prints the result as one
//!   JSON object. With `--cache-state`, the trigger's cache partition is loaded from a file
//!   before and saved after, so successive runs behave like successive logins.
//!
//! Exit status of `run`: 0 when the flow succeeded or denied, 1 when an action failed, 2 on bad usage
//! or input.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

mod demo;

use std::time::Duration;

use anyhow::{Context, Result, bail};
use cachet_dev_idp::{DevIdp, DevIdpConfig, TokenFormat};
use cachet_host::{
    ActionConfig, Clock, ManualClock, Outcome, PartitionKey, Runtime, SystemClock, Trigger,
    state_file,
};
use cachet_limits::OverflowPolicy;
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "cachet",
    version,
    about = "Run identity-platform actions as WebAssembly components with a bounded per-trigger cache"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Execute actions once, in order, on an event file; print the result as JSON.
    Run(RunArgs),
    /// The Management-API token story: first login, reuse, expiry, revocation, quotas.
    Demo(DemoArgs),
    /// A local OAuth 2 server: client-credentials JWTs, JWKS, a protected management endpoint.
    DevIdp(DevIdpArgs),
}

#[derive(clap::Args)]
struct DemoArgs {
    /// Print one JSON object (progress goes to stderr).
    #[arg(long)]
    json: bool,
    /// Logins in the reuse phase, the burst included.
    #[arg(long, default_value_t = 1000)]
    logins: usize,
    /// How many of them arrive at once.
    #[arg(long, default_value_t = 200)]
    burst: usize,
    /// Lifetime of the dev IdP's tokens, in seconds.
    #[arg(long, default_value_t = 3600)]
    token_ttl: u64,
}

#[derive(clap::Args)]
struct DevIdpArgs {
    /// Address to listen on (loopback only).
    #[arg(long, default_value = "127.0.0.1:8484")]
    listen: std::net::SocketAddr,
    /// Lifetime of issued tokens, in seconds.
    #[arg(long, default_value_t = 86_400)]
    token_ttl: u64,
    /// The client id to accept.
    #[arg(long, default_value = "cachet-dev-client")]
    client_id: String,
    /// The client secret to accept.
    #[arg(long, default_value = "cachet-dev-secret")]
    client_secret: String,
    /// What the token endpoint issues: `jwt` (Auth0's shape), `jwt-without-aud`, `opaque`
    /// (random strings with `expires_in`), or `large-jwt` (too large for a cache value).
    #[arg(long, default_value = "jwt", value_parser = parse_token_format)]
    token_format: TokenFormat,
}

fn parse_token_format(s: &str) -> Result<TokenFormat, String> {
    match s {
        "jwt" => Ok(TokenFormat::Jwt),
        "jwt-without-aud" => Ok(TokenFormat::JwtWithoutAudience),
        "opaque" => Ok(TokenFormat::Opaque),
        "large-jwt" => Ok(TokenFormat::LargeJwt),
        other => Err(format!(
            "unknown token format `{other}`; use jwt, jwt-without-aud, opaque or large-jwt"
        )),
    }
}

#[derive(clap::Args)]
struct RunArgs {
    /// The trigger: post-login or credentials-exchange.
    #[arg(long)]
    trigger: Trigger,
    /// The event, a JSON file in Auth0's shape.
    #[arg(long, value_name = "EVENT.json")]
    event: PathBuf,
    /// Secrets for every action, a JSON object of names to string values.
    #[arg(long, value_name = "S.json")]
    secrets: Option<PathBuf>,
    /// Load the trigger's cache partition from this file before the run and save it after
    /// (created if missing; mode 0600, as it may hold tokens).
    #[arg(long, value_name = "STATE.json")]
    cache_state: Option<PathBuf>,
    /// Run at this time (ms since the Unix epoch) instead of now.
    #[arg(long, value_name = "MS")]
    now: Option<u64>,
    /// What a write into a full cache does: evict least recently used entries, or fail.
    #[arg(long, default_value = "evict")]
    policy: OverflowPolicy,
    /// Let the actions make HTTP requests to HOST or HOST:PORT (repeatable). Without it they
    /// have no network at all.
    #[arg(long = "allow-host", value_name = "HOST[:PORT]")]
    allow_hosts: Vec<String>,
    /// Like --allow-host, for a name that resolves to a loopback, private or link-local address
    /// (an internal service). Without it such names are refused; IP literals need no flag.
    #[arg(long = "allow-private-host", value_name = "HOST[:PORT]")]
    allow_private_hosts: Vec<String>,
    /// The tenant whose partition the actions use.
    #[arg(long, default_value = "default")]
    tenant: String,
    /// Action components (.wasm built for wasm32-wasip2), run in this order.
    #[arg(required = true, value_name = "ACTION.wasm")]
    actions: Vec<PathBuf>,
}

/// A failure before any action ran: bad input, exit status 2.
struct InputError(anyhow::Error);

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let rt = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("cachet: cannot start the async runtime: {e}");
            return ExitCode::from(2);
        }
    };
    let result = match cli.command {
        Command::Run(args) => rt.block_on(run(args)),
        Command::Demo(args) => rt.block_on(demo(args)),
        Command::DevIdp(args) => rt.block_on(dev_idp(args)),
    };
    match result {
        Ok(code) => code,
        Err(InputError(e)) => {
            eprintln!("cachet: {e:#}");
            ExitCode::from(2)
        }
    }
}

async fn run(args: RunArgs) -> Result<ExitCode, InputError> {
    // Held from load to save: concurrent runs on one state file take turns, so none of their
    // writes is lost.
    let _lock = match &args.cache_state {
        Some(path) => Some(state_file::lock(path).map_err(|e| InputError(e.into()))?),
        None => None,
    };
    let (runtime, actions, partition) = prepare(&args).await.map_err(InputError)?;
    let event = read(&args.event).map_err(InputError)?;
    let result = runtime
        .execute_actions(&args.tenant, args.trigger, &actions, &event)
        .await
        .map_err(|e| InputError(e.into()))?;
    // The result is printed whatever happens to the save: the run happened.
    let json = serde_json::to_string_pretty(&result).map_err(|e| InputError(e.into()))?;
    println!("{json}");
    if let Some(path) = &args.cache_state {
        let now = runtime.now_ms();
        let saved = match runtime.store().snapshot(&partition, now).await {
            Ok(entries) => state_file::save(path, entries, now).map_err(anyhow::Error::from),
            Err(e) => Err(e.into()),
        };
        if let Err(e) = saved {
            eprintln!(
                "cachet: the run finished but its cache state was not saved to {}: {e:#}",
                path.display()
            );
            return Ok(ExitCode::from(1));
        }
    }
    Ok(match result.outcome {
        Outcome::Success | Outcome::Denied => ExitCode::SUCCESS,
        Outcome::Failed => ExitCode::from(1),
    })
}

async fn prepare(args: &RunArgs) -> Result<(Runtime, Vec<cachet_host::Action>, PartitionKey)> {
    let clock: Arc<dyn Clock> = match args.now {
        Some(ms) => Arc::new(ManualClock::new(ms)),
        None => Arc::new(SystemClock),
    };
    let runtime = Runtime::builder()
        .overflow_policy(args.policy)
        .clock(clock)
        .instance_pool_size(32)
        .build()?;
    let secrets: BTreeMap<String, String> = match &args.secrets {
        Some(path) => serde_json::from_str(&read(path)?).with_context(|| {
            format!(
                "{}: secrets must be a JSON object of names to string values",
                path.display()
            )
        })?,
        None => BTreeMap::new(),
    };
    let mut actions = Vec::with_capacity(args.actions.len());
    for path in &args.actions {
        let wasm = std::fs::read(path)
            .with_context(|| format!("cannot read action {}", path.display()))?;
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
        };
        actions.push(runtime.load_action(&name, args.trigger, &wasm, config)?);
    }
    let partition = PartitionKey::new(args.tenant.clone(), args.trigger);
    if let Some(path) = &args.cache_state {
        let entries = state_file::load(path)?;
        let report = runtime
            .store()
            .restore(&partition, entries, runtime.now_ms())
            .await?;
        if report.oversized + report.evicted + report.duplicates > 0 {
            tracing::warn!(
                ?report,
                "cache state had entries the current limits do not allow; they were dropped"
            );
        }
    }
    if actions.is_empty() {
        bail!("no actions given");
    }
    Ok((runtime, actions, partition))
}

fn read(path: &Path) -> Result<String> {
    std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))
}

async fn demo(args: DemoArgs) -> Result<ExitCode, InputError> {
    let options = demo::DemoOptions {
        json: args.json,
        logins: args.logins,
        burst: args.burst,
        token_ttl: Duration::from_secs(args.token_ttl),
    };
    match demo::run(options).await {
        Ok(()) => Ok(ExitCode::SUCCESS),
        Err(e) => {
            eprintln!("cachet demo: {e:#}");
            Ok(ExitCode::from(1))
        }
    }
}

async fn dev_idp(args: DevIdpArgs) -> Result<ExitCode, InputError> {
    let idp = DevIdp::start(DevIdpConfig {
        listen: args.listen,
        token_ttl: Duration::from_secs(args.token_ttl),
        client_id: args.client_id,
        client_secret: args.client_secret,
        clock: std::sync::Arc::new(SystemClock),
    })
    .await
    .map_err(|e| {
        InputError(anyhow::anyhow!(
            "cannot start the dev IdP on {}: {e}",
            args.listen
        ))
    })?;
    idp.set_token_format(args.token_format);
    let info = serde_json::json!({
        "token_url": idp.token_url(),
        "jwks_url": idp.jwks_url(),
        "issuer": idp.issuer(),
        "audience": idp.audience(),
        "management_endpoint": format!("{}users/{{id}}", idp.audience()),
        "revoke_url": format!("http://{}/oauth/revoke", idp.addr()),
        "stats_url": format!("http://{}/stats", idp.addr()),
        "client_id": idp.client_id(),
        "client_secret": idp.client_secret(),
    });
    println!(
        "{}",
        serde_json::to_string_pretty(&info).map_err(|e| InputError(e.into()))?
    );
    eprintln!(
        "cachet dev-idp: listening on {}; Ctrl-C to stop",
        idp.addr()
    );
    tokio::signal::ctrl_c()
        .await
        .map_err(|e| InputError(e.into()))?;
    Ok(ExitCode::SUCCESS)
}
