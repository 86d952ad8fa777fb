//! Warm instances (`InstanceMode::Warm`): reused for the same action and tenant only, with
//! everything but the instance itself (cache budget, commands, deadline) per execution, and
//! discarded after a trap, the deadline, or their allowed number of executions. The `counter`
//! guest counts its executions in a module global, so the count tells a reused instance from
//! a fresh one.

use std::time::Duration;

use cachet_limits::ExecutionLimits;
use cachet_runtime::{
    Action, ActionConfig, FailureKind, FlowResult, InstanceMode, Outcome, Runtime, Trigger,
    WarmOptions,
};
use cachet_tests::{guests, load_with};
use serde_json::{Value, json};

use crate::{claim, run_one};

fn counter(runtime: &Runtime, instance: InstanceMode) -> Action {
    let config = ActionConfig {
        instance,
        ..ActionConfig::default()
    };
    load_with(runtime, guests::COUNTER, Trigger::PostLogin, config)
}

fn warm(max_executions: u32) -> InstanceMode {
    InstanceMode::Warm(WarmOptions {
        max_executions,
        ..WarmOptions::default()
    })
}

async fn run(runtime: &Runtime, action: &Action, tenant: &str, body: Value) -> FlowResult {
    let event = json!({ "user": { "user_id": "auth0|1" }, "request": { "body": body } });
    run_one(runtime, tenant, action, &event).await
}

/// The `count` the action reported.
async fn count(runtime: &Runtime, action: &Action, tenant: &str) -> u64 {
    let result = run(runtime, action, tenant, json!({})).await;
    assert_eq!(result.outcome, Outcome::Success, "{result:#?}");
    let count = claim(&result, "count").as_u64().unwrap();
    // Each execution's log holds its own lines only.
    assert_eq!(
        result.actions[0].logs,
        format!("execution {count}\nstderr {count}\n")
    );
    count
}

#[tokio::test]
async fn a_fresh_instance_never_sees_an_earlier_execution() {
    let (builder, _clock) = cachet_tests::harness();
    let runtime = builder.build().unwrap();
    let action = counter(&runtime, InstanceMode::Fresh);
    for _ in 0..3 {
        assert_eq!(count(&runtime, &action, "acme").await, 1);
    }
}

#[tokio::test]
async fn a_warm_instance_keeps_its_globals_for_the_same_tenant_only() {
    let (builder, _clock) = cachet_tests::harness();
    let runtime = builder.build().unwrap();
    let action = counter(&runtime, warm(100));
    assert_eq!(count(&runtime, &action, "acme").await, 1);
    assert_eq!(count(&runtime, &action, "acme").await, 2);
    // Another tenant never gets acme's instance.
    assert_eq!(count(&runtime, &action, "globex").await, 1);
    assert_eq!(count(&runtime, &action, "globex").await, 2);
    assert_eq!(count(&runtime, &action, "acme").await, 3);
}

#[tokio::test]
async fn a_warm_instance_is_discarded_after_a_trap() {
    let (builder, _clock) = cachet_tests::harness();
    let runtime = builder.build().unwrap();
    let action = counter(&runtime, warm(100));
    assert_eq!(count(&runtime, &action, "acme").await, 1);
    assert_eq!(count(&runtime, &action, "acme").await, 2);
    let trapped = run(&runtime, &action, "acme", json!({ "mode": "trap" })).await;
    assert_eq!(trapped.outcome, Outcome::Failed);
    assert_eq!(
        trapped.actions[0].error.as_ref().unwrap().kind,
        FailureKind::Trap
    );
    // A new instance: the count starts again.
    assert_eq!(count(&runtime, &action, "acme").await, 1);
}

#[tokio::test]
async fn a_warm_instance_is_retired_after_its_allowed_executions() {
    let (builder, _clock) = cachet_tests::harness();
    let runtime = builder.build().unwrap();
    let action = counter(&runtime, warm(2));
    let counts = [
        count(&runtime, &action, "acme").await,
        count(&runtime, &action, "acme").await,
        count(&runtime, &action, "acme").await,
        count(&runtime, &action, "acme").await,
    ];
    assert_eq!(counts, [1, 2, 1, 2]);
}

#[tokio::test]
async fn each_warm_execution_gets_its_own_write_budget_and_commands() {
    let (builder, _clock) = cachet_tests::harness();
    let runtime = builder.build().unwrap();
    let budget = u64::from(runtime.execution_limits().max_cache_writes);
    let action = counter(&runtime, warm(100));
    let body = json!({ "mode": "cache", "writes": budget + 5 });
    for expected in 1..=2 {
        let result = run(&runtime, &action, "acme", body.clone()).await;
        assert_eq!(result.outcome, Outcome::Success, "{result:#?}");
        assert_eq!(
            claim(&result, "count"),
            &json!(expected),
            "the instance was reused"
        );
        assert_eq!(
            claim(&result, "refused"),
            &json!({ "at": budget, "code": "MaxSideEffectsExceeded" }),
            "execution {expected} had a whole budget of its own"
        );
        assert_eq!(
            result.actions[0].cache_writes,
            u32::try_from(budget).unwrap()
        );
        // Only this execution's two claims, not the last one's too.
        assert_eq!(result.commands.len(), 2, "{:#?}", result.commands);
    }
}

#[tokio::test]
async fn each_warm_execution_gets_its_own_deadline_and_one_that_hits_it_is_discarded() {
    // Real time with a short deadline, as in `deadlines.rs`.
    let limits = ExecutionLimits {
        flow_deadline_ms: 300,
        ..ExecutionLimits::default()
    };
    let runtime = Runtime::builder().execution_limits(limits).build().unwrap();
    let action = counter(&runtime, warm(100));
    assert_eq!(count(&runtime, &action, "acme").await, 1);
    assert_eq!(count(&runtime, &action, "acme").await, 2);
    let looped = tokio::time::timeout(
        Duration::from_secs(10),
        run(&runtime, &action, "acme", json!({ "mode": "loop" })),
    )
    .await
    .expect("the deadline stopped the loop");
    assert_eq!(
        looped.actions[0].error.as_ref().unwrap().kind,
        FailureKind::DeadlineExceeded
    );
    // The next execution has a deadline of its own and a new instance.
    assert_eq!(count(&runtime, &action, "acme").await, 1);
}

#[tokio::test]
async fn idle_warm_instances_never_take_an_instance_slot_an_execution_needs() {
    // One slot for executions and one for an idle warm instance.
    let (builder, _clock) = cachet_tests::harness();
    let runtime = builder
        .instance_pool_size(1)
        .warm_idle_instances(1)
        .build()
        .unwrap();
    let first = counter(&runtime, warm(100));
    let second = counter(&runtime, warm(100));
    assert_eq!(count(&runtime, &first, "acme").await, 1);
    // `first`'s idle instance holds the idle slot; `second` still gets a slot to run in, and
    // its instance is dropped afterwards (no idle slot left) rather than kept.
    assert_eq!(count(&runtime, &second, "acme").await, 1);
    assert_eq!(count(&runtime, &first, "acme").await, 2);
    assert_eq!(count(&runtime, &second, "acme").await, 1);
}

#[tokio::test]
async fn with_no_idle_slots_warm_instances_are_never_kept() {
    let (builder, _clock) = cachet_tests::harness();
    let runtime = builder.warm_idle_instances(0).build().unwrap();
    let action = counter(&runtime, warm(100));
    assert_eq!(count(&runtime, &action, "acme").await, 1);
    assert_eq!(count(&runtime, &action, "acme").await, 1);
}
