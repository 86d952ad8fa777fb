//! One file per `cachet` command: its arguments (clap) and its handler. Helpers two commands
//! share are here.

use std::path::Path;

use anyhow::{Context, Result};
use cachet_loader::ActionLoader;
use cachet_runtime::Trigger;

pub(crate) mod build;
pub(crate) mod cache;
pub(crate) mod demo;
pub(crate) mod deploy;
pub(crate) mod dev_idp;
pub(crate) mod run;
pub(crate) mod serve;
pub(crate) mod test;

/// Parses a `--trigger` value, offering every trigger of the runtime's table (so `--help` and
/// the error for a wrong name list them all).
pub(crate) fn trigger_parser() -> impl clap::builder::TypedValueParser<Value = Trigger> {
    use clap::builder::TypedValueParser as _;
    clap::builder::PossibleValuesParser::new(Trigger::names())
        .try_map(|name| name.parse::<Trigger>())
}

/// The CLI's action loader: JavaScript cached in the default directory, progress on stderr.
pub(crate) fn loader() -> ActionLoader {
    ActionLoader::with_progress(|message| eprintln!("cachet: {message}"))
}

pub(crate) fn read(path: &Path) -> Result<String> {
    std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))
}
