//! `cachet test`: runs scenario files against the real sandbox and reports.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;

use crate::InputError;

#[derive(clap::Args)]
pub(crate) struct TestArgs {
    /// Scenario files, or directories searched for them [default: the current directory].
    #[arg(value_name = "PATHS")]
    pub(crate) paths: Vec<PathBuf>,
    /// `text`: a readable report with the first difference of each failing scenario;
    /// `junit`: JUnit XML on stdout, for CI.
    #[arg(long, default_value = "text", value_parser = ["text", "junit"])]
    pub(crate) format: String,
    /// Run only scenarios whose name or file contains this.
    #[arg(long)]
    pub(crate) filter: Option<String>,
    /// Rewrite the expected `commands` of each step from what the actions did, showing what
    /// changed.
    #[arg(long)]
    pub(crate) update: bool,
}

/// `cachet test`: runs scenario files and reports.
pub(crate) async fn test(args: TestArgs) -> Result<ExitCode, InputError> {
    let paths = if args.paths.is_empty() {
        vec![PathBuf::from(".")]
    } else {
        args.paths.clone()
    };
    let files = crate::scenario::discover(&paths).map_err(|e| InputError(e.into()))?;
    let mut errors = Vec::new();
    let mut scenarios = Vec::new();
    for file in files {
        match crate::scenario::Scenario::load(&file) {
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
        let outcome = crate::scenario::run(s).await;
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
            match crate::scenario::update(&outcome) {
                Ok(changes) if changes.is_empty() => {}
                Ok(changes) => {
                    eprintln!("updated {}:", outcome.path.display());
                    for change in changes {
                        eprintln!("  {change}");
                    }
                }
                Err(e) => eprintln!("cannot update: {e}"),
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
        print!("{}", crate::scenario::junit(&outcomes, &errors));
    }
    Ok(if failed == 0 && errors.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
