//! Reading a scenario: syntax and fields with the line of each mistake, the files it names,
//! and finding scenario files under directories.

use std::path::{Path, PathBuf};

use super::model::{Raw, Run, parse_idp};
use super::{Scenario, ScenarioError};

/// 1-based line of byte `offset` in `text`.
fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].matches('\n').count() + 1
}

/// The line where `needle` (a value as written) first appears, for errors found after parsing.
fn line_of_value(text: &str, needle: &str) -> usize {
    text.find(needle).map_or(1, |at| line_of(text, at))
}

impl Scenario {
    /// Reads and checks the scenario at `path`: syntax, fields, and that every file it names
    /// exists.
    pub fn load(path: &Path) -> Result<Scenario, ScenarioError> {
        let fail = |line: usize, message: String| ScenarioError {
            path: path.to_path_buf(),
            line,
            message,
        };
        let text =
            std::fs::read_to_string(path).map_err(|e| fail(0, format!("cannot read: {e}")))?;
        let json = path.extension().is_some_and(|e| e == "json");
        let raw: Raw = if json {
            serde_json::from_str(&text).map_err(|e| fail(e.line(), e.to_string()))?
        } else {
            toml::from_str(&text).map_err(|e| {
                let line = e.span().map_or(1, |s| line_of(&text, s.start));
                fail(line, e.message().to_string())
            })?
        };
        let base = path.parent().unwrap_or(Path::new("."));
        if raw.actions.is_empty() {
            return Err(fail(
                line_of_value(&text, "actions"),
                "`actions` is empty: name at least one action (.wasm or .js)".into(),
            ));
        }
        let mut actions = Vec::new();
        for action in &raw.actions {
            let resolved = base.join(action);
            if !resolved.is_file() {
                return Err(fail(
                    line_of_value(&text, action),
                    format!(
                        "actions: {} does not exist (paths are relative to the scenario file)",
                        resolved.display()
                    ),
                ));
            }
            actions.push(resolved);
        }
        if raw.steps.is_empty() {
            return Err(fail(
                line_of_value(&text, "steps"),
                "no steps: add [[steps]] with a `run`, `continue`, `advance_secs` or `idp`".into(),
            ));
        }
        let mut events = Vec::new();
        for (i, step) in raw.steps.iter().enumerate() {
            let what = [
                step.run.is_some(),
                step.resume.is_some(),
                step.advance_secs.is_some(),
                step.idp.is_some(),
            ]
            .iter()
            .filter(|b| **b)
            .count();
            let at = line_of_value(&text, step.name.as_deref().unwrap_or("[[steps]]"));
            if what != 1 {
                return Err(fail(
                    at,
                    format!(
                        "steps[{i}]: a step has exactly one of `run`, `continue`, `advance_secs` \
                         or `idp`"
                    ),
                ));
            }
            if let Some(idp) = &step.idp
                && parse_idp(idp).is_none()
            {
                return Err(fail(
                    line_of_value(&text, idp),
                    format!(
                        "steps[{i}].idp = {idp:?}: use \"revoke\", \"slow:MS\", \"fail:STATUS\" or \"normal\""
                    ),
                ));
            }
            let event = match &step.run {
                Some(Run {
                    event_file: Some(file),
                    event: None,
                    ..
                }) => {
                    let resolved = base.join(file);
                    let text_of = std::fs::read_to_string(&resolved).map_err(|e| {
                        fail(
                            line_of_value(&text, file),
                            format!(
                                "steps[{i}].run.event_file: cannot read {}: {e}",
                                resolved.display()
                            ),
                        )
                    })?;
                    Some(serde_json::from_str(&text_of).map_err(|e| {
                        fail(
                            line_of_value(&text, file),
                            format!(
                                "steps[{i}].run.event_file: {} is not JSON: {e}",
                                resolved.display()
                            ),
                        )
                    })?)
                }
                Some(Run {
                    event_file: Some(file),
                    event: Some(_),
                    ..
                }) => {
                    return Err(fail(
                        line_of_value(&text, file),
                        format!("steps[{i}].run: give `event` or `event_file`, not both"),
                    ));
                }
                _ => None,
            };
            events.push(event);
        }
        let name = raw.name.clone().unwrap_or_else(|| {
            path.file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default()
        });
        Ok(Scenario {
            name,
            path: path.to_path_buf(),
            raw,
            actions,
            events,
        })
    }
}

/// Finds scenario files: each path is a file, or a directory searched recursively for
/// `*.toml` and `*.json` files that have a `steps` field.
pub fn discover(paths: &[PathBuf]) -> Result<Vec<PathBuf>, ScenarioError> {
    let mut found = Vec::new();
    for path in paths {
        if path.is_dir() {
            walk(path, &mut found).map_err(|e| ScenarioError {
                path: path.clone(),
                line: 0,
                message: e.to_string(),
            })?;
        } else if path.is_file() {
            found.push(path.clone());
        } else {
            return Err(ScenarioError {
                path: path.clone(),
                line: 0,
                message: "no such file or directory".into(),
            });
        }
    }
    found.sort();
    Ok(found)
}

fn walk(dir: &Path, found: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if path.is_dir() {
            if name != "node_modules" && name != "target" && !name.starts_with('.') {
                walk(&path, found)?;
            }
        } else if (name.ends_with(".toml") || name.ends_with(".json"))
            && name != "Cargo.toml"
            && name != "package.json"
            && name != "package-lock.json"
            && std::fs::read_to_string(&path).is_ok_and(|t| t.contains("steps"))
        {
            found.push(path);
        }
    }
    Ok(())
}
