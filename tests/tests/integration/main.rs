//! Integration tests: real action components, built from source by `build.rs`, run by the real
//! runtime. One binary, so the guests are built and the test harness compiled once.

// A panic is how a test fails; helpers outside #[test] functions unwrap on purpose.
#![allow(clippy::unwrap_used)]

mod api;
mod api_names;
mod bounds;
mod concurrency;
mod deadlines;
mod egress;
mod hostile;
mod isolation;
mod javascript;
mod load;
mod node_compat;
mod providers;
mod redirects;
mod shared;
mod signup;
mod stores;
mod token;
mod trigger_api;
mod warm;

use cachet_runtime::{FlowResult, Runtime, Trigger};
use serde_json::{Value, json};

/// Bounds an awaited execution: a broken deadline (or a hung host call) fails the test with a
/// message instead of hanging the suite. Generous, because the machine may be loaded; the
/// flow deadline itself is 20 s.
pub trait Bounded: std::future::Future + Sized {
    /// `self`, failing the test if it takes longer than 120 s.
    fn bounded(self) -> impl std::future::Future<Output = Self::Output> {
        async move {
            tokio::time::timeout(std::time::Duration::from_secs(120), self)
                .await
                .expect("an execution did not finish within 120 s")
        }
    }
}

impl<F: std::future::Future> Bounded for F {}

/// Runs `action` alone on `event` for tenant `acme`, advancing the epochs by hand (no
/// sleeping: a tick is 10 ms of deadline) until the execution ends; for actions that never end
/// by themselves. The bounds only keep a broken build from spinning or hanging forever.
pub async fn run_to_deadline(
    rt: &Runtime,
    action: cachet_runtime::Action,
    event: String,
) -> FlowResult {
    let task = tokio::spawn({
        let rt = rt.clone();
        async move {
            rt.execute_actions("acme", Trigger::PostLogin, &[action], &event)
                .bounded()
                .await
        }
    });
    for _ in 0..10_000_000 {
        if task.is_finished() {
            break;
        }
        rt.advance_epochs(1);
        tokio::task::yield_now().await;
    }
    tokio::time::timeout(std::time::Duration::from_secs(60), task)
        .await
        .expect("the looping execution never ended")
        .unwrap()
        .unwrap()
}

/// A log flood was cut at the 256 KiB cap, with the marker, and nothing after the cap (the
/// action's final `done`) was kept.
pub fn assert_log_cut_at_cap(result: &FlowResult) {
    assert_eq!(
        result.outcome,
        cachet_runtime::Outcome::Success,
        "{result:#?}"
    );
    let logs = &result.actions[0].logs;
    let (kept, marker) = logs
        .split_once("\n[cachet: log truncated")
        .expect("marker present");
    assert_eq!(kept.len(), 256 * 1024);
    assert!(marker.contains("more bytes dropped"));
    assert!(!logs.contains("done"), "output after the cap is dropped");
}

/// Runs `action` alone on `event` for `tenant`'s post-login partition.
pub async fn run_one(
    rt: &Runtime,
    tenant: &str,
    action: &cachet_runtime::Action,
    event: &Value,
) -> FlowResult {
    rt.execute_actions(
        tenant,
        Trigger::PostLogin,
        std::slice::from_ref(action),
        &event.to_string(),
    )
    .bounded()
    .await
    .unwrap()
}

/// An event whose `request.body.ops` the `cache-ops` action runs.
pub fn ops_event(ops: Value) -> String {
    json!({ "user": { "user_id": "auth0|1" }, "request": { "body": { "ops": ops } } }).to_string()
}

/// The value of the first command setting claim `name`.
pub fn claim<'a>(result: &'a FlowResult, name: &str) -> &'a Value {
    result
        .commands
        .iter()
        .find_map(|c| match c {
            cachet_runtime::Command::SetIdTokenClaim { name: n, value }
            | cachet_runtime::Command::SetAccessTokenClaim { name: n, value }
                if n == name =>
            {
                Some(value)
            }
            _ => None,
        })
        .unwrap_or_else(|| panic!("no claim {name} in {:#?}", result.commands))
}

/// After a hostile action: the same runtime still runs a well-behaved action (the `claims`
/// example), and the partition is within its quotas.
pub async fn assert_host_keeps_serving(rt: &Runtime) {
    let claims = cachet_tests::load(rt, cachet_tests::guests::CLAIMS, Trigger::PostLogin);
    let r = rt
        .execute_actions(
            "acme",
            Trigger::PostLogin,
            &[claims],
            r#"{"user":{"user_id":"auth0|1"}}"#,
        )
        .bounded()
        .await
        .unwrap();
    assert_eq!(r.outcome, cachet_runtime::Outcome::Success, "{r:#?}");
    assert!(
        r.cache.entries <= 20 && r.cache.bytes <= 8192,
        "{:?}",
        r.cache
    );
}

/// Runs the `cache-ops` action once on `tenant`'s post-login partition; returns its results.
pub async fn cache_ops(runtime: &Runtime, tenant: &str, ops: Value) -> Vec<Value> {
    let action = cachet_tests::load(runtime, cachet_tests::guests::CACHE_OPS, Trigger::PostLogin);
    let result = runtime
        .execute_actions(tenant, Trigger::PostLogin, &[action], &ops_event(ops))
        .bounded()
        .await
        .unwrap();
    assert_eq!(
        result.outcome,
        cachet_runtime::Outcome::Success,
        "{result:#?}"
    );
    claim(&result, "results").as_array().unwrap().clone()
}
