//! `cachet build`: a JavaScript or TypeScript action into a component file.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use cachet_loader::ActionLoader;
use cachet_runtime::Trigger;

use super::loader;
use crate::InputError;

#[derive(clap::Args)]
pub(crate) struct BuildArgs {
    /// The action: `exports.onExecutePostLogin = async (event, api) => {…}` (or the ES module
    /// and credentials-exchange equivalents). npm packages it imports are bundled from the
    /// node_modules next to it.
    #[arg(value_name = "ACTION.js")]
    pub(crate) action: PathBuf,
    /// The trigger it is built for.
    #[arg(long, value_parser = super::trigger_parser())]
    pub(crate) trigger: Trigger,
    /// Where to write the component [default: ACTION.wasm next to the action].
    #[arg(short, long, value_name = "OUT.wasm")]
    pub(crate) output: Option<PathBuf>,
}

/// `cachet build`: a JavaScript action into a component file.
pub(crate) fn build(args: BuildArgs) -> Result<ExitCode, InputError> {
    let output = args
        .output
        .clone()
        .unwrap_or_else(|| args.action.with_extension("wasm"));
    if !ActionLoader::is_source(&args.action) {
        return Err(InputError(anyhow::anyhow!(
            "{} is not a JavaScript or TypeScript file (.js, .mjs, .cjs, .ts); Rust actions are \
             built with `cargo build --target wasm32-wasip2`",
            args.action.display()
        )));
    }
    let world = ActionLoader::world(args.trigger).ok_or_else(|| {
        InputError(anyhow::anyhow!(
            "the JavaScript SDK has no `{}` world",
            args.trigger
        ))
    })?;
    let built = loader()
        .js()
        .build(&args.action, world)
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
