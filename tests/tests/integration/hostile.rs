//! Hostile actions, each its own guest: each ends in its typed failure while the host keeps
//! serving and the partition keeps every invariant.

use crate::Bounded as _;
use cachet_limits::ExecutionLimits;
use cachet_runtime::{FailureKind, FlowResult, Outcome, Runtime, Trigger};
use cachet_tests::{guests, harness, load};
use serde_json::json;

use crate::{assert_host_keeps_serving, assert_log_cut_at_cap, claim, run_to_deadline};

async fn run(rt: &Runtime, path: &str) -> FlowResult {
    let action = load(rt, path, Trigger::PostLogin);
    rt.execute_actions(
        "acme",
        Trigger::PostLogin,
        &[action],
        r#"{"user":{"user_id":"auth0|1"}}"#,
    )
    .bounded()
    .await
    .unwrap()
}

fn failure(r: &FlowResult) -> (FailureKind, &str) {
    assert_eq!(r.outcome, Outcome::Failed, "{r:#?}");
    let e = r.actions[0]
        .error
        .as_ref()
        .expect("a failed action has an error");
    (e.kind, e.message.as_str())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_infinite_loop_ends_at_the_deadline_and_the_host_keeps_serving() {
    let (builder, _) = harness();
    let limits = ExecutionLimits {
        flow_deadline_ms: 1_000,
        ..ExecutionLimits::default()
    };
    let rt = builder.execution_limits(limits).build().unwrap();
    let looping = load(&rt, guests::LOOP_FOREVER, Trigger::PostLogin);
    let r = run_to_deadline(&rt, looping, "{}".into()).await;
    let (kind, message) = failure(&r);
    assert_eq!(kind, FailureKind::DeadlineExceeded);
    assert!(message.contains("1000 ms"), "{message}");
    // The epoch stopped it, not the wall-clock backstop that would also end it after 1 s.
    assert!(
        message.contains("interrupted at the deadline epoch"),
        "{message}"
    );
    assert_host_keeps_serving(&rt).await;
}

#[tokio::test]
async fn a_memory_bomb_is_stopped_at_the_memory_limit() {
    let (builder, _) = harness();
    let rt = builder.build().unwrap();
    let r = run(&rt, guests::MEMORY_BOMB).await;
    let (kind, message) = failure(&r);
    assert_eq!(kind, FailureKind::MemoryLimitExceeded);
    assert!(
        message.contains(&(64 * 1024 * 1024).to_string()),
        "{message}"
    );
    assert_host_keeps_serving(&rt).await;
}

#[tokio::test]
async fn unbounded_recursion_is_reported_as_a_stack_overflow() {
    let (builder, _) = harness();
    let rt = builder.build().unwrap();
    let r = run(&rt, guests::DEEP_RECURSION).await;
    assert_eq!(failure(&r).0, FailureKind::StackOverflow);
    assert_host_keeps_serving(&rt).await;
}

#[tokio::test]
async fn a_panic_is_a_trap_with_the_panic_message_in_the_logs() {
    let (builder, _) = harness();
    let rt = builder.build().unwrap();
    let r = run(&rt, guests::PANICS).await;
    assert_eq!(failure(&r).0, FailureKind::Trap);
    assert!(
        r.actions[0]
            .logs
            .contains("deliberate panic for user auth0|1"),
        "{}",
        r.actions[0].logs
    );
    assert_host_keeps_serving(&rt).await;
}

#[tokio::test]
async fn a_log_flood_is_cut_at_the_cap_with_a_marker_and_the_action_still_succeeds() {
    let (builder, _) = harness();
    let rt = builder.build().unwrap();
    let r = run(&rt, guests::LOG_FLOOD).await;
    assert_log_cut_at_cap(&r);
    assert_host_keeps_serving(&rt).await;
}

#[tokio::test]
async fn thousands_of_cache_writes_stop_at_the_write_budget_within_the_quotas() {
    let (builder, _) = harness();
    let rt = builder.build().unwrap();
    let r = run(&rt, guests::CACHE_SPAM).await;
    assert_eq!(r.outcome, Outcome::Success);
    assert_eq!(
        claim(&r, "spam"),
        &json!({ "ok": 100, "codes": { "MaxSideEffectsExceeded": 4900 } })
    );
    assert_eq!(r.actions[0].cache_writes, 100);
    assert!(
        r.cache.entries <= 20 && r.cache.bytes <= 8192,
        "{:?}",
        r.cache
    );
    assert_host_keeps_serving(&rt).await;
}

#[tokio::test]
async fn invalid_claim_json_is_refused_and_the_action_sees_the_error() {
    let (builder, _) = harness();
    let rt = builder.build().unwrap();
    let r = run(&rt, guests::BAD_CLAIM_JSON).await;
    let (kind, message) = failure(&r);
    assert_eq!(kind, FailureKind::ActionError);
    assert!(message.contains("is not valid JSON"), "{message}");
    // What the action itself recorded: the valid claim, and nothing for the refused one.
    assert_eq!(
        r.actions[0].commands,
        [cachet_runtime::Command::SetIdTokenClaim {
            name: "before".into(),
            value: json!(true),
        }]
    );
    // A failed action's commands are not applied.
    assert!(r.commands.is_empty());
    assert_host_keeps_serving(&rt).await;
}

#[tokio::test]
async fn a_failing_action_stops_the_flow_and_keeps_earlier_commands() {
    let (builder, _) = harness();
    let rt = builder.build().unwrap();
    let claims = load(&rt, guests::CLAIMS, Trigger::PostLogin);
    let panics = load(&rt, guests::PANICS, Trigger::PostLogin);
    let r = rt
        .execute_actions(
            "acme",
            Trigger::PostLogin,
            &[claims.clone(), panics, claims],
            "{}",
        )
        .bounded()
        .await
        .unwrap();
    assert_eq!(r.outcome, Outcome::Failed);
    assert_eq!(
        r.actions.len(),
        2,
        "the action after the failure did not run"
    );
    assert_eq!(
        r.commands.len(),
        2,
        "the first action's two claims are kept"
    );
}

#[tokio::test]
async fn every_way_out_of_the_sandbox_is_refused() {
    let (builder, _) = harness();
    let rt = builder.build().unwrap();
    let r = run(&rt, guests::ESCAPE).await;
    assert_eq!(r.outcome, Outcome::Success, "{r:#?}");
    let report = claim(&r, "escape");
    for attempt in ["file", "dir", "env", "socket", "dns", "jwks"] {
        let got = report[attempt].as_str().unwrap();
        assert!(got.starts_with("refused: "), "{attempt}: {got}");
    }
    assert_eq!(report["env_count"], 0, "no environment at all");
    let jwks = report["jwks"].as_str().unwrap();
    assert!(
        jwks.contains("attacker.example") && jwks.contains("allow-list"),
        "{jwks}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_exhausted_instance_pool_is_a_typed_failure_and_the_host_serves_once_a_slot_frees() {
    let (builder, _) = harness();
    // One slot in all: none set aside for idle warm instances (which executions could use).
    let rt = builder
        .instance_pool_size(1)
        .warm_idle_instances(0)
        .build()
        .unwrap();
    let looping = load(&rt, guests::LOOP_FOREVER, Trigger::PostLogin);
    let busy = tokio::spawn({
        let rt = rt.clone();
        async move {
            rt.execute_actions("acme", Trigger::PostLogin, &[looping], "{}")
                .bounded()
                .await
        }
    });
    // Once the loop holds the only slot, another execution cannot get one. Until it does, a
    // quick execution may still slip in; try until the pool is seen full (bounded).
    let claims = load(&rt, guests::CLAIMS, Trigger::PostLogin);
    let mut refused = None;
    for _ in 0..100_000 {
        let r = rt
            .execute_actions(
                "acme",
                Trigger::PostLogin,
                std::slice::from_ref(&claims),
                "{}",
            )
            .bounded()
            .await
            .unwrap();
        if r.outcome == Outcome::Failed {
            refused = Some(r);
            break;
        }
        tokio::task::yield_now().await;
    }
    let refused = refused.expect("the pool never filled");
    let (kind, message) = failure(&refused);
    assert_eq!(kind, FailureKind::Instantiation);
    assert!(message.contains("every instance slot is busy"), "{message}");

    // End the loop at its deadline (manual epochs), then the slot serves again.
    for _ in 0..10_000_000 {
        if busy.is_finished() {
            break;
        }
        rt.advance_epochs(1);
        tokio::task::yield_now().await;
    }
    let looped = tokio::time::timeout(std::time::Duration::from_secs(60), busy)
        .await
        .expect("the looping execution never ended")
        .unwrap()
        .unwrap();
    assert_eq!(failure(&looped).0, FailureKind::DeadlineExceeded);
    assert_host_keeps_serving(&rt).await;
}
