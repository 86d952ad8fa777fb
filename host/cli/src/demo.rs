//! `cachet demo`: the Management-API token story, told with real numbers.
//!
//! An in-process dev IdP and the runtime share a manual clock, so "an hour later" takes no
//! time. The `mgmt-token` and `quota-probe` example actions are embedded in the binary by
//! `build.rs`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use cachet_dev_idp::{DevIdp, DevIdpConfig, IdpStats};
use cachet_limits::{CacheLimits, OverflowPolicy};
use cachet_runtime::{
    ActionConfig, Clock, Command, FlowResult, ManualClock, Outcome, Runtime, SystemClock, Trigger,
};
use serde::Serialize;
use serde_json::{Value, json};

mod actions {
    include!(concat!(env!("OUT_DIR"), "/demo_actions.rs"));
}

const TENANT: &str = "demo";
/// Logins of the expiry phase that arrive at once (as many again follow one by one).
const EXPIRY_BURST: usize = 50;

/// Options of `cachet demo`.
pub struct DemoOptions {
    /// Print one JSON object instead of the story.
    pub json: bool,
    /// Logins in the reuse phase, the burst included.
    pub logins: usize,
    /// How many of them arrive at once.
    pub burst: usize,
    /// Lifetime of the IdP's tokens.
    pub token_ttl: Duration,
}

#[derive(Serialize)]
struct Phase {
    name: &'static str,
    /// Requests the token endpoint had received by the end of this phase.
    token_requests: u64,
    logins: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    logins_per_sec: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    p50_us: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    p99_us: Option<u64>,
    #[serde(skip_serializing_if = "Value::is_null")]
    detail: Value,
}

impl Phase {
    fn new(name: &'static str, idp: &DevIdp, logins: usize) -> Self {
        Self {
            name,
            token_requests: idp.stats().token_requests,
            logins,
            logins_per_sec: None,
            p50_us: None,
            p99_us: None,
            detail: Value::Null,
        }
    }
}

struct Story {
    json: bool,
}

impl Story {
    /// The story goes to stdout; with --json, progress goes to stderr and stdout keeps the JSON.
    fn say(&self, line: impl AsRef<str>) {
        if self.json {
            eprintln!("{}", line.as_ref());
        } else {
            println!("{}", line.as_ref());
        }
    }
}

fn event(i: usize) -> String {
    json!({
        "user": { "user_id": format!("auth0|demo-user-{i}"), "email": format!("demo-user-{i}@example.com") },
        "client": { "client_id": "demo-web", "name": "Demo web app" },
        "tenant": { "id": TENANT },
        "request": { "ip": "203.0.113.7" },
    })
    .to_string()
}

async fn login(runtime: &Runtime, i: usize) -> Result<FlowResult> {
    let result = runtime
        .execute(TENANT, Trigger::PostLogin, &event(i))
        .await?;
    if result.outcome != Outcome::Success {
        let action = result.actions.last();
        bail!(
            "login {i} {:?}: {}\nlogs:\n{}",
            result.outcome,
            action
                .and_then(|a| a.error.as_ref())
                .map_or("", |e| e.message.as_str()),
            action.map_or("", |a| a.logs.as_str())
        );
    }
    Ok(result)
}

fn percentile(sorted: &[Duration], p: f64) -> u64 {
    let i = ((sorted.len().saturating_sub(1)) as f64 * p).round() as usize;
    sorted.get(i).map_or(0, |d| d.as_micros() as u64)
}

fn stats_line(s: &IdpStats) -> String {
    format!(
        "token endpoint {} requests, {} tokens issued; management API {} calls, {} refused with 401",
        s.token_requests, s.tokens_issued, s.management_requests, s.management_unauthorized
    )
}

/// Runs the demo.
pub async fn run(options: DemoOptions) -> Result<()> {
    if actions::MGMT_TOKEN.is_empty() {
        bail!(
            "this binary was built without its demo actions (a clippy build); rebuild it with `cargo build --release`"
        );
    }
    ensure!(
        options.burst <= options.logins,
        "--burst must not exceed --logins"
    );
    let story = Story { json: options.json };
    let clock = ManualClock::new(SystemClock.now_ms());
    let idp = DevIdp::start(DevIdpConfig {
        token_ttl: options.token_ttl,
        clock: Arc::new(clock.clone()),
        ..DevIdpConfig::default()
    })
    .await
    .context("starting the dev IdP")?;
    // Room for the largest burst of concurrent logins (the expiry phase runs 50 at once).
    let pool = u32::try_from(options.burst.max(EXPIRY_BURST) + 16).unwrap_or(u32::MAX);
    let runtime = Runtime::builder()
        .clock(Arc::new(clock.clone()))
        .instance_pool_size(pool)
        .build()?;
    let config = idp.action_config();
    let mgmt = runtime.load_action(
        "mgmt-token",
        Trigger::PostLogin,
        actions::MGMT_TOKEN,
        config,
    )?;
    runtime.bind(TENANT, Trigger::PostLogin, vec![mgmt])?;

    story.say(format!(
        "Cachet demo: a post-login action that needs a Management-API token on every login.\n\
         Dev IdP at http://{} (RS256 tokens living {} s); the action caches the token in its trigger's cache.\n",
        idp.addr(),
        options.token_ttl.as_secs()
    ));
    let mut phases = Vec::new();

    // 1. First login: empty cache, one token request.
    let started = Instant::now();
    let first = login(&runtime, 0).await?;
    let claim = first.commands.iter().find_map(|c| match c {
        Command::SetAccessTokenClaim { name, value } if name.ends_with("plan") => {
            Some(value.clone())
        }
        _ => None,
    });
    let mut phase = Phase::new("first-login", &idp, 1);
    phase.detail = json!({ "duration_ms": started.elapsed().as_millis() as u64, "plan_claim_from_management_api": claim });
    let stats = idp.stats();
    story.say(format!(
        "[1/5] first login, empty cache: the action made {} token request(s) (client credentials) \
         and {} call(s) to GET /api/v2/users/{{id}}, and set the plan claim from the answer ({}).\n      {}",
        stats.token_requests,
        stats.management_requests,
        claim.unwrap_or(Value::Null),
        stats_line(&stats)
    ));
    phases.push(phase);

    // 2. Reuse: sequential logins, then a burst at once.
    let sequential = options.logins - options.burst;
    story.say(format!(
        "[2/5] reuse: {sequential} logins one after another, then {} at once ...",
        options.burst
    ));
    let started = Instant::now();
    let mut latencies = Vec::with_capacity(options.logins);
    for i in 0..sequential {
        let t = Instant::now();
        login(&runtime, 1 + i).await?;
        latencies.push(t.elapsed());
    }
    let burst: Vec<_> = (0..options.burst)
        .map(|i| {
            let runtime = runtime.clone();
            tokio::spawn(async move {
                let t = Instant::now();
                login(&runtime, 1 + sequential + i)
                    .await
                    .map(|_| t.elapsed())
            })
        })
        .collect();
    for handle in burst {
        latencies.push(handle.await.context("a login task panicked")??);
    }
    let elapsed = started.elapsed();
    latencies.sort_unstable();
    let mut phase = Phase::new("reuse", &idp, options.logins);
    phase.logins_per_sec = Some((options.logins as f64 / elapsed.as_secs_f64()).round());
    phase.p50_us = Some(percentile(&latencies, 0.5));
    phase.p99_us = Some(percentile(&latencies, 0.99));
    story.say(format!(
        "      {} logins in {:.2} s: {:.0} logins/s, p50 {} µs, p99 {} µs (each login includes the management call).\n      {}",
        options.logins,
        elapsed.as_secs_f64(),
        phase.logins_per_sec.unwrap_or_default(),
        phase.p50_us.unwrap_or_default(),
        phase.p99_us.unwrap_or_default(),
        stats_line(&idp.stats())
    ));
    phases.push(phase);

    // 3. Expiry: the clock passes the token's exp; many logins, exactly one refresh.
    clock.advance(u64::try_from(options.token_ttl.as_millis()).unwrap_or(u64::MAX) + 1_000);
    let before = idp.stats().token_requests;
    let concurrent: Vec<_> = (0..EXPIRY_BURST)
        .map(|i| {
            let runtime = runtime.clone();
            tokio::spawn(async move { login(&runtime, 10_000 + i).await.map(|_| ()) })
        })
        .collect();
    for handle in concurrent {
        handle.await.context("a login task panicked")??;
    }
    for i in 0..EXPIRY_BURST {
        login(&runtime, 20_000 + i).await?;
    }
    let mut phase = Phase::new("expiry", &idp, 2 * EXPIRY_BURST);
    phase.detail = json!({ "refreshes": phase.token_requests - before });
    story.say(format!(
        "[3/5] expiry: the clock moved {} s ahead, past the token's exp. {} logins ({} at once, then {} one by one): {} token request(s).\n      {}",
        options.token_ttl.as_secs() + 1,
        2 * EXPIRY_BURST,
        EXPIRY_BURST,
        EXPIRY_BURST,
        phase.token_requests - before,
        stats_line(&idp.stats())
    ));
    phases.push(phase);

    // 4. Revocation: the API refuses the cached token; one refetch, the retry succeeds.
    idp.revoke_all();
    let before = idp.stats();
    // `login` fails unless the flow succeeded, so reaching the next line means it did.
    login(&runtime, 30_000).await?;
    let stats = idp.stats();
    let mut phase = Phase::new("revocation", &idp, 1);
    let refused = stats.management_unauthorized - before.management_unauthorized;
    let fetched = stats.token_requests - before.token_requests;
    let calls = stats.management_requests - before.management_requests;
    phase.detail =
        json!({ "management_401s": refused, "tokens_fetched": fetched, "management_calls": calls });
    story.say(format!(
        "[4/5] revocation: the IdP revoked every token. The next login made {calls} management \
         call(s), {refused} refused with 401; the action fetched {fetched} new token(s) and the \
         login succeeded.\n      {}",
        stats_line(&stats)
    ));
    phases.push(phase);

    // 5. Quota: the probe under both policies.
    let mut quota = serde_json::Map::new();
    for policy in [OverflowPolicy::Strict, OverflowPolicy::Evict] {
        let rt = Runtime::builder()
            .clock(Arc::new(clock.clone()))
            .overflow_policy(policy)
            .instance_pool_size(4)
            .build()?;
        let probe = rt.load_action(
            "quota-probe",
            Trigger::PostLogin,
            actions::QUOTA_PROBE,
            ActionConfig::default(),
        )?;
        let r = rt
            .execute_actions(TENANT, Trigger::PostLogin, &[probe], "{}")
            .await?;
        ensure!(
            r.outcome == Outcome::Success,
            "the quota probe failed: {:?}",
            r.actions[0].error
        );
        let report = r
            .commands
            .iter()
            .find_map(|c| match c {
                Command::SetIdTokenClaim { value, .. } => Some(value.clone()),
                _ => None,
            })
            .unwrap_or(Value::Null);
        let name = if policy == OverflowPolicy::Strict {
            "strict"
        } else {
            "evict"
        };
        let quota_bytes = CacheLimits::default().max_total_bytes;
        let (written, attempted, entry) = (
            &report["written_before_overflow"],
            &report["attempted"],
            &report["entry_bytes"],
        );
        let what = match report["codes"].get("fill") {
            Some(code) => format!(
                "{written} x {entry}-byte entries fit in the {quota_bytes}-byte quota; write {attempted} was refused with {code}"
            ),
            None => format!(
                "{attempted} writes of {entry}-byte entries into the {quota_bytes}-byte quota all succeeded ({written} written); the first key {}",
                if report["first_key_evicted"] == json!(true) {
                    "was evicted to make room"
                } else {
                    "was kept"
                }
            ),
        };
        story.say(format!(
            "[5/5] quota ({name}): {what}; the write after the budget: {}.\n      codes met: {}\n      partition after: {} entries, {} bytes",
            report["codes"]["budget"],
            report["codes"],
            r.cache.entries,
            r.cache.bytes
        ));
        quota.insert(
            name.to_string(),
            json!({ "report": report, "cache": r.cache }),
        );
    }
    let mut phase = Phase::new("quota", &idp, 2);
    phase.detail = Value::Object(quota);
    phases.push(phase);

    // The story above states these counts; a run where they do not hold must not pass as a
    // demo of them.
    let expected = [
        ("first-login", 1),
        ("reuse", 1),
        ("expiry", 2),
        ("revocation", 3),
        ("quota", 3),
    ];
    for (phase, (name, want)) in phases.iter().zip(expected) {
        ensure!(
            phase.name == name && phase.token_requests == want,
            "phase {}: {} token requests by its end, where the story needs {want}",
            phase.name,
            phase.token_requests
        );
    }
    ensure!(
        phases[4].detail["strict"]["report"]["codes"]["fill"] == json!("CacheSizeExceeded")
            && phases[4].detail["evict"]["report"]["first_key_evicted"] == json!(true),
        "the quota phase did not meet the strict refusal and the LRU eviction it shows"
    );
    let logins: usize = phases.iter().take(4).map(|p| p.logins).sum();
    let stats = idp.stats();
    if options.json {
        let out = json!({
            "idp": format!("http://{}", idp.addr()),
            "token_ttl_secs": options.token_ttl.as_secs(),
            "phases": phases,
            "idp_stats": stats,
        });
        println!("{}", serde_json::to_string_pretty(&out)?);
    } else {
        let counts: Vec<String> = phases
            .iter()
            .map(|p| format!("{} {}", p.name, p.token_requests))
            .collect();
        story.say(format!(
            "\n{} logins, {} token requests in total (cumulative per phase: {}).",
            logins,
            stats.token_requests,
            counts.join(", ")
        ));
    }
    Ok(())
}
