//! Every API call of both triggers, flows, secrets, and the cache through a real sandbox.

use crate::Bounded as _;
use std::collections::BTreeMap;

use cachet_runtime::{Command, Outcome, Trigger};
use cachet_tests::{T0, guests, harness, load};
use serde_json::json;

use crate::{cache_ops, claim};

fn login_event(deny: bool) -> String {
    json!({
        "user": { "user_id": "auth0|42", "name": "Ada" },
        "tenant": { "id": "acme" },
        "request": { "ip": "203.0.113.7", "query": { "deny": deny } },
        "stats": { "logins_count": 9 },
        "secrets": { "FROM_CALLER": "must-not-reach-the-action" }
    })
    .to_string()
}

#[tokio::test]
async fn every_post_login_api_call_becomes_a_command_in_call_order() {
    let (builder, _) = harness();
    let rt = builder.build().unwrap();
    let tour = load(&rt, guests::API_TOUR, Trigger::PostLogin);
    let r = rt
        .execute_actions("acme", Trigger::PostLogin, &[tour], &login_event(false))
        .bounded()
        .await
        .unwrap();
    assert_eq!(r.outcome, Outcome::Success);
    let kinds: Vec<&str> = r
        .commands
        .iter()
        .map(|c| match c {
            Command::SetIdTokenClaim { .. } => "id-claim",
            Command::SetAccessTokenClaim { .. } => "access-claim",
            Command::AddAccessTokenScope { .. } => "add-scope",
            Command::RemoveAccessTokenScope { .. } => "remove-scope",
            Command::SetAppMetadata { .. } => "app-metadata",
            Command::SetUserMetadata { .. } => "user-metadata",
            Command::Deny { .. } => "deny",
            _ => "other",
        })
        .collect();
    assert_eq!(
        kinds,
        [
            "id-claim",
            "access-claim",
            "add-scope",
            "remove-scope",
            "app-metadata",
            "user-metadata",
            "id-claim",
            "id-claim"
        ]
    );
    assert_eq!(
        r.commands[0],
        Command::SetIdTokenClaim {
            name: "https://tour/name".into(),
            value: json!("Ada")
        }
    );
    assert_eq!(
        r.commands[2],
        Command::AddAccessTokenScope {
            scope: "read:profile".into()
        }
    );
    assert_eq!(
        r.commands[5],
        Command::SetUserMetadata {
            key: "visits".into(),
            value: json!(10)
        }
    );
    // The cache round trip inside the sandbox: set returns the real expiry, get reads it,
    // delete removes it.
    assert_eq!(
        claim(&r, "https://tour/cache"),
        &json!({ "expires_at": T0 + 60_000, "read": "value", "gone": true })
    );
    assert_eq!(r.actions[0].logs, "tour for auth0|42\n");
    assert_eq!(r.actions[0].cache_writes, 2);
}

#[tokio::test]
async fn a_deny_stops_the_flow_and_is_the_last_command() {
    let (builder, _) = harness();
    let rt = builder.build().unwrap();
    let tour = load(&rt, guests::API_TOUR, Trigger::PostLogin);
    let claims = load(&rt, guests::CLAIMS, Trigger::PostLogin);
    let r = rt
        .execute_actions(
            "acme",
            Trigger::PostLogin,
            &[tour, claims],
            &login_event(true),
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
async fn each_action_sees_its_own_secrets_and_never_the_callers() {
    let (builder, _) = harness();
    let rt = builder.build().unwrap();
    let wasm = std::fs::read(guests::API_TOUR).unwrap();
    let load_with = |name: &str, secret: &str, value: &str| {
        let secrets = BTreeMap::from([(secret.to_string(), value.to_string())]);
        rt.load_action(name, Trigger::PostLogin, &wasm, secrets)
            .unwrap()
    };
    let first = load_with("first", "FIRST_SECRET", "s3cr3t-1");
    let second = load_with("second", "SECOND_SECRET", "s3cr3t-2");
    let r = rt
        .execute_actions(
            "acme",
            Trigger::PostLogin,
            &[first.clone(), second.clone()],
            &login_event(false),
        )
        .bounded()
        .await
        .unwrap();
    assert_eq!(r.outcome, Outcome::Success, "{r:#?}");
    // Each action's own record: the secret names it saw.
    let seen = |i: usize| {
        r.actions[i]
            .commands
            .iter()
            .find_map(|c| match c {
                Command::SetIdTokenClaim { name, value } if name == "https://tour/secret-names" => {
                    Some(value.clone())
                }
                _ => None,
            })
            .unwrap()
    };
    assert_eq!(seen(0), json!(["FIRST_SECRET"]));
    assert_eq!(seen(1), json!(["SECOND_SECRET"]));
    for action in [&first, &second] {
        let debug = format!("{action:?}");
        assert!(
            !debug.contains("s3cr3t"),
            "Debug of an action never shows secrets: {debug}"
        );
    }
}

#[tokio::test]
async fn every_credentials_exchange_deny_code_reaches_the_result() {
    let (builder, _) = harness();
    let rt = builder.build().unwrap();
    let deny = load(&rt, guests::CX_DENY, Trigger::CredentialsExchange);
    for code in ["invalid_scope", "invalid_request", "server_error"] {
        let event = json!({
            "client": { "client_id": "svc-1" },
            "request": { "body": { "code": code, "reason": format!("because {code}") } }
        })
        .to_string();
        let r = rt
            .execute_actions(
                "acme",
                Trigger::CredentialsExchange,
                std::slice::from_ref(&deny),
                &event,
            )
            .bounded()
            .await
            .unwrap();
        assert_eq!(r.outcome, Outcome::Denied, "{r:#?}");
        assert_eq!(
            r.commands,
            [Command::Deny {
                code: Some(code.into()),
                reason: format!("because {code}"),
                user_message: None,
            }]
        );
    }
}

#[tokio::test]
async fn credentials_exchange_claims_count_tokens_per_client_in_the_cache() {
    let (builder, _) = harness();
    let rt = builder.build().unwrap();
    let m2m = load(&rt, guests::M2M_CLAIMS, Trigger::CredentialsExchange);
    let event =
        json!({ "client": { "client_id": "svc-1" }, "tenant": { "id": "acme" } }).to_string();
    for expected in 1..=3 {
        let r = rt
            .execute_actions(
                "acme",
                Trigger::CredentialsExchange,
                std::slice::from_ref(&m2m),
                &event,
            )
            .bounded()
            .await
            .unwrap();
        assert_eq!(r.outcome, Outcome::Success, "{r:#?}");
        assert_eq!(
            claim(&r, "https://cachet.example/issued_this_hour"),
            &json!(expected)
        );
        assert_eq!(claim(&r, "https://cachet.example/tenant"), &json!("acme"));
    }
}

#[tokio::test]
async fn credentials_exchange_deny_carries_the_oauth_error_code() {
    let (builder, _) = harness();
    let rt = builder.build().unwrap();
    let m2m = load(&rt, guests::M2M_CLAIMS, Trigger::CredentialsExchange);
    let event = json!({
        "client": { "client_id": "svc-1" },
        "transaction": { "requested_scopes": ["read:users", "admin:all"] }
    })
    .to_string();
    let r = rt
        .execute_actions("acme", Trigger::CredentialsExchange, &[m2m], &event)
        .bounded()
        .await
        .unwrap();
    assert_eq!(r.outcome, Outcome::Denied);
    assert_eq!(
        r.commands,
        [Command::Deny {
            code: Some("invalid_scope".into()),
            reason: "client svc-1 may not request admin:all".into(),
            user_message: None,
        }]
    );
}

#[tokio::test]
async fn the_claims_example_computes_once_then_serves_from_the_cache() {
    let (builder, _) = harness();
    let rt = builder.build().unwrap();
    let claims = load(&rt, guests::CLAIMS, Trigger::PostLogin);
    let event =
        json!({ "user": { "user_id": "auth0|7", "app_metadata": { "plan": "pro" } } }).to_string();
    let first = rt
        .execute_actions(
            "acme",
            Trigger::PostLogin,
            std::slice::from_ref(&claims),
            &event,
        )
        .bounded()
        .await
        .unwrap();
    let second = rt
        .execute_actions("acme", Trigger::PostLogin, &[claims], &event)
        .bounded()
        .await
        .unwrap();
    assert_eq!(first.actions[0].cache_writes, 1);
    assert_eq!(
        second.actions[0].cache_writes, 0,
        "second login is a cache hit"
    );
    assert_eq!(first.commands, second.commands);
    assert_eq!(claim(&second, "https://cachet.example/plan"), &json!("pro"));
    assert_eq!(second.cache.entries, 1);
}

#[tokio::test]
async fn a_manual_clock_makes_entries_expire_exactly_at_their_ttl() {
    let (builder, clock) = harness();
    let rt = builder.build().unwrap();
    let set = json!([{ "op": "set", "key": "k", "value": "v", "ttl": 1000 }]);
    assert_eq!(
        cache_ops(&rt, "acme", set).await[0]["expires_at"],
        json!(T0 + 1000)
    );
    clock.advance(999);
    let get = json!([{ "op": "get", "key": "k" }]);
    assert_eq!(
        cache_ops(&rt, "acme", get.clone()).await[0]["value"],
        json!("v")
    );
    clock.advance(1);
    assert_eq!(cache_ops(&rt, "acme", get).await[0], json!(null));
}

/// Runs a quota probe (the Rust example or its JavaScript twin, `path`) once under `policy`
/// on a runtime from `builder`, checks the partition kept its quotas and that the probe spent
/// exactly the write budget (100: refused writes are charged too), and returns the probe's
/// report claim.
pub(crate) async fn quota_probe(
    builder: cachet_runtime::RuntimeBuilder,
    path: &str,
    policy: cachet_limits::OverflowPolicy,
) -> serde_json::Value {
    let rt = builder.overflow_policy(policy).build().unwrap();
    let probe = load(&rt, path, Trigger::PostLogin);
    let r = rt
        .execute_actions("acme", Trigger::PostLogin, &[probe], "{}")
        .bounded()
        .await
        .unwrap();
    assert_eq!(r.outcome, Outcome::Success, "{r:#?}");
    assert!(
        r.cache.entries <= 20 && r.cache.bytes <= 8192,
        "{:?}",
        r.cache
    );
    assert_eq!(r.actions[0].cache_writes, 100, "the whole budget, no more");
    claim(&r, "https://cachet.example/quota").clone()
}

/// What a quota probe meets under the strict policy: every refusal code once.
pub(crate) fn assert_strict_quota_codes(quota: &serde_json::Value) {
    assert_eq!(
        quota["written_before_overflow"],
        json!(16),
        "16 x 508 bytes fit in 8192"
    );
    assert_eq!(quota["first_key_evicted"], json!(false));
    // 17 fill writes (the 17th refused), 4 refused by size or lifetime, a refused delete, the
    // claim's delete and two claims: 25 charged before the budget loop, 75 left for it.
    assert_eq!(quota["writes_until_budget_ran_out"], json!(75));
    assert_eq!(
        quota["codes"],
        json!({
            "fill": "CacheSizeExceeded",
            "key_65_bytes": "CacheKeySizeExceeded",
            "value_4097_bytes": "CacheValueSizeExceeded",
            "ttl_0": "ItemAlreadyExpired",
            "ttl_overflow": "InvalidExpiry",
            "delete_missing": "CacheKeyDoesNotExist",
            "claim_taken": "CacheKeyExists",
            "budget": "MaxSideEffectsExceeded",
        })
    );
}

/// What a quota probe meets under the evict policy: no refusal, the oldest entry evicted.
pub(crate) fn assert_evict_quota(quota: &serde_json::Value) {
    assert_eq!(
        quota["written_before_overflow"],
        json!(40),
        "evict never refuses"
    );
    assert_eq!(quota["first_key_evicted"], json!(true));
    assert!(quota["codes"].get("fill").is_none(), "{quota}");
}

#[tokio::test]
async fn the_quota_probe_meets_every_quota_code_under_the_strict_policy() {
    let quota = quota_probe(
        harness().0,
        guests::QUOTA_PROBE,
        cachet_limits::OverflowPolicy::Strict,
    )
    .await;
    assert_strict_quota_codes(&quota);
}

#[tokio::test]
async fn the_quota_probe_sees_lru_eviction_under_the_evict_policy() {
    let quota = quota_probe(
        harness().0,
        guests::QUOTA_PROBE,
        cachet_limits::OverflowPolicy::Evict,
    )
    .await;
    assert_evict_quota(&quota);
}

#[tokio::test]
async fn actions_of_a_bound_flow_run_in_order_and_share_the_partition() {
    let (builder, _) = harness();
    let rt = builder.build().unwrap();
    let claims = load(&rt, guests::CLAIMS, Trigger::PostLogin);
    let ops = load(&rt, guests::CACHE_OPS, Trigger::PostLogin);
    rt.bind("acme", Trigger::PostLogin, vec![claims, ops])
        .unwrap();
    // cache-ops reads what claims wrote in the same flow.
    let event = json!({
        "user": { "user_id": "auth0|9" },
        "request": { "body": { "ops": [{ "op": "get", "key": "claims:auth0|9" }] } }
    })
    .to_string();
    let r = rt
        .execute("acme", Trigger::PostLogin, &event)
        .bounded()
        .await
        .unwrap();
    let names: Vec<&str> = r.actions.iter().map(|a| a.name.as_str()).collect();
    assert_eq!(names, ["claims", "cache-ops"]);
    let results = claim(&r, "results");
    assert!(results[0]["value"].as_str().unwrap().contains("api:read"));
    // A tenant with nothing bound succeeds with no commands.
    let empty = rt
        .execute("nobody", Trigger::PostLogin, "{}")
        .bounded()
        .await
        .unwrap();
    assert_eq!((empty.outcome, empty.commands.len()), (Outcome::Success, 0));
}
