//! `cachet serve`: the HTTP service, with SIGHUP reload and graceful SIGTERM/SIGINT.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;

use crate::InputError;

#[derive(clap::Args)]
pub(crate) struct ServeArgs {
    /// The configuration file (TOML); `--print-example-config` prints a commented one.
    #[arg(
        long,
        value_name = "cachet.toml",
        required_unless_present = "print_example_config"
    )]
    pub(crate) config: Option<PathBuf>,
    /// Print a commented example configuration that starts as it is, and exit.
    #[arg(long)]
    pub(crate) print_example_config: bool,
    /// Log lines as `text` for people or `json` for a log pipeline (RUST_LOG sets the level;
    /// default info).
    #[arg(long, default_value = "text", value_parser = ["text", "json"])]
    pub(crate) log_format: String,
}

pub(crate) async fn serve(args: ServeArgs) -> Result<ExitCode, InputError> {
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
