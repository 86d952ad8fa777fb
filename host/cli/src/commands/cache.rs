//! `cachet cache show|clear|delete`: inspects or edits one partition of a store (values are
//! never printed).

use std::process::ExitCode;

use anyhow::Result;
use cachet_limits::OverflowPolicy;
use cachet_runtime::{PartitionKey, StoreUrl, Trigger};
use clap::Subcommand;

use super::run::clock_at;
use crate::InputError;

#[derive(Subcommand)]
pub(crate) enum CacheCommand {
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
pub(crate) struct PartitionArgs {
    /// The store: memory:, file:PATH, redis://[user:password@]host[:port][/db], rediss://… or
    /// redis-cluster://host:port.
    /// Read from CACHET_STORE when not given. (Parsed by hand, not by clap: clap's errors would
    /// echo a password.)
    #[arg(long, env = "CACHET_STORE", hide_env_values = true, value_name = "URL")]
    pub(crate) store: String,
    /// The tenant.
    #[arg(long)]
    pub(crate) tenant: String,
    /// The trigger.
    #[arg(long, value_parser = super::trigger_parser())]
    pub(crate) trigger: Trigger,
    /// Look at the partition as of this time (ms since the Unix epoch) instead of now.
    #[arg(long, value_name = "MS")]
    pub(crate) now: Option<u64>,
    /// How long one Redis store operation may take before it fails.
    #[arg(long, value_name = "MS", default_value_t = 1_000, value_parser = clap::value_parser!(u64).range(1..=60_000))]
    pub(crate) store_timeout_ms: u64,
}

pub(crate) async fn cache(command: CacheCommand) -> Result<ExitCode, InputError> {
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
    let store = crate::store::open(&url, OverflowPolicy::Evict, clock, args.store_timeout_ms)
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
            match cachet_runtime::inspect(store.as_ref(), &partition, &limits, now).await {
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
