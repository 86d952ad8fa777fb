//! Running a scenario: a runtime on a manual clock and a memory store with the scenario's
//! quotas, a dev IdP when the scenario uses one, then each step in order, checked as it ends.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use cachet_dev_idp::{DevIdp, DevIdpConfig};
use cachet_limits::SnapshotEntry;
use cachet_loader::ActionLoader;
use cachet_loader::js::JsBuilder;
use cachet_runtime::{
    ActionConfig, Clock as _, ContinueParams, ErrorCodes, FlowResult, ManualClock, MemoryStore,
    PartitionKey, Runtime,
};
use serde_json::{Value, json};

use super::expect::check;
use super::model::{IdpCommand, parse_idp, step_kind};
use super::{Outcome, Scenario, T0};

/// `text` with the dev IdP's `{{idp.…}}` placeholders filled in.
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
    let codes = Arc::new(ErrorCodes::new());
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
    let mut plain_http = Vec::new();
    if let Some(idp) = &idp {
        hosts.push(idp.host_port());
        plain_http.push(idp.host_port());
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
            plain_http_hosts: plain_http.clone(),
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

    // The last redirect, for the next `continue` step.
    let mut redirected: Option<cachet_runtime::Redirect> = None;
    for (i, step) in raw.steps.iter().enumerate() {
        let label = format!(
            "step {} ({})",
            i + 1,
            step.name.as_deref().unwrap_or(step_kind(step))
        );
        let fail = |message: String| format!("{label}: {message}");
        codes.clear();
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
        } else if let Some(resume) = &step.resume {
            let redirect = redirected
                .take()
                .ok_or_else(|| fail("nothing to continue: no earlier step redirected".into()))?;
            let mut query = resume.query.clone();
            let url = url::Url::parse(&redirect.url)
                .map_err(|e| fail(format!("the redirect's URL is not a URL: {e}")))?;
            for name in &resume.from_redirect {
                let value = url
                    .query_pairs()
                    .find(|(k, _)| k == name.as_str())
                    .map(|(_, v)| v.into_owned())
                    .ok_or_else(|| fail(format!("the redirect's URL has no `{name}` parameter")))?;
                query.insert(name.clone(), Value::String(value));
            }
            if let Some(answer) = &resume.answer {
                let mut claims = answer.claims.clone();
                claims.insert("state".into(), Value::from(redirect.state.as_str()));
                claims.insert("exp".into(), Value::from(clock.now_ms() / 1000 + 300));
                let token = jsonwebtoken::encode(
                    &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
                    &claims,
                    &jsonwebtoken::EncodingKey::from_secret(answer.secret.as_bytes()),
                )
                .map_err(|e| fail(format!("cannot sign the page's answer: {e}")))?;
                query.insert(answer.parameter.clone(), Value::String(token));
            }
            let params = ContinueParams {
                query,
                body: resume.body.clone(),
            };
            let result = runtime
                .continue_actions(
                    &partition.tenant,
                    partition.trigger,
                    &actions,
                    &redirect.state,
                    params,
                )
                .await
                .map_err(|e| fail(format!("the flow could not be continued: {e}")))?;
            results.push(result);
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
        if let Some(r) = results.iter().rev().find_map(|r| r.redirect.as_ref()) {
            redirected = Some(r.clone());
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
