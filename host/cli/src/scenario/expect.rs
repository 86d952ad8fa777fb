//! Checking a step's `[steps.expect]` against what happened, and the line diff failures show.

use std::collections::BTreeMap;

use cachet_dev_idp::DevIdp;
use cachet_limits::CacheLimits;
use cachet_runtime::{
    Clock as _, ErrorCodes, FlowResult, ManualClock, PartitionKey, Runtime, inspect,
};
use serde_json::{Value, json};

use super::model::Expect;

/// A unified line diff of two pretty-printed JSON values.
pub(super) fn diff(expected: &Value, actual: &Value) -> String {
    let e = serde_json::to_string_pretty(expected).unwrap_or_default();
    let a = serde_json::to_string_pretty(actual).unwrap_or_default();
    let (e, a): (Vec<&str>, Vec<&str>) = (e.lines().collect(), a.lines().collect());
    // Longest common subsequence, small inputs only (commands of one step).
    let (n, m) = (e.len(), a.len());
    let mut lcs = vec![vec![0u32; m + 1]; n + 1];
    for i in (0..n).rev() {
        for j in (0..m).rev() {
            lcs[i][j] = if e[i] == a[j] {
                lcs[i + 1][j + 1] + 1
            } else {
                lcs[i + 1][j].max(lcs[i][j + 1])
            };
        }
    }
    let (mut i, mut j, mut out) = (0, 0, String::from("    --- expected\n    +++ actual\n"));
    while i < n || j < m {
        if i < n && j < m && e[i] == a[j] {
            out.push_str(&format!("      {}\n", e[i]));
            i += 1;
            j += 1;
        } else if j < m && (i == n || lcs[i][j + 1] >= lcs[i + 1][j]) {
            out.push_str(&format!("    + {}\n", a[j]));
            j += 1;
        } else {
            out.push_str(&format!("    - {}\n", e[i]));
            i += 1;
        }
    }
    out
}

/// Checks `expect` after a step that produced `results` (one per login); the first
/// difference is the error. A step expecting exact `commands` records the actual ones for
/// `--update`.
#[allow(clippy::too_many_arguments)]
pub(super) async fn check(
    expect: &Expect,
    results: &[FlowResult],
    runtime: &Runtime,
    partition: &PartitionKey,
    limits: &CacheLimits,
    clock: &ManualClock,
    idp: Option<&DevIdp>,
    codes: &ErrorCodes,
    step: usize,
    actual_commands: &mut BTreeMap<usize, Vec<Value>>,
) -> Result<(), String> {
    if let Some(prefix) = &expect.redirect_to {
        for (n, r) in results.iter().enumerate() {
            let url = r.redirect.as_ref().map(|r| r.url.as_str());
            if !url.is_some_and(|u| u.starts_with(prefix.as_str())) {
                return Err(format!(
                    "redirect of login {}: expected a URL starting with {prefix}, got {}",
                    n + 1,
                    url.unwrap_or("no redirect")
                ));
            }
        }
    }
    if let Some(outcome) = &expect.outcome {
        for (n, r) in results.iter().enumerate() {
            let actual = serde_json::to_value(r.outcome).unwrap_or_default();
            if actual != json!(outcome) {
                let why = r
                    .actions
                    .iter()
                    .find_map(|a| {
                        a.error
                            .as_ref()
                            .map(|e| format!(" ({} failed: {:?}: {})", a.name, e.kind, e.message))
                    })
                    .unwrap_or_default();
                return Err(format!(
                    "outcome of login {}: expected {outcome}, got {actual}{why}",
                    n + 1
                ));
            }
        }
    }
    let first = results.first();
    if let Some(expected) = &expect.commands {
        let r = first.ok_or("`commands` expected, but the step ran no event")?;
        let actual: Vec<Value> = r
            .commands
            .iter()
            .map(|c| serde_json::to_value(c).unwrap_or_default())
            .collect();
        actual_commands.insert(step, actual.clone());
        if &actual != expected {
            return Err(format!(
                "commands differ:\n{}",
                diff(&json!(expected), &json!(actual))
            ));
        }
    }
    if let Some(wanted) = &expect.commands_contain {
        let r = first.ok_or("`commands_contain` expected, but the step ran no event")?;
        let actual: Vec<Value> = r
            .commands
            .iter()
            .map(|c| serde_json::to_value(c).unwrap_or_default())
            .collect();
        for w in wanted {
            if !actual.contains(w) {
                return Err(format!(
                    "no command {w} among:\n{}",
                    serde_json::to_string_pretty(&actual).unwrap_or_default()
                ));
            }
        }
    }
    if let Some(e) = &expect.error {
        let r = first.ok_or("`error` expected, but the step ran no event")?;
        let action = r
            .actions
            .iter()
            .find(|a| a.name == e.action)
            .ok_or_else(|| format!("error: action {} did not run", e.action))?;
        let failure = action
            .error
            .as_ref()
            .ok_or_else(|| format!("error: {} succeeded; expected it to fail", e.action))?;
        let kind = serde_json::to_value(failure.kind).unwrap_or_default();
        if let Some(expected) = &e.kind
            && kind != json!(expected)
        {
            return Err(format!(
                "error of {}: expected kind {expected}, got {kind} ({})",
                e.action, failure.message
            ));
        }
        if let Some(part) = &e.message_contains
            && !failure.message.contains(part.as_str())
        {
            return Err(format!(
                "error of {}: message {:?} does not contain {part:?}",
                e.action, failure.message
            ));
        }
    }
    if let Some(expected) = &expect.codes {
        // A set in name order: which codes the actions met, not how often.
        let mut actual: Vec<String> = codes.codes().iter().map(ToString::to_string).collect();
        actual.sort();
        let mut want = expected.clone();
        want.sort();
        want.dedup();
        if actual != want {
            return Err(format!(
                "cache error codes: expected {want:?}, got {actual:?}"
            ));
        }
    }
    if let Some(c) = &expect.cache {
        let report = inspect(runtime.store().as_ref(), partition, limits, clock.now_ms())
            .await
            .map_err(|e| format!("cannot read the cache: {e}"))?;
        if let Some(n) = c.entries
            && report.usage.entries != n
        {
            return Err(format!(
                "cache entries: expected {n}, got {}",
                report.usage.entries
            ));
        }
        if let Some(n) = c.bytes
            && report.usage.bytes != n
        {
            return Err(format!(
                "cache bytes: expected {n}, got {}",
                report.usage.bytes
            ));
        }
        let mut keys: Vec<&str> = report
            .entries_lru_first
            .iter()
            .map(|e| e.key.as_str())
            .collect();
        keys.sort_unstable();
        if let Some(expected) = &c.keys {
            let mut want: Vec<&str> = expected.iter().map(String::as_str).collect();
            want.sort_unstable();
            if keys != want {
                return Err(format!("cache keys: expected {want:?}, got {keys:?}"));
            }
        }
        for key in c.contains_keys.iter().flatten() {
            if !keys.contains(&key.as_str()) {
                return Err(format!("cache: no live entry {key:?} (keys: {keys:?})"));
            }
        }
        for (key, secs) in c.expires_in_secs.iter().flatten() {
            let entry = report
                .entries_lru_first
                .iter()
                .find(|e| &e.key == key)
                .ok_or_else(|| format!("cache: no live entry {key:?}"))?;
            let actual = entry.expires_in_ms / 1000;
            if actual.abs_diff(*secs) > 1 {
                return Err(format!(
                    "cache entry {key:?} expires in {actual} s, expected {secs} s"
                ));
            }
        }
    }
    let stats = idp.map(DevIdp::stats);
    if let Some(n) = expect.token_requests {
        let stats =
            stats.ok_or("`token_requests` needs a dev IdP ({{idp.…}} in the secrets, or [idp])")?;
        if stats.token_requests != n {
            return Err(format!(
                "token requests (so far): expected {n}, got {}",
                stats.token_requests
            ));
        }
    }
    if let Some(n) = expect.management_requests {
        let stats = stats.ok_or("`management_requests` needs a dev IdP")?;
        if stats.management_requests != n {
            return Err(format!(
                "management requests (so far): expected {n}, got {}",
                stats.management_requests
            ));
        }
    }
    Ok(())
}
