//! `cachet build`: a JavaScript or TypeScript action into a component file.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use cachet_loader::ActionLoader;
use cachet_loader::js::{BuildReport, LayerModule};
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
    for line in describe(&built.report) {
        eprintln!("cachet: {line}");
    }
    eprintln!(
        "cachet: wrote {} ({}, {} trigger; {})",
        output.display(),
        bytes(built.component_bytes),
        args.trigger,
        if built.cached {
            "unchanged since the last build, taken from the cache".to_string()
        } else {
            format!("built in {:.1} s", built.elapsed.as_secs_f64())
        }
    );
    Ok(ExitCode::SUCCESS)
}

/// What went into the bundle, as lines for the terminal: its size by origin, the Node
/// polyfills and sandboxed modules with who imported them, and the npm packages.
fn describe(report: &BuildReport) -> Vec<String> {
    let b = &report.bytes;
    let mut lines = vec![format!(
        "bundle {}: the action {}, {} npm package{} {}, the SDK {}, Node compatibility {}",
        bytes(report.bundle_bytes),
        bytes(b.action),
        report.packages.len(),
        if report.packages.len() == 1 { "" } else { "s" },
        bytes(b.packages),
        bytes(b.sdk),
        bytes(b.node),
    )];
    let modules = |list: &[LayerModule]| {
        list.iter()
            .map(|m| {
                if m.by.is_empty() {
                    format!("{} (for other polyfills or a global)", m.module)
                } else {
                    format!("{} (by {})", m.module, printable(&m.by.join(", ")))
                }
            })
            .collect::<Vec<_>>()
            .join("; ")
    };
    if !report.polyfills.is_empty() {
        lines.push(format!("Node polyfills: {}", modules(&report.polyfills)));
    }
    if !report.sandboxed.is_empty() {
        lines.push(format!(
            "sandboxed Node modules (they import; a call throws, naming itself): {}",
            modules(&report.sandboxed)
        ));
    }
    if !report.packages.is_empty() {
        let packages: Vec<String> = report
            .packages
            .iter()
            .map(|p| {
                format!(
                    "{}@{} {}",
                    printable(&p.name),
                    printable(p.version.as_deref().unwrap_or("?")),
                    bytes(p.bytes)
                )
            })
            .collect();
        lines.push(format!("npm packages: {}", packages.join(", ")));
    }
    lines
}

/// `text` without control characters: package names and versions come from files an npm
/// package wrote, and must not reach the terminal as escape sequences.
fn printable(text: &str) -> String {
    text.chars().filter(|c| !c.is_control()).collect()
}

/// A size for people: bytes, kB or MB (decimal, as npm and esbuild print them).
fn bytes(n: u64) -> String {
    match n {
        0..1_000 => format!("{n} B"),
        1_000..1_000_000 => format!("{:.1} kB", n as f64 / 1e3),
        _ => format!("{:.1} MB", n as f64 / 1e6),
    }
}
