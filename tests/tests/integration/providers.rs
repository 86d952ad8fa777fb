//! The provider, token-exchange and event-stream triggers (custom-email-provider,
//! custom-phone-provider, custom-token-exchange, event-stream): every call of each API records
//! the same command in Rust and JavaScript, the host's checks refuse what Auth0 refuses, and
//! each trigger has its own cache partition.

use crate::Bounded as _;

use cachet_runtime::{Action, FlowResult, Outcome, PartitionKey, Runtime, Trigger};
use cachet_tests::{guests, js_harness, load};
use serde_json::{Value, json};

/// `trigger`'s default event with `request.query` set.
fn event(trigger: Trigger, query: Value) -> String {
    let mut event: Value = serde_json::from_str(trigger.default_event()).unwrap();
    event["request"]["query"] = query;
    event.to_string()
}

async fn run(rt: &Runtime, trigger: Trigger, action: &Action, query: Value) -> FlowResult {
    rt.execute_actions(
        "acme",
        trigger,
        std::slice::from_ref(action),
        &event(trigger, query),
    )
    .bounded()
    .await
    .unwrap()
}

async fn empty(rt: &Runtime, trigger: Trigger) {
    rt.store()
        .restore(&PartitionKey::new("acme", trigger), Vec::new(), rt.now_ms())
        .await
        .unwrap();
}

/// Each trigger with its Rust guest and its build of `tests/js/provider-tour.js`.
fn pairs() -> [(Trigger, &'static str, &'static str); 4] {
    [
        (
            Trigger::CustomEmailProvider,
            guests::MAIL_RELAY,
            guests::JS_PROVIDER_TOUR_CUSTOM_EMAIL_PROVIDER,
        ),
        (
            Trigger::CustomPhoneProvider,
            guests::PHONE_RELAY,
            guests::JS_PROVIDER_TOUR_CUSTOM_PHONE_PROVIDER,
        ),
        (
            Trigger::CustomTokenExchange,
            guests::TOKEN_SWAP,
            guests::JS_PROVIDER_TOUR_CUSTOM_TOKEN_EXCHANGE,
        ),
        (
            Trigger::EventStream,
            guests::STREAM_SINK,
            guests::JS_PROVIDER_TOUR_EVENT_STREAM,
        ),
    ]
}

/// Runs `query` through both languages' action for `trigger` (each from an empty partition)
/// and returns the two results.
async fn both(
    rt: &Runtime,
    trigger: Trigger,
    rust: &str,
    js: &str,
    query: Value,
) -> [FlowResult; 2] {
    let mut results = Vec::new();
    for path in [rust, js] {
        let action = load(rt, path, trigger);
        empty(rt, trigger).await;
        results.push(run(rt, trigger, &action, query.clone()).await);
    }
    let js = results.pop().unwrap();
    [results.pop().unwrap(), js]
}

#[tokio::test]
async fn notifications_are_dropped_or_retried_the_same_way_in_both_languages() {
    let (builder, _) = js_harness();
    let rt = builder.build().unwrap();
    for (trigger, rust, js) in &pairs()[..2] {
        for (fail, command) in [
            ("drop", "drop-notification"),
            ("retry", "retry-notification"),
        ] {
            let [r, j] = both(&rt, *trigger, rust, js, json!({ "fail": fail })).await;
            assert_eq!(r.outcome, Outcome::Success, "{trigger} {fail}: {r:#?}");
            assert_eq!(r.commands, j.commands, "{trigger} {fail}");
            assert_eq!(r.actions[0].logs, j.actions[0].logs, "{trigger} {fail}");
            assert_eq!(
                serde_json::to_value(&r.commands).unwrap()[0]["type"],
                json!(command)
            );
        }
    }
}

#[tokio::test]
async fn custom_token_exchange_records_every_call_the_same_way_in_both_languages() {
    let (builder, _) = js_harness();
    let rt = builder.build().unwrap();
    let (trigger, rust, js) = pairs()[2];
    let tail = [
        json!({ "type": "set-organization", "organization": "org_acme" }),
        json!({ "type": "set-actor", "actor": { "sub": "agent|1", "act": { "sub": "agent|0" } } }),
        json!({ "type": "set-app-metadata", "key": "exchanged", "value": true }),
        json!({ "type": "set-user-metadata", "key": "via", "value": "token-exchange" }),
    ];
    let by_id = json!({ "type": "set-user-by-id", "user_id": "auth0|external-session-4f9a2c" });
    let by_connection = json!({
        "type": "set-user-by-connection", "connection": "legacy-db",
        "user_attributes": { "user_id": "legacy|external-session-4f9a2c", "email": "ada@example.com" },
        "creation_behavior": "create_if_not_exists", "update_behavior": "none"
    });
    for (mode, first) in [(None, by_id), (Some("connection"), by_connection)] {
        let [r, j] = both(&rt, trigger, rust, js, json!({ "mode": mode })).await;
        assert_eq!(r.outcome, Outcome::Success, "{mode:?}: {r:#?}");
        let mut expected = vec![first];
        expected.extend(tail.iter().cloned());
        assert_eq!(serde_json::to_value(&r.commands).unwrap(), json!(expected));
        assert_eq!(r.commands, j.commands, "{mode:?}");
    }
    for (mode, command) in [
        (
            "reject",
            json!({ "type": "reject-invalid-subject-token", "reason": "the subject token is not valid" }),
        ),
        (
            "deny",
            json!({ "type": "deny", "code": "invalid_request", "reason": "no such session" }),
        ),
    ] {
        let [r, j] = both(&rt, trigger, rust, js, json!({ "mode": mode })).await;
        assert_eq!(r.outcome, Outcome::Denied, "{mode}");
        assert_eq!(serde_json::to_value(&r.commands).unwrap(), json!([command]));
        assert_eq!(r.commands, j.commands, "{mode}");
    }
    // The user is set once: a second setUserById fails the action in both languages.
    let [r, j] = both(&rt, trigger, rust, js, json!({ "mode": "twice" })).await;
    for result in [&r, &j] {
        assert_eq!(result.outcome, Outcome::Failed);
        let message = &result.actions[0].error.as_ref().unwrap().message;
        assert!(
            message.contains("api.authentication.setUserById: the user is already set"),
            "{message}"
        );
    }
}

#[tokio::test]
async fn provider_and_stream_triggers_log_the_same_and_keep_their_own_cache() {
    let (builder, _) = js_harness();
    let rt = builder.build().unwrap();
    for (trigger, rust, js) in pairs() {
        if trigger == Trigger::CustomTokenExchange {
            continue;
        }
        let [r, j] = both(&rt, trigger, rust, js, json!({})).await;
        assert_eq!(r.outcome, Outcome::Success, "{trigger}: {r:#?}");
        assert_eq!(j.outcome, Outcome::Success, "{trigger}: {j:#?}");
        assert_eq!(r.actions[0].logs, j.actions[0].logs, "{trigger}");
        assert!(r.actions[0].logs.ends_with("(1)\n"), "{trigger}");
        assert!(r.commands.is_empty());
        assert_eq!(j.cache.entries, 1, "{trigger}");
    }
    assert_eq!(
        rt.store()
            .usage(&PartitionKey::new("acme", Trigger::PostLogin))
            .await
            .unwrap()
            .entries,
        0
    );
}
