//! `cachet demo`: the Management-API token story against an in-process dev IdP (the story
//! itself is in `crate::demo`).

use std::process::ExitCode;
use std::time::Duration;

use anyhow::Result;

use crate::InputError;

#[derive(clap::Args)]
pub(crate) struct DemoArgs {
    /// Print one JSON object (progress goes to stderr).
    #[arg(long)]
    pub(crate) json: bool,
    /// Logins in the reuse phase, the burst included.
    #[arg(long, default_value_t = 1000)]
    pub(crate) logins: usize,
    /// How many of them arrive at once.
    #[arg(long, default_value_t = 200)]
    pub(crate) burst: usize,
    /// Lifetime of the dev IdP's tokens, in seconds.
    #[arg(long, default_value_t = 3600)]
    pub(crate) token_ttl: u64,
}

pub(crate) async fn demo(args: DemoArgs) -> Result<ExitCode, InputError> {
    let options = crate::demo::DemoOptions {
        json: args.json,
        logins: args.logins,
        burst: args.burst,
        token_ttl: Duration::from_secs(args.token_ttl),
    };
    match crate::demo::run(options).await {
        Ok(()) => Ok(ExitCode::SUCCESS),
        Err(e) => {
            eprintln!("cachet demo: {e:#}");
            Ok(ExitCode::from(1))
        }
    }
}
