//! Host memory stays bounded whatever an action does: each attack of the `abuse` action fails
//! alone with a typed error naming the limit, and the host keeps serving. (The peak-RSS check
//! of the same attacks through `cachet run` is in `host/cli/tests/memory.rs`.)

use crate::Bounded as _;
use cachet_dev_idp::{DevIdp, DevIdpConfig};
use cachet_runtime::{ActionConfig, FailureKind, FlowResult, Outcome, Runtime, Trigger};
use cachet_tests::{guests, harness};

use crate::assert_host_keeps_serving;
use serde_json::json;

fn event(attack: &str, url: &str) -> String {
    json!({ "user": { "user_id": "auth0|1" }, "request": { "body": { "attack": attack, "url": url } } })
        .to_string()
}

async fn attack(rt: &Runtime, idp: &DevIdp, attack: &str, url: &str) -> FlowResult {
    let wasm = std::fs::read(guests::ABUSE).unwrap();
    let config = ActionConfig::default().allow_host(idp.host_port());
    let action = rt
        .load_action("abuse", Trigger::PostLogin, &wasm, config)
        .unwrap();
    rt.execute_actions("acme", Trigger::PostLogin, &[action], &event(attack, url))
        .bounded()
        .await
        .unwrap()
}

/// The action failed with its own error (not a trap), whose message contains `needle`; then
/// the host still runs a well-behaved action.
async fn assert_refused(rt: &Runtime, r: &FlowResult, needle: &str) {
    assert_fails(rt, r, FailureKind::ActionError, needle).await;
}

/// The action failed with a failure of `kind` whose message contains `needle`; then the host
/// still runs a well-behaved action.
async fn assert_fails(rt: &Runtime, r: &FlowResult, kind: FailureKind, needle: &str) {
    assert_eq!(r.outcome, Outcome::Failed, "the attack got through: {r:#?}");
    let error = r.actions[0].error.as_ref().unwrap();
    assert_eq!(error.kind, kind, "{error:?}");
    assert!(
        error.message.contains(needle),
        "{needle:?} not in {:?}",
        error.message
    );
    assert!(r.commands.is_empty());
    assert_host_keeps_serving(rt).await;
}

async fn setup() -> (Runtime, DevIdp) {
    let (builder, _) = harness();
    let idp = DevIdp::start(DevIdpConfig::default()).await.unwrap();
    (builder.build().unwrap(), idp)
}

#[tokio::test]
async fn an_8_mb_claim_is_refused_by_size_before_it_is_parsed() {
    let (rt, idp) = setup().await;
    let r = attack(&rt, &idp, "huge-claim", "").await;
    assert_refused(&rt, &r, "past 1048576 bytes").await;
}

#[tokio::test]
async fn an_8_mb_token_is_refused_by_its_length() {
    let (rt, idp) = setup().await;
    let r = attack(&rt, &idp, "huge-token", "").await;
    assert_refused(&rt, &r, "at most 16384 are accepted").await;
}

#[tokio::test]
async fn a_request_body_past_the_limit_fails_the_request() {
    let (rt, idp) = setup().await;
    let url = format!("http://{}/oauth/token", idp.host_port());
    let r = attack(&rt, &idp, "body-flood", &url).await;
    assert_refused(&rt, &r, "HttpRequestBodySize").await;
}

#[tokio::test]
async fn a_header_flood_traps_at_the_field_size_limit() {
    let (rt, idp) = setup().await;
    let url = format!("http://{}/stats", idp.host_port());
    let r = attack(&rt, &idp, "header-flood", &url).await;
    // wasi:http's `fields.from-list` has no error case for size: wasmtime traps.
    assert_fails(
        &rt,
        &r,
        FailureKind::Trap,
        "total size of fields exceeds limit",
    )
    .await;
}

#[tokio::test]
async fn ten_thousand_requests_stop_at_the_per_execution_budget() {
    let (rt, idp) = setup().await;
    let url = format!("http://{}/stats", idp.host_port());
    let r = attack(&rt, &idp, "request-flood", &url).await;
    // 50 requests made it; the 51st was refused by the budget.
    assert_refused(&rt, &r, "request 50: ").await;
    assert!(
        r.actions[0]
            .error
            .as_ref()
            .unwrap()
            .message
            .contains("ConnectionLimitReached"),
        "{r:#?}"
    );
}

#[tokio::test]
async fn jwks_url_churn_is_bounded_by_the_outbound_budget() {
    let (rt, idp) = setup().await;
    let r = attack(&rt, &idp, "jwks-churn", &idp.jwks_url()).await;
    assert_refused(
        &rt,
        &r,
        "verification 50: fetching the JWKS: more than 50 outbound",
    )
    .await;
    assert_eq!(idp.stats().jwks_requests, 50);
}

#[tokio::test]
async fn a_tenant_without_the_host_on_its_allow_list_cannot_use_keys_another_tenant_fetched() {
    let (rt, idp) = setup().await;
    let wasm = std::fs::read(guests::ABUSE).unwrap();
    let verify = |config: ActionConfig| {
        rt.load_action("verify", Trigger::PostLogin, &wasm, config)
            .unwrap()
    };
    let body = json!({ "user": { "user_id": "auth0|1" }, "request": { "body": {
        "attack": "verify", "url": idp.jwks_url(), "token": idp.issue_token() } } })
    .to_string();
    // Tenant A may reach the IdP: its verification fetches and caches the keys.
    let a = verify(ActionConfig::default().allow_host(idp.host_port()));
    let r = rt
        .execute_actions("a", Trigger::PostLogin, &[a], &body)
        .bounded()
        .await
        .unwrap();
    assert_eq!(r.outcome, Outcome::Success, "{r:#?}");
    assert_eq!(idp.stats().jwks_requests, 1);
    // Tenant B may not: the cached keys are not used, and nothing is fetched.
    let b = verify(ActionConfig::default());
    let r = rt
        .execute_actions("b", Trigger::PostLogin, &[b], &body)
        .bounded()
        .await
        .unwrap();
    assert_eq!(r.outcome, Outcome::Failed);
    let message = &r.actions[0].error.as_ref().unwrap().message;
    assert!(
        message.contains("not on the action's allow-list"),
        "{message}"
    );
    assert_eq!(idp.stats().jwks_requests, 1);
}

#[tokio::test]
async fn a_name_resolving_to_loopback_is_refused_unless_the_entry_is_marked_private() {
    let (rt, idp) = setup().await;
    let port = idp.addr().port();
    let wasm = std::fs::read(guests::ABUSE).unwrap();
    let url = format!("http://localhost:{port}/stats");
    let run = |config: ActionConfig| {
        let action = rt
            .load_action("egress", Trigger::PostLogin, &wasm, config)
            .unwrap();
        let event = event("request-flood", &url);
        let rt = rt.clone();
        async move {
            rt.execute_actions("acme", Trigger::PostLogin, &[action], &event)
                .bounded()
                .await
                .unwrap()
        }
    };
    // `localhost` is on the allow-list, but it resolves to a loopback address: refused before
    // any connection, so the IdP sees nothing.
    let refused = run(ActionConfig::default().allow_host(format!("localhost:{port}"))).await;
    assert_refused(&rt, &refused, "request 0: ").await;
    let message = &refused.actions[0].error.as_ref().unwrap().message;
    assert!(message.contains("DestinationIpProhibited"), "{message}");
    assert_eq!(
        idp.stats().management_requests + idp.stats().token_requests,
        0
    );
    // Marked private by the operator, the same entry connects (until the request budget).
    let allowed =
        run(ActionConfig::default().allow_private_host(format!("localhost:{port}"))).await;
    assert_refused(&rt, &allowed, "request 50: ").await;
}

#[tokio::test]
async fn a_malformed_allow_list_entry_is_a_load_error_naming_it() {
    let (rt, _idp) = setup().await;
    let wasm = std::fs::read(guests::ABUSE).unwrap();
    for entry in ["[::1]:99999", "https://api.example.com"] {
        let err = rt
            .load_action(
                "bad",
                Trigger::PostLogin,
                &wasm,
                ActionConfig::default().allow_host(entry),
            )
            .unwrap_err();
        assert!(err.to_string().contains(entry), "{err}");
    }
}

/// The abuse action in `mode` with extra body fields, at the default limits.
async fn abuse_with(rt: &Runtime, mode: &str, extra: serde_json::Value) -> FlowResult {
    let wasm = std::fs::read(guests::ABUSE).unwrap();
    let action = rt
        .load_action("abuse", Trigger::PostLogin, &wasm, ActionConfig::default())
        .unwrap();
    let mut body = json!({ "attack": mode });
    body.as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    let event = json!({ "user": { "user_id": "auth0|1" }, "request": { "body": body } });
    rt.execute_actions("acme", Trigger::PostLogin, &[action], &event.to_string())
        .bounded()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_thousand_commands_are_recorded_and_the_next_is_refused() {
    let (rt, _idp) = setup().await;
    let r = abuse_with(&rt, "command-flood", json!({ "n": 1000 })).await;
    assert_eq!(r.outcome, Outcome::Success, "{:?}", r.actions[0].error);
    assert_eq!(r.commands.len(), 1000);

    let r = abuse_with(&rt, "command-flood", json!({ "n": 1001 })).await;
    assert_eq!(
        r.actions[0].commands.len(),
        1000,
        "the first 1000 were recorded"
    );
    assert_refused(&rt, &r, "call 1000: more than 1000 API calls").await;
}

#[tokio::test]
async fn a_256_byte_name_is_accepted_and_a_257_byte_one_refused() {
    let (rt, _idp) = setup().await;
    let r = abuse_with(&rt, "long-name", json!({ "len": 256 })).await;
    assert_eq!(r.outcome, Outcome::Success, "{:?}", r.actions[0].error);
    let r = abuse_with(&rt, "long-name", json!({ "len": 257 })).await;
    assert_refused(&rt, &r, "is 257 bytes; at most 256 are allowed").await;
}

#[tokio::test]
async fn command_payloads_fill_one_mib_to_the_byte_and_no_further() {
    let (rt, _idp) = setup().await;
    let r = abuse_with(&rt, "payload-fill", json!({})).await;
    assert_eq!(
        r.actions[0].commands.len(),
        16,
        "16 x 64 KiB fit in 1 MiB exactly"
    );
    assert_refused(&rt, &r, "claim 16: this call's 4 bytes would take").await;
}
