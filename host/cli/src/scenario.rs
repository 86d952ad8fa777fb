//! `cachet test`: scenario files that run actions in the real sandbox, with exact quotas, a
//! manual clock and an in-process dev IdP, and check what happened after each step.
//!
//! A scenario (TOML, or the same shape in JSON) names the actions, trigger, tenant, secrets,
//! policy and limits, an optional initial cache, and ordered steps. A step runs an event
//! (`[steps.run]`: inline, from a file, or the realistic default with dotted overrides; `logins
//! = N` runs N at once), advances the clock (`advance_secs`), or tells the dev IdP what to do
//! (`idp = "revoke" | "slow:MS" | "fail:STATUS" | "normal"`). `[steps.expect]` then checks the
//! outcome, commands (exact or contained), an action's error, the cache, the error codes
//! actions met, and the dev IdP's token and management requests (cumulative).
//!
//! Secrets and allow-listed hosts may use `{{idp.url}}`, `{{idp.host}}`, `{{idp.token_url}}`,
//! `{{idp.audience}}`, `{{idp.client_id}}`, `{{idp.client_secret}}`, `{{idp.jwks_url}}`,
//! `{{idp.issuer}}`: a dev IdP is then started for the scenario (sharing its clock) and put on
//! every action's allow-list, so the token pattern is testable with no network.

use cachet_loader::ActionLoader;
use cachet_loader::js::JsBuilder;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use cachet_dev_idp::{DevIdp, DevIdpConfig, TokenMode};
use cachet_host::{
    ActionConfig, CacheOp, CacheOpResult, Clock as _, FlowResult, ManualClock, MemoryStore,
    Observer, PartitionKey, Runtime, Trigger, inspect,
};
use cachet_limits::{CacheLimits, OverflowPolicy, SnapshotEntry};
use serde::Deserialize;
use serde_json::{Value, json};

/// The time every scenario starts at: 2023-11-14T22:13:20Z (tokens and expiries are relative).
const T0: u64 = 1_700_000_000_000;

/// A scenario file that cannot be used: the file, the line and what is wrong.
#[derive(Debug, thiserror::Error)]
#[error("{}:{line}: {message}", path.display())]
pub struct ScenarioError {
    /// The file.
    pub path: PathBuf,
    /// 1-based line (0 when the file could not be read at all).
    pub line: usize,
    /// What is wrong, naming the field.
    pub message: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    name: Option<String>,
    trigger: Trigger,
    #[serde(default = "default_tenant")]
    tenant: String,
    #[serde(default)]
    policy: OverflowPolicy,
    actions: Vec<String>,
    #[serde(default)]
    secrets: BTreeMap<String, String>,
    #[serde(default)]
    allow_hosts: Vec<String>,
    #[serde(default)]
    limits: Option<CacheLimits>,
    #[serde(default)]
    idp: Option<RawIdp>,
    #[serde(default)]
    cache: Vec<RawEntry>,
    steps: Vec<Step>,
}

fn default_tenant() -> String {
    "default".into()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawIdp {
    /// Lifetime of the tokens it issues, in seconds (default 3600).
    token_ttl_secs: Option<u64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEntry {
    key: String,
    value: String,
    /// Lifetime from the scenario's start, in seconds (default: the cache's default lifetime,
    /// 15 min, as for `api.cache.set` without a `ttl`).
    ttl_secs: Option<u64>,
}

#[derive(Deserialize, Clone)]
#[serde(deny_unknown_fields)]
struct Step {
    name: Option<String>,
    run: Option<Run>,
    advance_secs: Option<u64>,
    idp: Option<String>,
    #[serde(default)]
    expect: Expect,
}

#[derive(Deserialize, Clone, Default)]
#[serde(deny_unknown_fields)]
struct Run {
    event: Option<Value>,
    event_file: Option<String>,
    #[serde(default)]
    set: BTreeMap<String, Value>,
    #[serde(default = "one")]
    logins: usize,
}

fn one() -> usize {
    1
}

#[derive(Deserialize, Clone, Default)]
#[serde(deny_unknown_fields)]
struct Expect {
    outcome: Option<String>,
    commands: Option<Vec<Value>>,
    commands_contain: Option<Vec<Value>>,
    error: Option<ExpectError>,
    cache: Option<ExpectCache>,
    codes: Option<Vec<String>>,
    token_requests: Option<u64>,
    management_requests: Option<u64>,
}

#[derive(Deserialize, Clone)]
#[serde(deny_unknown_fields)]
struct ExpectError {
    action: String,
    kind: Option<String>,
    message_contains: Option<String>,
}

#[derive(Deserialize, Clone)]
#[serde(deny_unknown_fields)]
struct ExpectCache {
    entries: Option<usize>,
    bytes: Option<usize>,
    /// Exactly these live keys (any order).
    keys: Option<Vec<String>>,
    /// At least these live keys.
    contains_keys: Option<Vec<String>>,
    /// Remaining lifetime of entries, in seconds (within one second).
    expires_in_secs: Option<BTreeMap<String, u64>>,
}

/// A parsed scenario, its paths resolved.
pub struct Scenario {
    /// Its name (`name`, else the file stem).
    pub name: String,
    /// The file.
    pub path: PathBuf,
    raw: Raw,
    actions: Vec<PathBuf>,
    events: Vec<Option<Value>>,
}

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
                "no steps: add [[steps]] with a `run`, `advance_secs` or `idp`".into(),
            ));
        }
        let mut events = Vec::new();
        for (i, step) in raw.steps.iter().enumerate() {
            let what = [
                step.run.is_some(),
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
                    format!("steps[{i}]: a step has exactly one of `run`, `advance_secs` or `idp`"),
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

fn parse_idp(spec: &str) -> Option<IdpCommand> {
    match spec.split_once(':') {
        None if spec == "revoke" => Some(IdpCommand::Revoke),
        None if spec == "normal" => Some(IdpCommand::Mode(TokenMode::Normal)),
        Some(("slow", ms)) => ms
            .parse()
            .ok()
            .map(|ms| IdpCommand::Mode(TokenMode::Slow(Duration::from_millis(ms)))),
        Some(("fail", status)) => status
            .parse()
            .ok()
            .map(|s| IdpCommand::Mode(TokenMode::Status(s))),
        _ => None,
    }
}

enum IdpCommand {
    Revoke,
    Mode(TokenMode),
}

/// How one scenario went.
pub struct Outcome {
    /// The scenario's name.
    pub name: String,
    /// Its file.
    pub path: PathBuf,
    /// The first difference, or `None` when every expectation held.
    pub failure: Option<String>,
    /// How long it took.
    pub elapsed: Duration,
    /// The actual commands of each step that expects exact commands, for `--update`.
    pub actual_commands: BTreeMap<usize, Vec<Value>>,
}

/// Records the error codes actions met in a step.
#[derive(Default)]
struct Codes(Mutex<Vec<String>>);

impl Observer for Codes {
    fn cache_operation(&self, _: &PartitionKey, _: CacheOp, result: CacheOpResult) {
        if let CacheOpResult::Error(code) = result {
            self.0
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(code.to_string());
        }
    }
}

fn substitute(text: &str, idp: Option<&DevIdp>) -> String {
    let Some(idp) = idp else {
        return text.to_string();
    };
    text.replace("{{idp.url}}", &format!("http://{}", idp.host_port()))
        .replace("{{idp.host}}", &idp.host_port())
        .replace("{{idp.token_url}}", &idp.token_url())
        .replace("{{idp.audience}}", idp.audience())
        .replace("{{idp.client_id}}", idp.client_id())
        .replace("{{idp.client_secret}}", idp.client_secret())
        .replace("{{idp.jwks_url}}", &idp.jwks_url())
        .replace("{{idp.issuer}}", idp.issuer())
}

/// Sets `value` at a dotted `path` (`user.app_metadata.plan`) of `event`, creating objects.
fn set_path(event: &mut Value, path: &str, value: Value) {
    let mut at = event;
    let mut parts = path.split('.').peekable();
    while let Some(part) = parts.next() {
        if !at.is_object() {
            *at = json!({});
        }
        let map = at.as_object_mut().expect("made an object above");
        if parts.peek().is_none() {
            map.insert(part.to_string(), value);
            return;
        }
        at = map.entry(part.to_string()).or_insert_with(|| json!({}));
    }
}

/// Runs a scenario. Errors that are not expectations (an action that does not build or load)
/// are failures too, with their message.
pub async fn run(scenario: &Scenario) -> Outcome {
    let started = Instant::now();
    let mut actual_commands = BTreeMap::new();
    let failure = run_steps(scenario, &mut actual_commands).await.err();
    Outcome {
        name: scenario.name.clone(),
        path: scenario.path.clone(),
        failure,
        elapsed: started.elapsed(),
        actual_commands,
    }
}

async fn run_steps(
    scenario: &Scenario,
    actual_commands: &mut BTreeMap<usize, Vec<Value>>,
) -> Result<(), String> {
    let raw = &scenario.raw;
    let clock = ManualClock::new(T0);
    let uses_idp = raw.idp.is_some()
        || raw
            .secrets
            .values()
            .chain(&raw.allow_hosts)
            .any(|v| v.contains("{{idp."));
    let idp = if uses_idp {
        let ttl = raw
            .idp
            .as_ref()
            .and_then(|i| i.token_ttl_secs)
            .unwrap_or(3600);
        Some(
            DevIdp::start(DevIdpConfig {
                token_ttl: Duration::from_secs(ttl),
                clock: Arc::new(clock.clone()),
                ..DevIdpConfig::default()
            })
            .await
            .map_err(|e| format!("cannot start the dev IdP: {e}"))?,
        )
    } else {
        None
    };
    let limits = raw.limits.unwrap_or_default();
    let codes = Arc::new(Codes::default());
    let runtime = Runtime::builder()
        .store(Arc::new(MemoryStore::new(limits, raw.policy)))
        .cache_limits(limits)
        .overflow_policy(raw.policy)
        .clock(Arc::new(clock.clone()))
        .observer(codes.clone())
        .instance_pool_size(64)
        .compiled_cache_dir(JsBuilder::default_cache_dir().join("compiled"))
        .build()
        .map_err(|e| format!("cannot build the runtime: {e}"))?;
    let secrets: BTreeMap<String, String> = raw
        .secrets
        .iter()
        .map(|(k, v)| (k.clone(), substitute(v, idp.as_ref())))
        .collect();
    let mut hosts: Vec<String> = raw
        .allow_hosts
        .iter()
        .map(|h| substitute(h, idp.as_ref()))
        .collect();
    if let Some(idp) = &idp {
        hosts.push(idp.host_port());
    }
    let mut actions = Vec::new();
    for path in &scenario.actions {
        let name = match path.file_stem().and_then(|s| s.to_str()) {
            Some("action") => path
                .parent()
                .and_then(|d| d.file_name())
                .and_then(|d| d.to_str())
                .unwrap_or("action"),
            Some(stem) => stem,
            None => "action",
        }
        .to_string();
        let config = ActionConfig {
            secrets: secrets.clone(),
            allowed_hosts: hosts.clone(),
            ..ActionConfig::default()
        };
        let (rt, path, trigger) = (runtime.clone(), path.clone(), raw.trigger);
        let loader = ActionLoader::with_progress(|message| eprintln!("cachet: {message}"));
        let action =
            tokio::task::spawn_blocking(move || loader.load(&rt, &name, trigger, &path, config))
                .await
                .map_err(|e| format!("loading stopped: {e}"))?
                .map_err(|e| e.to_string())?;
        actions.push(action);
    }
    let partition = PartitionKey::new(raw.tenant.clone(), raw.trigger);
    if !raw.cache.is_empty() {
        let entries = raw
            .cache
            .iter()
            .map(|e| SnapshotEntry {
                key: e.key.clone(),
                value: e.value.clone(),
                expires_at: T0 + e.ttl_secs.map_or(limits.default_ttl_ms, |s| s * 1000),
            })
            .collect();
        runtime
            .store()
            .restore(&partition, entries, T0)
            .await
            .map_err(|e| format!("cannot set up the initial cache: {e}"))?;
    }
    let default_event: Value =
        serde_json::from_str(raw.trigger.default_event()).map_err(|e| e.to_string())?;

    for (i, step) in raw.steps.iter().enumerate() {
        let label = format!(
            "step {} ({})",
            i + 1,
            step.name.as_deref().unwrap_or(step_kind(step))
        );
        let fail = |message: String| format!("{label}: {message}");
        codes
            .0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
        let mut results: Vec<FlowResult> = Vec::new();
        if let Some(secs) = step.advance_secs {
            clock.advance(secs * 1000);
        } else if let Some(spec) = &step.idp {
            let idp = idp.as_ref().ok_or_else(|| {
                fail("`idp` needs a dev IdP: use {{idp.…}} in the secrets or add [idp]".into())
            })?;
            match parse_idp(spec) {
                Some(IdpCommand::Revoke) => idp.revoke_all(),
                Some(IdpCommand::Mode(mode)) => idp.set_mode(mode),
                None => return Err(fail(format!("bad idp command {spec:?}"))),
            }
        } else if let Some(run) = &step.run {
            let mut event = scenario.events[i]
                .clone()
                .or_else(|| run.event.clone())
                .unwrap_or_else(|| default_event.clone());
            for (path, value) in &run.set {
                set_path(&mut event, path, value.clone());
            }
            let event = event.to_string();
            let runs = (0..run.logins.max(1)).map(|_| {
                let (rt, actions, partition, event) = (
                    runtime.clone(),
                    actions.clone(),
                    partition.clone(),
                    event.clone(),
                );
                tokio::spawn(async move {
                    rt.execute_actions(&partition.tenant, partition.trigger, &actions, &event)
                        .await
                })
            });
            for handle in runs.collect::<Vec<_>>() {
                let result = handle
                    .await
                    .map_err(|e| fail(format!("an execution stopped: {e}")))?;
                results.push(result.map_err(|e| fail(format!("the flow could not run: {e}")))?);
            }
        }
        check(
            &step.expect,
            &results,
            &runtime,
            &partition,
            &limits,
            &clock,
            idp.as_ref(),
            &codes,
            i,
            actual_commands,
        )
        .await
        .map_err(fail)?;
    }
    Ok(())
}

fn step_kind(step: &Step) -> &'static str {
    if step.run.is_some() {
        "run"
    } else if step.advance_secs.is_some() {
        "advance"
    } else {
        "idp"
    }
}

/// A unified line diff of two pretty-printed JSON values.
fn diff(expected: &Value, actual: &Value) -> String {
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

#[allow(clippy::too_many_arguments)]
async fn check(
    expect: &Expect,
    results: &[FlowResult],
    runtime: &Runtime,
    partition: &PartitionKey,
    limits: &CacheLimits,
    clock: &ManualClock,
    idp: Option<&DevIdp>,
    codes: &Codes,
    step: usize,
    actual_commands: &mut BTreeMap<usize, Vec<Value>>,
) -> Result<(), String> {
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
        let mut actual = codes
            .0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        actual.sort();
        actual.dedup();
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

fn xml_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// JUnit XML for CI: one test case per scenario.
pub fn junit(outcomes: &[Outcome], errors: &[ScenarioError]) -> String {
    let failures = outcomes.iter().filter(|o| o.failure.is_some()).count() + errors.len();
    let total: f64 = outcomes.iter().map(|o| o.elapsed.as_secs_f64()).sum();
    let mut out = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites>\n<testsuite name=\"cachet\" tests=\"{}\" failures=\"{failures}\" time=\"{total:.3}\">\n",
        outcomes.len() + errors.len()
    );
    for o in outcomes {
        out.push_str(&format!(
            "  <testcase classname=\"{}\" name=\"{}\" time=\"{:.3}\"",
            xml_escape(&o.path.display().to_string()),
            xml_escape(&o.name),
            o.elapsed.as_secs_f64()
        ));
        match &o.failure {
            None => out.push_str("/>\n"),
            Some(f) => {
                let first = f.lines().next().unwrap_or("");
                out.push_str(&format!(
                    ">\n    <failure message=\"{}\">{}</failure>\n  </testcase>\n",
                    xml_escape(first),
                    xml_escape(f)
                ));
            }
        }
    }
    for e in errors {
        out.push_str(&format!(
            "  <testcase classname=\"{0}\" name=\"{0}\">\n    <error message=\"{1}\">{1}</error>\n  </testcase>\n",
            xml_escape(&e.path.display().to_string()),
            xml_escape(&e.to_string())
        ));
    }
    out.push_str("</testsuite>\n</testsuites>\n");
    out
}

/// Rewrites the expected `commands` of the steps in `outcome.actual_commands` in the
/// scenario's file; returns a description of what changed per step.
pub fn update(outcome: &Outcome) -> Result<Vec<String>, String> {
    let text = std::fs::read_to_string(&outcome.path).map_err(|e| e.to_string())?;
    let mut changed = Vec::new();
    let new_text = if outcome.path.extension().is_some_and(|e| e == "json") {
        let mut doc: Value = serde_json::from_str(&text).map_err(|e| e.to_string())?;
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
        serde_json::to_string_pretty(&doc).map_err(|e| e.to_string())? + "\n"
    } else {
        let mut doc: toml_edit::DocumentMut = text
            .parse()
            .map_err(|e: toml_edit::TomlError| e.to_string())?;
        for (step, actual) in &outcome.actual_commands {
            let steps = doc["steps"]
                .as_array_of_tables_mut()
                .ok_or("`steps` is not an array of tables")?;
            let table = steps.get_mut(*step).ok_or("step out of range")?;
            let expect = table["expect"]
                .as_table_like_mut()
                .ok_or("`expect` is not a table")?;
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
                    let mut v = json_to_toml(command).ok_or(
                        "a command holds null, which TOML cannot write: edit this expectation by \
                         hand, or write the scenario in JSON",
                    )?;
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
        std::fs::write(&outcome.path, new_text).map_err(|e| e.to_string())?;
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
