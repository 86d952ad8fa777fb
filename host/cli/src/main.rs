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
//! - `cachet deploy ACTION --server URL --tenant T --trigger TR` builds an action if needed,
//!   uploads it to a running service as a new version and deploys it.
//!
//! Exit status of `run`: 0 when the flow succeeded or denied, 1 when an action failed, 2 on bad usage
//! or input.

mod commands;
mod demo;
mod scenario;
mod store;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

use commands::build::{BuildArgs, build};
use commands::cache::{CacheCommand, cache};
use commands::demo::{DemoArgs, demo};
use commands::deploy::{DeployArgs, deploy};
use commands::dev_idp::{DevIdpArgs, dev_idp};
use commands::run::{RunArgs, run};
use commands::serve::{ServeArgs, serve};
use commands::test::{TestArgs, test};

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
    // Boxed: its many options make it several times larger than every other command.
    Run(Box<RunArgs>),
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
    /// Upload an action (building JavaScript here) to a `cachet serve` and deploy it.
    // Boxed like `Run`: its options make it the largest command.
    Deploy(Box<DeployArgs>),
    /// Run scenario files (TOML or JSON) against the real sandbox; exit 0 only if every
    /// expectation held.
    Test(TestArgs),
}

/// mimalloc rather than glibc's malloc: under `cachet serve`'s many threads it measured 15-20%
/// more executions per second through HTTP (BENCHMARKS.md, "cachet serve").
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// A failure before any action ran: bad input, exit status 2.
pub(crate) struct InputError(pub(crate) anyhow::Error);

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
        Command::Run(args) => rt.block_on(run(*args)),
        Command::Demo(args) => rt.block_on(demo(args)),
        Command::DevIdp(args) => rt.block_on(dev_idp(args)),
        Command::Cache(command) => rt.block_on(cache(command)),
        Command::Serve(args) => rt.block_on(serve(args)),
        Command::Build(args) => build(args),
        Command::Deploy(args) => rt.block_on(deploy(*args)),
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
