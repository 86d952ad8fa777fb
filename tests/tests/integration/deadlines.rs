//! Deadlines in real time: with the real epoch ticker and a 300 ms flow deadline, an outbound
//! request to a server that accepts and never answers, and a JWKS fetch from one, each end as
//! `deadline-exceeded`, and the host serves the next execution. The overshoot past the deadline
//! is printed (run with `--nocapture`), not asserted: tests do not assert timings. The outer
//! 10 s bound only turns a hang into a failure.

use std::time::{Duration, Instant};

use cachet_limits::ExecutionLimits;
use cachet_runtime::{ActionConfig, FailureKind, FlowResult, Outcome, Runtime, Trigger};
use cachet_tests::guests;

use crate::assert_host_keeps_serving;
use serde_json::json;

const DEADLINE_MS: u64 = 300;

/// A server that accepts every connection and never answers; returns its `host:port`.
async fn stalled_server() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    addr
}

fn runtime() -> Runtime {
    let limits = ExecutionLimits {
        flow_deadline_ms: DEADLINE_MS,
        ..ExecutionLimits::default()
    };
    // The default ticker: real time.
    Runtime::builder().execution_limits(limits).build().unwrap()
}

async fn run_against(rt: &Runtime, host: &str, body: serde_json::Value) -> FlowResult {
    let wasm = std::fs::read(guests::ABUSE).unwrap();
    let action = rt
        .load_action(
            "stalled",
            Trigger::PostLogin,
            &wasm,
            ActionConfig::default().allow_host(host),
        )
        .unwrap();
    let event =
        json!({ "user": { "user_id": "auth0|1" }, "request": { "body": body } }).to_string();
    let started = Instant::now();
    let r = tokio::time::timeout(
        Duration::from_secs(10),
        rt.execute_actions("acme", Trigger::PostLogin, &[action], &event),
    )
    .await
    .expect("the execution hung past its deadline")
    .unwrap();
    eprintln!(
        "ended {} ms after a {DEADLINE_MS} ms deadline",
        started.elapsed().as_millis()
    );
    r
}

async fn assert_deadline_then_serves(rt: &Runtime, r: &FlowResult) {
    assert_eq!(r.outcome, Outcome::Failed, "{r:#?}");
    assert_eq!(
        r.actions[0].error.as_ref().unwrap().kind,
        FailureKind::DeadlineExceeded,
        "{r:#?}"
    );
    assert_host_keeps_serving(rt).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_to_a_server_that_never_answers_ends_at_the_deadline() {
    let rt = runtime();
    let host = stalled_server().await;
    let r = run_against(
        &rt,
        &host,
        json!({ "attack": "request-flood", "url": format!("http://{host}/never") }),
    )
    .await;
    assert_deadline_then_serves(&rt, &r).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_jwks_fetch_that_never_answers_ends_at_the_deadline() {
    let rt = runtime();
    let host = stalled_server().await;
    let r = run_against(
        &rt,
        &host,
        json!({ "attack": "verify", "url": format!("http://{host}/jwks.json"),
                "token": "eyJhbGciOiJSUzI1NiIsImtpZCI6ImsifQ.e30.c2ln" }),
    )
    .await;
    assert_deadline_then_serves(&rt, &r).await;
}
