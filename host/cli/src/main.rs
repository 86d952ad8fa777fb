//! `cachet`: run identity-platform actions from the command line.
//!
//! - `cachet demo`: the Management-API token story against an in-process dev IdP.
//! - `cachet dev-idp`: a local OAuth 2 authorization server for trying actions by hand.
//! - `cachet run` executes a flow of actions once on an event file and prints the result as one
//!   JSON object. With `--store file:PATH` (or `--cache-state PATH`) the cache is loaded from a
//!   snapshot file before and saved after, so successive runs behave like successive logins;
//!   with `--store redis://…` it is shared with every host using that Redis.
//! - `cachet cache show|clear|delete` inspects or edits one partition of a store.
//! - `cachet serve --config cachet.toml` runs the HTTP service (`cachet_server`); SIGHUP
//!   reloads the config, SIGTERM or SIGINT drain and stop it.
//!
//! Exit status of `run`: 0 when the flow succeeded or denied, 1 when an action failed, 2 on bad usage
//! or input.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

mod demo;
mod scenario;
mod store;

use std::time::Duration;

use anyhow::{Context, Result, bail};
use cachet_dev_idp::{DevIdp, DevIdpConfig, TokenFormat};
use cachet_host::{
    ActionConfig, Clock, ManualClock, Outcome, PartitionKey, Runtime, StoreUrl, SystemClock,
    Trigger,
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
    /// Inspect or edit one cache partition of a store (values are never printed).
    #[command(subcommand)]
    Cache(CacheCommand),
    /// Run the HTTP service: login servers call it per login or token exchange.
    Serve(ServeArgs),
    /// Build a JavaScript or TypeScript action (written as for Auth0) into a component.
    Build(BuildArgs),
    /// Run scenario files (TOML or JSON) against the real sandbox; exit 0 only if every
    /// expectation held.
    Test(TestArgs),
}

#[derive(clap::Args)]
struct TestArgs {
    /// Scenario files, or directories searched for them [default: the current directory].
    #[arg(value_name = "PATHS")]
    paths: Vec<PathBuf>,
    /// `text`: a readable report with the first difference of each failing scenario;
    /// `junit`: JUnit XML on stdout, for CI.
    #[arg(long, default_value = "text", value_parser = ["text", "junit"])]
    format: String,
    /// Run only scenarios whose name or file contains this.
    #[arg(long)]
    filter: Option<String>,
    /// Rewrite the expected `commands` of each step from what the actions did, showing what
    /// changed.
    #[arg(long)]
    update: bool,
}

#[derive(clap::Args)]
struct BuildArgs {
    /// The action: `exports.onExecutePostLogin = async (event, api) => {…}` (or the ES module
    /// and credentials-exchange equivalents). npm packages it imports are bundled from the
    /// node_modules next to it.
    #[arg(value_name = "ACTION.js")]
    action: PathBuf,
    /// The trigger it is built for: post-login or credentials-exchange.
    #[arg(long)]
    trigger: Trigger,
    /// Where to write the component [default: ACTION.wasm next to the action].
    #[arg(short, long, value_name = "OUT.wasm")]
    output: Option<PathBuf>,
}

#[derive(clap::Args)]
struct ServeArgs {
    /// The configuration file (TOML); `--print-example-config` prints a commented one.
    #[arg(
        long,
        value_name = "cachet.toml",
        required_unless_present = "print_example_config"
    )]
    config: Option<PathBuf>,
    /// Print a commented example configuration that starts as it is, and exit.
    #[arg(long)]
    print_example_config: bool,
    /// Log lines as `text` for people or `json` for a log pipeline (RUST_LOG sets the level;
    /// default info).
    #[arg(long, default_value = "text", value_parser = ["text", "json"])]
    log_format: String,
}

#[derive(Subcommand)]
enum CacheCommand {
    /// Print the partition as JSON: usage against the quotas, and each entry's key, size and
    /// expiry, least recently used first. Values are redacted to their length and a short hash.
    Show(PartitionArgs),
    /// Remove every entry of the partition.
    Clear(PartitionArgs),
    /// Remove one entry.
    Delete {
        #[command(flatten)]
        partition: PartitionArgs,
        /// The entry's key.
        key: String,
    },
}

#[derive(clap::Args)]
struct PartitionArgs {
    /// The store: memory:, file:PATH, redis://[user:password@]host[:port][/db], rediss://… or
    /// redis-cluster://host:port.
    /// Read from CACHET_STORE when not given. (Parsed by hand, not by clap: clap's errors would
    /// echo a password.)
    #[arg(long, env = "CACHET_STORE", hide_env_values = true, value_name = "URL")]
    store: String,
    /// The tenant.
    #[arg(long)]
    tenant: String,
    /// The trigger: post-login or credentials-exchange.
    #[arg(long)]
    trigger: Trigger,
    /// Look at the partition as of this time (ms since the Unix epoch) instead of now.
    #[arg(long, value_name = "MS")]
    now: Option<u64>,
    /// How long one Redis store operation may take before it fails.
    #[arg(long, value_name = "MS", default_value_t = 1_000, value_parser = clap::value_parser!(u64).range(1..=60_000))]
    store_timeout_ms: u64,
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
    store: Option<String>,
    /// Shorthand for --store file:STATE.json.
    #[arg(long, value_name = "STATE.json")]
    cache_state: Option<PathBuf>,
    /// How long one Redis store operation may take before it counts as failed (a read is then
    /// a miss, a write FailedToSetCacheRecord or FailedToDeleteCacheRecord).
    #[arg(long, value_name = "MS", default_value_t = 100, value_parser = clap::value_parser!(u64).range(1..=60_000))]
    store_timeout_ms: u64,
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
    /// Actions, run in this order: components (.wasm built for wasm32-wasip2) or JavaScript
    /// and TypeScript actions (.js, .ts; built on first use and cached by content hash).
    #[arg(required = true, value_name = "ACTION.wasm|ACTION.js")]
    actions: Vec<PathBuf>,
}

/// mimalloc rather than glibc's malloc: under `cachet serve`'s many threads it measured 15-20%
/// more executions per second through HTTP (BENCHMARKS.md, "cachet serve").
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// A failure before any action ran: bad input, exit status 2.
struct InputError(anyhow::Error);

fn main() -> ExitCode {
    let cli = Cli::parse();
    // The service logs what it does (info); the one-shot commands only warnings (a store that
    // fails, a state file another process holds). RUST_LOG overrides either.
    let (level, json) = match &cli.command {
        Command::Serve(args) => (
            tracing_subscriber::filter::LevelFilter::INFO,
            args.log_format == "json",
        ),
        _ => (tracing_subscriber::filter::LevelFilter::WARN, false),
    };
    let filter = tracing_subscriber::EnvFilter::builder()
        .with_default_directive(level.into())
        .from_env_lossy();
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr);
    if json {
        logs.json().init();
    } else {
        logs.init();
    }
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
        Command::Cache(command) => rt.block_on(cache(command)),
        Command::Serve(args) => rt.block_on(serve(args)),
        Command::Build(args) => build(args),
        Command::Test(args) => rt.block_on(test(args)),
    };
    match result {
        Ok(code) => code,
        Err(InputError(e)) => {
            eprintln!("cachet: {e:#}");
            ExitCode::from(2)
        }
    }
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

async fn run(args: RunArgs) -> Result<ExitCode, InputError> {
    let (runtime, actions) = prepare(&args).await.map_err(InputError)?;
    let event = read(&args.event).map_err(InputError)?;
    let result = runtime
        .execute_actions(&args.tenant, args.trigger, &actions, &event)
        .await
        .map_err(|e| InputError(e.into()))?;
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
    Ok(match result.outcome {
        Outcome::Success | Outcome::Denied => ExitCode::SUCCESS,
        Outcome::Failed => ExitCode::from(1),
    })
}

fn clock_at(now: Option<u64>) -> Arc<dyn Clock> {
    match now {
        Some(ms) => Arc::new(ManualClock::new(ms)),
        None => Arc::new(SystemClock),
    }
}

async fn prepare(args: &RunArgs) -> Result<(Runtime, Vec<cachet_host::Action>)> {
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
        let component = if cachet_host::js::is_source(path) {
            let (builder, source) = (js_builder(), path.clone());
            let world = js_world(args.trigger);
            tokio::task::spawn_blocking(move || builder.build(&source, world))
                .await
                .context("the JavaScript build stopped unexpectedly")??
                .path
        } else {
            path.clone()
        };
        let wasm = std::fs::read(&component)
            .with_context(|| format!("cannot read action {}", component.display()))?;
        wasms.push((path, wasm));
    }
    // Opened after the cheap checks: a file store waits for other runs on the same file.
    let store = store::open(
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
        .compiled_cache_dir(cachet_host::js::JsBuilder::default_cache_dir().join("compiled"))
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
            ..ActionConfig::default()
        };
        actions.push(runtime.load_action(&name, args.trigger, &wasm, config)?);
    }
    Ok((runtime, actions))
}

/// The JavaScript builder of the CLI: the default cache directory, progress on stderr.
fn js_builder() -> cachet_host::js::JsBuilder {
    use cachet_host::js::JsBuilder;
    JsBuilder::new(JsBuilder::default_cache_dir())
        .on_progress(|message| eprintln!("cachet: {message}"))
}

fn js_world(trigger: Trigger) -> cachet_host::js::World {
    cachet_host::js::World::from_name(trigger.world())
        .expect("every trigger's world is a cachet_js::World")
}

/// `cachet test`: runs scenario files and reports.
async fn test(args: TestArgs) -> Result<ExitCode, InputError> {
    let paths = if args.paths.is_empty() {
        vec![PathBuf::from(".")]
    } else {
        args.paths.clone()
    };
    let files = scenario::discover(&paths).map_err(|e| InputError(e.into()))?;
    let mut errors = Vec::new();
    let mut scenarios = Vec::new();
    for file in files {
        match scenario::Scenario::load(&file) {
            Ok(s) => scenarios.push(s),
            Err(e) => errors.push(e),
        }
    }
    if let Some(filter) = &args.filter {
        scenarios.retain(|s| {
            s.name.contains(filter.as_str())
                || s.path.display().to_string().contains(filter.as_str())
        });
        errors.retain(|e| e.path.display().to_string().contains(filter.as_str()));
    }
    if scenarios.is_empty() && errors.is_empty() {
        return Err(InputError(anyhow::anyhow!(
            "no scenarios found in {} (files ending .toml or .json with [[steps]]{})",
            paths
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", "),
            args.filter
                .as_ref()
                .map(|f| format!(", matching {f:?}"))
                .unwrap_or_default()
        )));
    }
    let text = args.format == "text";
    for e in &errors {
        if text {
            println!("ERROR {e}");
        }
    }
    let mut outcomes = Vec::new();
    for s in &scenarios {
        let outcome = scenario::run(s).await;
        if text {
            match &outcome.failure {
                None => println!(
                    "ok    {} ({:.2} s)",
                    outcome.name,
                    outcome.elapsed.as_secs_f64()
                ),
                Some(f) => println!(
                    "FAIL  {} ({})
  {}",
                    outcome.name,
                    outcome.path.display(),
                    f.replace('\n', "\n  ")
                ),
            }
        }
        if args.update && !outcome.actual_commands.is_empty() {
            match scenario::update(&outcome) {
                Ok(changes) if changes.is_empty() => {}
                Ok(changes) => {
                    eprintln!("updated {}:", outcome.path.display());
                    for change in changes {
                        eprintln!("  {change}");
                    }
                }
                Err(e) => eprintln!("cannot update {}: {e}", outcome.path.display()),
            }
        }
        outcomes.push(outcome);
    }
    let failed = outcomes.iter().filter(|o| o.failure.is_some()).count();
    if text {
        println!(
            "\n{} scenario(s): {} passed, {failed} failed, {} could not be read",
            outcomes.len() + errors.len(),
            outcomes.len() - failed,
            errors.len()
        );
    } else {
        print!("{}", scenario::junit(&outcomes, &errors));
    }
    Ok(if failed == 0 && errors.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// `cachet build`: a JavaScript action into a component file.
fn build(args: BuildArgs) -> Result<ExitCode, InputError> {
    let output = args
        .output
        .clone()
        .unwrap_or_else(|| args.action.with_extension("wasm"));
    if !cachet_host::js::is_source(&args.action) {
        return Err(InputError(anyhow::anyhow!(
            "{} is not a JavaScript or TypeScript file (.js, .mjs, .cjs, .ts); Rust actions are \
             built with `cargo build --target wasm32-wasip2`",
            args.action.display()
        )));
    }
    let built = js_builder()
        .build(&args.action, js_world(args.trigger))
        .map_err(|e| InputError(e.into()))?;
    std::fs::copy(&built.path, &output)
        .with_context(|| format!("cannot write {}", output.display()))
        .map_err(InputError)?;
    let size = std::fs::metadata(&output).map(|m| m.len()).unwrap_or(0);
    eprintln!(
        "cachet: wrote {} ({:.1} MB, {} trigger; {})",
        output.display(),
        size as f64 / 1e6,
        args.trigger,
        if built.cached {
            "unchanged since the last build, taken from the cache".to_string()
        } else {
            format!("built in {:.1} s", built.elapsed.as_secs_f64())
        }
    );
    Ok(ExitCode::SUCCESS)
}

async fn cache(command: CacheCommand) -> Result<ExitCode, InputError> {
    let (args, key) = match &command {
        CacheCommand::Show(args) | CacheCommand::Clear(args) => (args, None),
        CacheCommand::Delete { partition, key } => (partition, Some(key.as_str())),
    };
    let clock = clock_at(args.now);
    let now = clock.now_ms();
    let url: StoreUrl = args
        .store
        .parse()
        .map_err(|e| InputError(anyhow::Error::from(e)))?;
    let store = store::open(&url, OverflowPolicy::Evict, clock, args.store_timeout_ms)
        .await
        .map_err(InputError)?;
    let partition = PartitionKey::new(args.tenant.clone(), args.trigger);
    let fail = |e: &dyn std::fmt::Display| {
        eprintln!("cachet: {e}");
        Ok(ExitCode::from(1))
    };
    let output = match command {
        CacheCommand::Show(_) => {
            let limits = cachet_limits::CacheLimits::default();
            match cachet_host::inspect(store.as_ref(), &partition, &limits, now).await {
                Ok(report) => serde_json::to_value(report).map_err(|e| InputError(e.into()))?,
                Err(e) => return fail(&e),
            }
        }
        CacheCommand::Clear(_) => {
            let entries = match store.usage(&partition).await {
                Ok(usage) => usage.entries,
                Err(e) => return fail(&e),
            };
            if let Err(e) = store.restore(&partition, Vec::new(), now).await {
                return fail(&e);
            }
            serde_json::json!({ "partition": partition.to_string(), "cleared": entries })
        }
        CacheCommand::Delete { .. } => {
            let key = key.unwrap_or_default();
            if let Err(e) = store.delete(&partition, key, now).await {
                return fail(&format!(
                    "cannot delete `{key}` from {partition}: {} ({e})",
                    e.code()
                ));
            }
            serde_json::json!({ "partition": partition.to_string(), "deleted": key })
        }
    };
    if let Err(e) = store.flush().await {
        return fail(&e);
    }
    println!(
        "{}",
        serde_json::to_string_pretty(&output).map_err(|e| InputError(e.into()))?
    );
    Ok(ExitCode::SUCCESS)
}

fn read(path: &Path) -> Result<String> {
    std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))
}

async fn serve(args: ServeArgs) -> Result<ExitCode, InputError> {
    use tokio::signal::unix::{SignalKind, signal};
    if args.print_example_config {
        print!("{}", cachet_server::EXAMPLE_CONFIG);
        return Ok(ExitCode::SUCCESS);
    }
    let Some(path) = args.config else {
        return Err(InputError(anyhow::anyhow!("--config is required")));
    };
    // Watched from the start: a SIGHUP or SIGTERM while the actions compile must not kill the
    // process with the signal's default action.
    let signals = (|| {
        Ok::<_, std::io::Error>((
            signal(SignalKind::hangup())?,
            signal(SignalKind::terminate())?,
            signal(SignalKind::interrupt())?,
        ))
    })();
    let (mut hup, mut term, mut int) =
        signals.map_err(|e| InputError(anyhow::anyhow!("cannot watch signals: {e}")))?;
    let config = cachet_server::Config::load(&path).map_err(|e| InputError(e.into()))?;
    let listen = config.listen;
    // Bound before compiling: a port in use fails at once, not after the actions compile.
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|e| InputError(anyhow::anyhow!("cannot listen on {listen}: {e}")))?;
    let server = cachet_server::Server::start(config)
        .await
        .map_err(|e| InputError(e.into()))?;
    let local = listener.local_addr().map_err(|e| InputError(e.into()))?;
    tracing::info!(listen = %local, "cachet serve is ready");
    let reloader = server.clone();
    let hangups = tokio::spawn(async move {
        while hup.recv().await.is_some() {
            tracing::info!("SIGHUP: reloading the configuration");
            // The outcome is logged by the server (and counted in cachet_reloads_total).
            let _ = reloader.reload().await;
        }
    });
    let stop = async move {
        tokio::select! {
            _ = term.recv() => tracing::info!("SIGTERM received"),
            _ = int.recv() => tracing::info!("SIGINT received"),
        }
    };
    let served = server.serve(listener, stop).await;
    hangups.abort();
    match served {
        Ok(()) => {
            tracing::info!("stopped");
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            tracing::error!(error = %e, "stopped with an error");
            eprintln!("cachet serve: {e}");
            Ok(ExitCode::from(1))
        }
    }
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
