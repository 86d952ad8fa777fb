//! The registration, password and phone triggers (pre-user-registration,
//! post-user-registration, post-change-password, send-phone-message): each runs its actions in
//! both languages with the same results, every call of its API recorded the same way, and its
//! own cache partition.

use crate::Bounded as _;

use cachet_runtime::{Action, FlowResult, Outcome, Runtime, Trigger};
use cachet_tests::{guests, js_harness, load};
use serde_json::{Value, json};

/// `trigger`'s default event, with `request.body` set.
fn event(trigger: Trigger, body: Value) -> String {
    let mut event: Value = serde_json::from_str(trigger.default_event()).unwrap();
    event["request"]["body"] = body;
    event.to_string()
}

async fn run(rt: &Runtime, trigger: Trigger, actions: &[Action], body: Value) -> FlowResult {
    rt.execute_actions("acme", trigger, actions, &event(trigger, body))
        .bounded()
        .await
        .unwrap()
}

/// Each trigger with its Rust guest and its build of `tests/js/signup-tour.js`.
fn pairs() -> [(Trigger, &'static str, &'static str); 4] {
    [
        (
            Trigger::PreUserRegistration,
            guests::SIGNUP_GATE,
            guests::JS_SIGNUP_TOUR_PRE_USER_REGISTRATION,
        ),
        (
            Trigger::PostUserRegistration,
            guests::SIGNUP_WELCOME,
            guests::JS_SIGNUP_TOUR_POST_USER_REGISTRATION,
        ),
        (
            Trigger::PostChangePassword,
            guests::PASSWORD_NOTICE,
            guests::JS_SIGNUP_TOUR_POST_CHANGE_PASSWORD,
        ),
        (
            Trigger::SendPhoneMessage,
            guests::SMS_SENDER,
            guests::JS_SIGNUP_TOUR_SEND_PHONE_MESSAGE,
        ),
    ]
}

#[tokio::test]
async fn pre_user_registration_records_metadata_and_each_ending_denies_in_both_languages() {
    let (builder, _) = js_harness();
    let rt = builder.build().unwrap();
    for path in [
        guests::SIGNUP_GATE,
        guests::JS_SIGNUP_TOUR_PRE_USER_REGISTRATION,
    ] {
        let gate = load(&rt, path, Trigger::PreUserRegistration);
        rt.store()
            .restore(
                &cachet_runtime::PartitionKey::new("acme", Trigger::PreUserRegistration),
                Vec::new(),
                rt.now_ms(),
            )
            .await
            .unwrap();
        let r = run(
            &rt,
            Trigger::PreUserRegistration,
            std::slice::from_ref(&gate),
            json!({}),
        )
        .await;
        assert_eq!(r.outcome, Outcome::Success, "{path}: {r:#?}");
        assert_eq!(
            serde_json::to_value(&r.commands).unwrap(),
            json!([
                { "type": "set-app-metadata", "key": "plan", "value": "trial" },
                { "type": "set-user-metadata", "key": "signup_number", "value": 1 },
            ]),
            "{path}"
        );
        let r = run(
            &rt,
            Trigger::PreUserRegistration,
            &[gate.clone(), gate.clone()],
            json!({ "end": "deny" }),
        )
        .await;
        assert_eq!(r.outcome, Outcome::Denied, "{path}");
        assert_eq!(r.actions.len(), 1, "{path}: the flow stopped");
        assert_eq!(
            serde_json::to_value(r.commands.last()).unwrap(),
            json!({ "type": "deny", "reason": "blocked grace@example.com",
                    "user_message": "Sign-ups from this domain are not allowed" }),
            "{path}"
        );
        let r = run(
            &rt,
            Trigger::PreUserRegistration,
            &[gate],
            json!({ "end": "validation" }),
        )
        .await;
        assert_eq!(r.outcome, Outcome::Denied, "{path}");
        assert_eq!(
            serde_json::to_value(r.commands.last()).unwrap(),
            json!({ "type": "validation-error", "code": "E_SIGNUP", "message": "invalid sign-up" }),
            "{path}"
        );
    }
}

#[tokio::test]
async fn each_new_trigger_runs_in_both_languages_with_the_same_log_and_its_own_cache() {
    let (builder, _) = js_harness();
    let rt = builder.build().unwrap();
    for (trigger, rust, js) in pairs() {
        let mut logs = Vec::new();
        for path in [rust, js] {
            let action = load(&rt, path, trigger);
            // Each language starts from an empty partition.
            let partition = cachet_runtime::PartitionKey::new("acme", trigger);
            rt.store()
                .restore(&partition, Vec::new(), rt.now_ms())
                .await
                .unwrap();
            let first = run(&rt, trigger, std::slice::from_ref(&action), json!({})).await;
            let second = run(&rt, trigger, &[action], json!({})).await;
            for r in [&first, &second] {
                assert_eq!(r.outcome, Outcome::Success, "{trigger} {path}: {r:#?}");
            }
            assert_eq!(second.cache.entries, 1, "{trigger} {path}");
            logs.push((
                first.actions[0].logs.clone(),
                second.actions[0].logs.clone(),
            ));
        }
        assert_eq!(logs[0], logs[1], "{trigger}: Rust and JavaScript differ");
        if trigger != Trigger::PreUserRegistration {
            assert!(logs[0].1.ends_with("(2)\n"), "{trigger}: {:?}", logs[0]);
        }
    }
    // The partitions are apart: four triggers, one entry each, none in post-login's.
    let post_login = cachet_runtime::PartitionKey::new("acme", Trigger::PostLogin);
    assert_eq!(rt.store().usage(&post_login).await.unwrap().entries, 0);
}
