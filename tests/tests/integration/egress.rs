//! Refused outbound requests, as actions see them: every rule by which the host refuses a
//! request (the allow-list, the address policy, the body size limit, the request budget), with
//! every kind of body, reaches a JavaScript action as a rejected `fetch` (a `TypeError`) and a
//! Rust action as an `Err` naming the rule; the action catches it and carries on, and its log
//! says which rule refused which host.

use cachet_runtime::{ActionConfig, FailureKind, FlowResult, Outcome, Trigger};
use cachet_tests::{guests, harness, js_harness, load_with};
use serde_json::{Value, json};

use crate::{claim, run_one};

/// On the allow-list, not marked private, and resolving to loopback: the address policy
/// refuses it.
const LOOPBACK_NAME: &str = "localhost:9";

fn config() -> ActionConfig {
    ActionConfig::default()
        .allow_host(LOOPBACK_NAME)
        .secret("private", LOOPBACK_NAME)
}

fn event(mode: &str) -> Value {
    json!({ "user": { "user_id": "auth0|1" }, "request": { "query": { "mode": mode } } })
}

/// Every `rule × body` the action reported, as `(rule, body, what it got)`.
fn refusals(r: &FlowResult) -> Vec<(String, String, String)> {
    assert_eq!(r.outcome, Outcome::Success, "{r:#?}");
    assert_eq!(claim(r, "carried_on"), &json!(true));
    let mut all = Vec::new();
    for (rule, bodies) in claim(r, "refusals").as_object().unwrap() {
        for (body, got) in bodies.as_object().unwrap() {
            all.push((rule.clone(), body.clone(), got.as_str().unwrap().to_owned()));
        }
    }
    all
}

/// Which rule the host's log line names for each rule the actions meet.
fn log_line(rule: &str) -> &'static str {
    match rule {
        "allow-list" => {
            "outbound request to denied.example:443 refused: the host is not on the action's \
             allow-list"
        }
        "address" => "outbound request to localhost:9 refused: the name resolves only to loopback",
        "size" => "refused: the request body is larger than the limit",
        "budget" => "refused: more than 50 outbound requests in one execution",
        other => panic!("unknown rule {other}"),
    }
}

#[tokio::test]
async fn every_refused_fetch_rejects_with_a_type_error_whatever_the_body_and_the_action_carries_on()
{
    let (builder, _) = js_harness();
    let rt = builder.build().unwrap();
    let action = load_with(&rt, guests::JS_REFUSED_FETCH, Trigger::PostLogin, config());
    let r = run_one(&rt, "acme", &action, &event("all")).await;
    let all = refusals(&r);
    let bodies = [
        "none", "string", "params", "form", "blob", "buffer", "stream",
    ];
    for rule in ["allow-list", "address", "budget"] {
        for body in bodies {
            assert!(
                all.iter().any(|(r, b, _)| r == rule && b == body),
                "{rule} × {body} missing from {all:#?}"
            );
        }
    }
    // A size past the limit needs a body.
    assert_eq!(
        all.iter().filter(|(r, _, _)| r == "size").count(),
        6,
        "{all:#?}"
    );
    for (rule, body, got) in &all {
        assert!(got.starts_with("TypeError: "), "{rule} × {body}: {got}");
    }
    let logs = &r.actions[0].logs;
    for rule in ["allow-list", "address", "size", "budget"] {
        assert!(logs.contains(log_line(rule)), "{rule}: {logs}");
    }
}

#[tokio::test]
async fn a_javascript_action_that_does_not_catch_a_refusal_fails_with_the_rule_named() {
    let (builder, _) = js_harness();
    let rt = builder.build().unwrap();
    let action = load_with(&rt, guests::JS_REFUSED_FETCH, Trigger::PostLogin, config());
    let r = run_one(&rt, "acme", &action, &event("uncaught")).await;
    assert_eq!(r.outcome, Outcome::Failed, "{r:#?}");
    let error = r.actions[0].error.as_ref().unwrap();
    assert_eq!(error.kind, FailureKind::ActionError, "{error:?}");
    assert!(
        error.message.contains(
            "the host refused: outbound request to denied.example:443 refused: the host is \
             not on the action's allow-list"
        ),
        "{}",
        error.message
    );
    assert!(!error.message.contains("abort"), "{}", error.message);
}

#[tokio::test]
async fn every_refused_rust_request_is_an_err_naming_its_rule_and_the_action_carries_on() {
    let (builder, _) = harness();
    let rt = builder.build().unwrap();
    let action = load_with(&rt, guests::REFUSED_HTTP, Trigger::PostLogin, config());
    let r = run_one(&rt, "acme", &action, &event("all")).await;
    let all = refusals(&r);
    assert_eq!(all.len(), 7, "{all:#?}");
    for (rule, body, got) in &all {
        // The wasi:http code the host answered with, and the rule in words.
        let (code, named) = match rule.as_str() {
            "allow-list" => ("denied", "the host is not on this action's allow-list"),
            "address" => (
                "DestinationIpProhibited",
                "the name resolves only to loopback, private or link-local",
            ),
            "size" => (
                "HttpRequestBodySize(Some(1048576))",
                "the request body is larger than the host allows",
            ),
            "budget" => (
                "ConnectionLimitReached",
                "this execution's outbound request budget is spent",
            ),
            other => panic!("unknown rule {other}"),
        };
        assert!(got.starts_with("error: "), "{rule} × {body}: {got}");
        assert!(
            got.contains(code) && got.contains(named),
            "{rule} × {body}: {got}"
        );
    }
    let logs = &r.actions[0].logs;
    for rule in ["allow-list", "address", "size", "budget"] {
        assert!(logs.contains(log_line(rule)), "{rule}: {logs}");
    }
}
