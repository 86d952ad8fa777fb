//! JavaScript actions, written as for Auth0 and built with componentize-js by `build.rs`: the
//! API tour, the quota codes, the hostile cases and the Management-API token pattern, through
//! the same runtime and with the same expectations as the Rust actions.

use crate::Bounded as _;
use std::sync::Arc;
use std::time::Duration;

use cachet_dev_idp::{DevIdp, DevIdpConfig};
use cachet_limits::{ExecutionLimits, OverflowPolicy};
use cachet_runtime::{
    Action, ActionConfig, Command, FailureKind, FlowResult, InstanceMode, Outcome, Runtime,
    Trigger, WarmOptions,
};
use cachet_tests::{T0, guests, js_harness, load_with};
use serde_json::{Value, json};

use crate::api::{assert_evict_quota, assert_strict_quota_codes, quota_probe};
use crate::{assert_host_keeps_serving, assert_log_cut_at_cap, claim, run_one, run_to_deadline};

async fn run(rt: &Runtime, action: &Action, event: &Value) -> FlowResult {
    run_one(rt, "acme", action, event).await
}

fn failure(r: &FlowResult) -> (FailureKind, &str) {
    assert_eq!(r.outcome, Outcome::Failed, "{r:#?}");
    let e = r.actions[0].error.as_ref().expect("an error");
    (e.kind, e.message.as_str())
}

fn tour_event(deny: bool) -> Value {
    json!({
        "user": { "user_id": "auth0|42", "name": "Ada Lövelace ☃ 😀" },
        "tenant": { "id": "acme" },
        "request": { "ip": "203.0.113.7", "query": { "deny": deny } },
        "stats": { "logins_count": 9 },
        "secrets": { "FROM_CALLER": "must-not-reach-the-action" }
    })
}

#[tokio::test]
async fn a_javascript_action_calls_every_post_login_api_with_auth0s_shapes() {
    let (builder, _) = js_harness();
    let rt = builder.build().unwrap();
    let config = ActionConfig::default().secret("API_KEY", "k-123");
    let tour = load_with(&rt, guests::JS_API_TOUR, Trigger::PostLogin, config);
    let r = run(&rt, &tour, &tour_event(false)).await;
    assert_eq!(r.outcome, Outcome::Success, "{r:#?}");
    assert_eq!(
        r.commands,
        vec![
            Command::SetIdTokenClaim {
                name: "https://tour/name".into(),
                value: json!("Ada Lövelace ☃ 😀")
            },
            Command::SetAccessTokenClaim {
                name: "https://tour/tenant".into(),
                value: json!("acme")
            },
            Command::AddAccessTokenScope {
                scope: "read:profile".into()
            },
            Command::RemoveAccessTokenScope {
                scope: "write:everything".into()
            },
            Command::SetAppMetadata {
                key: "last_ip".into(),
                value: json!("203.0.113.7")
            },
            Command::SetUserMetadata {
                key: "visits".into(),
                value: json!(10)
            },
            Command::SetIdTokenClaim {
                name: "https://tour/cache".into(),
                // set returns Auth0's record with the real expiry; get reads it, with the same
                // expiry as a Number (above 2^32 ms, so both halves of the WIT's u64 count);
                // delete removes it.
                value: json!({
                    "expires_at": T0 + 60_000,
                    "read": "välue ☃ 😀",
                    "read_expires_at": T0 + 60_000,
                    "gone": true
                })
            },
            Command::SetIdTokenClaim {
                name: "https://tour/secret-names".into(),
                // The action's own secrets, never the caller's.
                value: json!(["API_KEY"])
            },
        ]
    );
    assert_eq!(r.actions[0].logs, "tour for auth0|42\n", "console.log");
    assert_eq!(r.actions[0].cache_writes, 2);
}

#[tokio::test]
async fn a_javascript_deny_stops_the_flow_and_is_the_last_command() {
    let (builder, _) = js_harness();
    let rt = builder.build().unwrap();
    let tour = load_with(
        &rt,
        guests::JS_API_TOUR,
        Trigger::PostLogin,
        ActionConfig::default(),
    );
    let claims = cachet_tests::load(&rt, guests::CLAIMS, Trigger::PostLogin);
    let r = rt
        .execute_actions(
            "acme",
            Trigger::PostLogin,
            &[tour, claims],
            &tour_event(true).to_string(),
        )
        .bounded()
        .await
        .unwrap();
    assert_eq!(r.outcome, Outcome::Denied);
    assert_eq!(
        r.actions.len(),
        1,
        "the action after the denial did not run"
    );
    assert_eq!(
        r.commands.last(),
        Some(&Command::Deny {
            code: None,
            reason: "denied by the tour".into(),
            user_message: None,
        })
    );
}

#[tokio::test]
async fn the_javascript_quota_probe_meets_every_auth0_code_under_the_strict_policy() {
    let quota = quota_probe(
        js_harness().0,
        guests::JS_QUOTA_PROBE,
        OverflowPolicy::Strict,
    )
    .await;
    // The same codes and the same 100-write arithmetic as the Rust probe.
    assert_strict_quota_codes(&quota);
}

#[tokio::test]
async fn the_javascript_quota_probe_sees_lru_eviction_under_the_evict_policy() {
    let quota = quota_probe(
        js_harness().0,
        guests::JS_QUOTA_PROBE,
        OverflowPolicy::Evict,
    )
    .await;
    assert_evict_quota(&quota);
}

fn hostile_event(mode: &str) -> Value {
    json!({ "user": { "user_id": "auth0|1" }, "request": { "query": { "mode": mode } } })
}

async fn hostile(rt: &Runtime, mode: &str) -> FlowResult {
    let action = load_with(
        rt,
        guests::JS_HOSTILE,
        Trigger::PostLogin,
        ActionConfig::default(),
    );
    run(rt, &action, &hostile_event(mode)).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_javascript_infinite_loop_ends_at_the_deadline_and_the_host_keeps_serving() {
    let (builder, _) = js_harness();
    let limits = ExecutionLimits {
        flow_deadline_ms: 1_000,
        ..ExecutionLimits::default()
    };
    let rt = builder.execution_limits(limits).build().unwrap();
    let action = load_with(
        &rt,
        guests::JS_HOSTILE,
        Trigger::PostLogin,
        ActionConfig::default(),
    );
    let r = run_to_deadline(&rt, action, hostile_event("loop").to_string()).await;
    let (kind, message) = failure(&r);
    assert_eq!(kind, FailureKind::DeadlineExceeded);
    assert!(
        message.contains("interrupted at the deadline epoch"),
        "{message}"
    );
    assert_host_keeps_serving(&rt).await;
}

#[tokio::test]
async fn a_javascript_memory_bomb_is_stopped_at_the_memory_limit() {
    let (builder, _) = js_harness();
    let rt = builder.build().unwrap();
    let r = hostile(&rt, "memory-bomb").await;
    let (kind, message) = failure(&r);
    // SpiderMonkey turns the refused growth into an "out of memory" exception, which fails the
    // action; the host still reports the memory limit as the cause.
    assert_eq!(kind, FailureKind::MemoryLimitExceeded, "{message}");
    assert!(
        message.contains(&(64 * 1024 * 1024).to_string()),
        "{message}"
    );
    assert_host_keeps_serving(&rt).await;
}

#[tokio::test]
async fn a_thrown_error_fails_the_javascript_action_with_its_message() {
    let (builder, _) = js_harness();
    let rt = builder.build().unwrap();
    let r = hostile(&rt, "throw").await;
    assert_eq!(
        failure(&r),
        (
            FailureKind::ActionError,
            "deliberate failure for user auth0|1"
        )
    );
    let r = hostile(&rt, "throw-string").await;
    assert_eq!(
        failure(&r),
        (FailureKind::ActionError, "a plain string for auth0|1")
    );
    assert_host_keeps_serving(&rt).await;
}

#[tokio::test]
async fn a_rejected_promise_fails_the_javascript_action_with_its_name_and_message() {
    let (builder, _) = js_harness();
    let rt = builder.build().unwrap();
    let r = hostile(&rt, "reject").await;
    assert_eq!(
        failure(&r),
        (FailureKind::ActionError, "RangeError: rejected for auth0|1")
    );
    assert_host_keeps_serving(&rt).await;
}

#[tokio::test]
async fn a_javascript_log_flood_is_cut_at_the_cap_and_the_action_still_succeeds() {
    let (builder, _) = js_harness();
    let rt = builder.build().unwrap();
    let r = hostile(&rt, "log-flood").await;
    assert_log_cut_at_cap(&r);
    assert_host_keeps_serving(&rt).await;
}

#[tokio::test]
async fn a_javascript_credentials_exchange_action_sets_claims_and_denies_with_auth0s_codes() {
    let (builder, _) = js_harness();
    let rt = builder.build().unwrap();
    let m2m = load_with(
        &rt,
        guests::JS_M2M,
        Trigger::CredentialsExchange,
        ActionConfig::default(),
    );
    let exchange = |body: Value| {
        let rt = rt.clone();
        let m2m = m2m.clone();
        async move {
            let event = json!({
                "client": { "client_id": "svc-reporting" },
                "resource_server": { "identifier": "https://api.example.com" },
                "request": { "body": body }
            });
            rt.execute_actions(
                "acme",
                Trigger::CredentialsExchange,
                &[m2m],
                &event.to_string(),
            )
            .bounded()
            .await
            .unwrap()
        }
    };
    exchange(json!({})).await;
    let r = exchange(json!({})).await;
    assert_eq!(r.outcome, Outcome::Success, "{r:#?}");
    assert_eq!(claim(&r, "https://m2m/client"), &json!("svc-reporting"));
    assert_eq!(
        claim(&r, "https://m2m/count"),
        &json!(2),
        "the cache persists"
    );

    let r = exchange(json!({ "deny": "invalid_scope" })).await;
    assert_eq!(r.outcome, Outcome::Denied, "{r:#?}");
    assert_eq!(
        r.commands,
        vec![Command::Deny {
            code: Some("invalid_scope".into()),
            reason: "denied for svc-reporting".into(),
            user_message: None,
        }]
    );

    let r = exchange(json!({ "deny": "not_a_code" })).await;
    let (kind, message) = failure(&r);
    assert_eq!(kind, FailureKind::ActionError);
    assert!(
        message.contains("invalid_scope, invalid_request, server_error"),
        "{message}"
    );
}

struct Idp {
    idp: DevIdp,
    rt: Runtime,
    clock: cachet_runtime::ManualClock,
}

async fn with_idp(instance: InstanceMode) -> (Idp, Action) {
    let (builder, clock) = js_harness();
    let idp = DevIdp::start(DevIdpConfig {
        token_ttl: Duration::from_secs(3600),
        clock: Arc::new(clock.clone()),
        ..DevIdpConfig::default()
    })
    .await
    .unwrap();
    let rt = builder.build().unwrap();
    // Auth0's secrets for the article's action: the domain (here a full URL, as the dev IdP
    // speaks plain HTTP on loopback), the client id and secret.
    let config = ActionConfig {
        instance,
        ..ActionConfig::default()
            .secret("domain", format!("http://{}", idp.host_port()))
            .secret("clientId", idp.client_id())
            .secret("clientSecret", idp.client_secret())
            .allow_host(idp.host_port())
    };
    let action = load_with(&rt, guests::JS_MGMT_TOKEN_JS, Trigger::PostLogin, config);
    (Idp { idp, rt, clock }, action)
}

async fn mgmt_login(s: &Idp, action: &Action, i: usize) -> FlowResult {
    let r = run(
        &s.rt,
        action,
        &json!({ "user": { "user_id": format!("auth0|user-{i}") } }),
    )
    .await;
    assert_eq!(r.outcome, Outcome::Success, "{:#?}", r.actions);
    r
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auth0s_management_token_action_makes_one_token_request_for_500_logins() {
    let (s, action) = with_idp(InstanceMode::Fresh).await;
    for i in 0..500 {
        let r = mgmt_login(&s, &action, i).await;
        if i == 0 {
            assert_eq!(claim(&r, "https://cachet.example/plan"), &json!("pro"));
            assert!(
                r.actions[0].logs.contains("cache MISS"),
                "{}",
                r.actions[0].logs
            );
        } else {
            assert!(!r.actions[0].logs.contains("cache MISS"), "login {i}");
        }
    }
    let stats = s.idp.stats();
    assert_eq!(stats.token_requests, 1);
    assert_eq!(stats.management_requests, 500);
    assert_eq!(stats.management_unauthorized, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_management_token_action_fetches_again_only_when_jwt_decode_says_it_expires() {
    let (s, action) = with_idp(InstanceMode::Fresh).await;
    mgmt_login(&s, &action, 0).await;
    // 58 minutes later the hour-long token is still fresh (the action refreshes 60 s early)...
    s.clock.advance(58 * 60 * 1000);
    mgmt_login(&s, &action, 1).await;
    assert_eq!(s.idp.stats().token_requests, 1);
    // ...at 59 min 30 s it is within the margin: one new token, then reused again.
    s.clock.advance(90 * 1000);
    mgmt_login(&s, &action, 2).await;
    mgmt_login(&s, &action, 3).await;
    assert_eq!(s.idp.stats().token_requests, 2);
    assert_eq!(s.idp.stats().management_unauthorized, 0);
}

#[tokio::test]
async fn a_warm_instances_api_groups_are_shared_and_act_for_the_running_execution() {
    let (builder, _) = js_harness();
    let rt = builder.build().unwrap();
    let warm = ActionConfig {
        instance: InstanceMode::Warm(WarmOptions::default()),
        ..ActionConfig::default()
    };
    let action = load_with(&rt, guests::JS_API_SHARED, Trigger::PostLogin, warm);
    for (execution, who) in [(1, "auth0|first"), (2, "auth0|second")] {
        let r = run(&rt, &action, &json!({ "user": { "user_id": who } })).await;
        assert_eq!(r.outcome, Outcome::Success, "{r:#?}");
        assert_eq!(claim(&r, "detached"), &json!(who), "a detached method");
        assert_eq!(claim(&r, "chained"), &json!(who));
        assert_eq!(
            claim(&r, "report"),
            &json!({
                "execution": execution,
                "newApi": if execution == 1 { Value::Null } else { json!(true) },
                "returnsApi": true,
                "metadata": who,
                // What the first execution added to `api.idToken` is there in the second;
                // the group it replaced on its own `api` is not.
                "added": if execution == 1 { Value::Null } else { json!(1) },
                "replaced": false,
            }),
            "execution {execution}"
        );
        assert!(r.commands.contains(&Command::SetTransactionMetadata {
            key: "who".into(),
            value: json!(who),
        }));
        // The earlier execution's `api`, kept in a module global, records into this execution;
        // nothing is recorded twice or into the other execution.
        if execution == 2 {
            assert_eq!(claim(&r, "through-earlier"), &json!(who));
        }
        assert_eq!(r.commands.len(), 5 + execution, "{:#?}", r.commands);
    }
}

#[tokio::test]
async fn undefined_in_an_api_methods_arguments_is_sent_as_null_in_lists_and_in_objects() {
    let (builder, _) = js_harness();
    let rt = builder.build().unwrap();
    let action = load_with(
        &rt,
        guests::JS_API_SHARED,
        Trigger::PostLogin,
        ActionConfig::default(),
    );
    let r = run(&rt, &action, &json!({ "user": { "user_id": "auth0|1" } })).await;
    assert_eq!(r.outcome, Outcome::Success, "{r:#?}");
    assert_eq!(claim(&r, "list"), &json!(["a", null, 1, null, true]));
    assert_eq!(
        claim(&r, "object"),
        &json!({ "a": null, "b": [null, { "c": null }] })
    );
}

/// What `tests/js/text.js` sends: each sample as a claim of its name, the event's `user.name`
/// as `name`, and a cache value read back as `cached`.
fn assert_text_crossed_unchanged(r: &FlowResult, name: &str) {
    assert_eq!(r.outcome, Outcome::Success, "{r:#?}");
    for (claim_name, expected) in [
        ("ascii", "plain".to_string()),
        ("latin", "José Müller-Łukasiewicz".to_string()),
        ("bmp", "Kraków ☃ 東京".to_string()),
        ("astral", "😀 𝄞".to_string()),
        ("empty", String::new()),
        ("long", "é☃😀".repeat(300)),
        ("name", name.to_string()),
        // A lone surrogate has no UTF-8; TextEncoder writes U+FFFD for it, as in Node, and
        // the host reads JSON.stringify's escape of one as U+FFFD too.
        (
            "cached",
            format!("välue ☃ 😀 \u{FFFD} {}", "ü".repeat(1000)),
        ),
        ("lone", "a\u{FFFD}b\u{FFFD}c".to_string()),
    ] {
        assert_eq!(claim(r, claim_name), &json!(expected), "{claim_name}");
    }
    assert_eq!(
        claim(r, "object"),
        &json!({ "k\u{FFFD}": ["v\u{FFFD}", "😀"] })
    );
}

#[tokio::test]
async fn strings_of_any_characters_reach_the_host_as_utf8_and_come_back_unchanged() {
    let (builder, _) = js_harness();
    let rt = builder.build().unwrap();
    let action = load_with(
        &rt,
        guests::JS_TEXT,
        Trigger::PostLogin,
        ActionConfig::default(),
    );
    let name = "Zoë Ñúñez 🦀";
    let r = run(
        &rt,
        &action,
        &json!({ "user": { "user_id": "auth0|1", "name": name } }),
    )
    .await;
    assert_text_crossed_unchanged(&r, name);
}

#[tokio::test]
async fn a_warm_instance_sending_long_strings_on_every_execution_stays_within_its_memory() {
    // Each execution sends ~7 KB of encoded arguments (room for three bytes per character):
    // 3 000 executions would need ~21 MB more than the engine's own ~10 MB if what the glue
    // allocates for a host call were kept, and the instance may have 24 MiB.
    let (builder, _) = js_harness();
    let limits = ExecutionLimits {
        max_memory_bytes: 24 << 20,
        ..ExecutionLimits::default()
    };
    let rt = builder.execution_limits(limits).build().unwrap();
    let warm = ActionConfig {
        instance: InstanceMode::Warm(WarmOptions::default()),
        ..ActionConfig::default()
    };
    let action = load_with(&rt, guests::JS_TEXT, Trigger::PostLogin, warm);
    let name = "Zoë Ñúñez 🦀";
    let event = json!({ "user": { "user_id": "auth0|1", "name": name } });
    for _ in 0..3_000 {
        let r = run(&rt, &action, &event).await;
        assert_text_crossed_unchanged(&r, name);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_warm_javascript_instance_keeps_module_globals_for_its_tenant_even_after_a_fetch() {
    let (s, _) = with_idp(InstanceMode::Fresh).await;
    let warm = ActionConfig {
        instance: InstanceMode::Warm(WarmOptions::default()),
        ..ActionConfig::default().allow_host(s.idp.host_port())
    };
    let counter = load_with(&s.rt, guests::JS_COUNTER, Trigger::PostLogin, warm);
    let url = format!("http://{}/.well-known/jwks.json", s.idp.host_port());
    let count = |tenant: &'static str, url: Option<String>| {
        let (rt, counter) = (s.rt.clone(), counter.clone());
        async move {
            let event =
                json!({ "user": { "user_id": "auth0|1" }, "request": { "query": { "url": url } } });
            let r = rt
                .execute_actions(tenant, Trigger::PostLogin, &[counter], &event.to_string())
                .bounded()
                .await
                .unwrap();
            assert_eq!(r.outcome, Outcome::Success, "{r:#?}");
            claim(&r, "executions").clone()
        }
    };
    assert_eq!(count("acme", None).await, json!(1));
    assert_eq!(count("acme", Some(url.clone())).await, json!(2));
    assert_eq!(
        count("acme", Some(url)).await,
        json!(3),
        "kept after a fetch"
    );
    assert_eq!(
        count("globex", None).await,
        json!(1),
        "never another tenant's"
    );
    assert_eq!(count("acme", None).await, json!(4));
}
