//! `cachet test --update`: writes the commands a step actually produced into the scenario's
//! file as its expectation, keeping the rest of the file (comments, order) as written.

use serde_json::{Value, json};

use std::path::PathBuf;

use super::Outcome;
use super::expect::diff;

/// Why `--update` could not rewrite a scenario file; the file is then left as it was.
#[derive(Debug, thiserror::Error)]
pub enum UpdateError {
    /// The file could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The scenario file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file changed since it was run and no longer parses.
    #[error("{}: no longer parses: {message}", path.display())]
    Parse {
        /// The scenario file.
        path: PathBuf,
        /// The parser's message.
        message: String,
    },
    /// The file parses, but not where the update must write, or the value cannot be written.
    #[error("{}: {message}", path.display())]
    Shape {
        /// The scenario file.
        path: PathBuf,
        /// What is in the way.
        message: &'static str,
    },
}

/// Rewrites the expected `commands` of the steps in `outcome.actual_commands` in the
/// scenario's file; returns a description of what changed per step.
pub fn update(outcome: &Outcome) -> Result<Vec<String>, UpdateError> {
    let path = &outcome.path;
    let io = |source| UpdateError::Io {
        path: path.clone(),
        source,
    };
    let parse = |message: String| UpdateError::Parse {
        path: path.clone(),
        message,
    };
    let shape = |message| UpdateError::Shape {
        path: path.clone(),
        message,
    };
    let text = std::fs::read_to_string(path).map_err(io)?;
    let mut changed = Vec::new();
    let new_text = if outcome.path.extension().is_some_and(|e| e == "json") {
        let mut doc: Value = serde_json::from_str(&text).map_err(|e| parse(e.to_string()))?;
        for (step, actual) in &outcome.actual_commands {
            let slot = &mut doc["steps"][*step]["expect"]["commands"];
            if slot != &json!(actual) {
                changed.push(format!(
                    "step {}:\n{}",
                    step + 1,
                    diff(slot, &json!(actual))
                ));
                *slot = json!(actual);
            }
        }
        serde_json::to_string_pretty(&doc).map_err(|e| parse(e.to_string()))? + "\n"
    } else {
        let mut doc: toml_edit::DocumentMut = text
            .parse()
            .map_err(|e: toml_edit::TomlError| parse(e.to_string()))?;
        for (step, actual) in &outcome.actual_commands {
            let steps = doc["steps"]
                .as_array_of_tables_mut()
                .ok_or_else(|| shape("`steps` is not an array of tables"))?;
            let table = steps
                .get_mut(*step)
                .ok_or_else(|| shape("a step that ran is no longer in the file"))?;
            let expect = table["expect"]
                .as_table_like_mut()
                .ok_or_else(|| shape("`expect` is not a table"))?;
            let old: Value = expect
                .get("commands")
                .and_then(|i| i.as_value())
                .map(toml_to_json)
                .unwrap_or(Value::Null);
            if old != json!(actual) {
                changed.push(format!(
                    "step {}:\n{}",
                    step + 1,
                    diff(&old, &json!(actual))
                ));
                let mut array = toml_edit::Array::new();
                for command in actual {
                    let mut v = json_to_toml(command).ok_or_else(|| shape(
                        "a command holds null, which TOML cannot write: edit this expectation by \
                         hand, or write the scenario in JSON",
                    ))?;
                    v.decor_mut().set_prefix("\n    ");
                    array.push_formatted(v);
                }
                array.set_trailing("\n");
                array.set_trailing_comma(true);
                expect.insert(
                    "commands",
                    toml_edit::Item::Value(toml_edit::Value::Array(array)),
                );
            }
        }
        doc.to_string()
    };
    if !changed.is_empty() {
        std::fs::write(path, new_text).map_err(io)?;
    }
    Ok(changed)
}

/// `value` as TOML, or `None` if it holds a `null` (which TOML cannot write).
fn json_to_toml(value: &Value) -> Option<toml_edit::Value> {
    Some(match value {
        Value::Null => return None,
        Value::Bool(b) => toml_edit::Value::from(*b),
        Value::Number(n) => match n.as_i64() {
            Some(i) => toml_edit::Value::from(i),
            None => toml_edit::Value::from(n.as_f64()?),
        },
        Value::String(s) => toml_edit::Value::from(s.as_str()),
        Value::Array(items) => toml_edit::Value::Array(
            items
                .iter()
                .map(json_to_toml)
                .collect::<Option<toml_edit::Array>>()?,
        ),
        Value::Object(map) => {
            let mut table = toml_edit::InlineTable::new();
            for (k, v) in map {
                table.insert(k.as_str(), json_to_toml(v)?);
            }
            toml_edit::Value::InlineTable(table)
        }
    })
}

/// A TOML value as JSON (dates as their text).
fn toml_to_json(value: &toml_edit::Value) -> Value {
    match value {
        toml_edit::Value::String(s) => json!(s.value()),
        toml_edit::Value::Integer(i) => json!(i.value()),
        toml_edit::Value::Float(f) => json!(f.value()),
        toml_edit::Value::Boolean(b) => json!(b.value()),
        toml_edit::Value::Datetime(d) => json!(d.value().to_string()),
        toml_edit::Value::Array(a) => Value::Array(a.iter().map(toml_to_json).collect()),
        toml_edit::Value::InlineTable(t) => Value::Object(
            t.iter()
                .map(|(k, v)| (k.to_string(), toml_to_json(v)))
                .collect(),
        ),
    }
}
