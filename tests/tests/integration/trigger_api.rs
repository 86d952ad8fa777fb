//! Every method of post-login's and credentials-exchange's `api`, in both languages: the same
//! calls record the same commands in Rust and JavaScript, each flow-ending method denies, and
//! the host refuses bad arguments as Auth0's methods do, recording nothing.

use crate::Bounded as _;

use cachet_runtime::{Action, Command, FlowResult, Outcome, Runtime, Trigger};
use cachet_tests::{guests, js_harness, load};
use serde_json::{Value, json};

use crate::{claim, run_one};

/// post-login's default event with `request.query.end` (and `request.body.calls`) set.
fn login_event(end: Option<&str>, calls: &Value) -> Value {
    let mut event: Value = serde_json::from_str(Trigger::PostLogin.default_event()).unwrap();
    event["request"]["query"] = json!({ "end": end });
    event["request"]["body"] = json!({ "calls": calls });
    event
}

async fn tour(rt: &Runtime, action: &Action, end: Option<&str>) -> FlowResult {
    run_one(rt, "acme", action, &login_event(end, &json!([]))).await
}

/// The commands the login tour records, in call order (both languages).
fn tour_commands() -> Value {
    let saml = [
        ("audience", json!("urn:audience")),
        ("recipient", json!("https://sp.example/acs")),
        ("createUpnClaim", json!(false)),
        ("passthroughClaimsWithNoMapping", json!(false)),
        ("mapUnknownClaimsAsIs", json!(true)),
        ("mapIdentities", json!(false)),
        ("signatureAlgorithm", json!("rsa-sha256")),
        ("digestAlgorithm", json!("sha256")),
        ("destination", json!("https://sp.example/dest")),
        ("lifetimeInSeconds", json!(600)),
        ("signResponse", json!(true)),
        (
            "nameIdentifierFormat",
            json!("urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress"),
        ),
        (
            "nameIdentifierProbes",
            json!(["http://schemas.example/email"]),
        ),
        (
            "authnContextClassRef",
            json!("urn:oasis:names:tc:SAML:2.0:ac:classes:Password"),
        ),
        ("signingCert", json!("-----BEGIN CERTIFICATE-----signing")),
        ("includeAttributeNameFormat", json!(false)),
        ("typedAttributes", json!(false)),
        ("encryptionCert", json!("-----BEGIN CERTIFICATE-----enc")),
        (
            "encryptionPublicKey",
            json!("-----BEGIN PUBLIC KEY-----enc"),
        ),
        ("cert", json!("-----BEGIN CERTIFICATE-----own")),
        ("key", json!("-----BEGIN PRIVATE KEY-----own")),
        ("relayState", json!("relay")),
        ("issuer", json!("urn:tour")),
        ("encryptionAlgorithm", json!("aes256-gcm")),
    ];
    let mut commands = vec![
        json!({ "type": "set-access-token-claim", "name": "https://tour/plan", "value": "gold" }),
        json!({ "type": "add-access-token-scope", "scope": "read:tour" }),
        json!({ "type": "remove-access-token-scope", "scope": "write:tour" }),
        json!({ "type": "challenge-with", "factor": { "type": "otp" },
                "additional_factors": [{ "type": "phone", "options": { "preferredMethod": "sms" } }] }),
        json!({ "type": "challenge-with-any", "factors": [{ "type": "otp" }, { "type": "email" }] }),
        json!({ "type": "enroll-with", "factor": { "type": "webauthn-platform" }, "additional_factors": [] }),
        json!({ "type": "enroll-with-any",
                "factors": [{ "type": "push-notification" }, { "type": "recovery-code" }] }),
        json!({ "type": "set-primary-user", "user_id": "auth0|primary" }),
        json!({ "type": "set-id-token-claim", "name": "https://tour/id", "value": 1 }),
        json!({ "type": "enable-multifactor", "provider": "duo", "allow_remember_browser": true,
                "provider_options": { "host": "api-1.duo.example", "ikey": "DI1", "skey": "k" } }),
        json!({ "type": "render-prompt", "prompt_id": "form-1",
                "fields": { "name": "Ada" }, "vars": { "step": 2 } }),
        json!({ "type": "set-refresh-token-expires-at", "expires_at": 1_800_000_000_000_u64 }),
        json!({ "type": "set-refresh-token-idle-expires-at", "idle_expires_at": 1_700_100_000_000_u64 }),
        json!({ "type": "set-refresh-token-metadata", "key": "device", "value": "laptop" }),
        json!({ "type": "delete-refresh-token-metadata", "key": "old" }),
        json!({ "type": "evict-refresh-token-metadata" }),
        json!({ "type": "set-id-token-claim", "name": "https://tour/rule-ran", "value": false }),
        json!({ "type": "set-saml-attribute", "attribute": "http://schemas.example/role",
                "value": ["admin", "dev"] }),
    ];
    commands.extend(saml.into_iter().map(
        |(property, value)| json!({ "type": "set-saml-property", "property": property, "value": value }),
    ));
    commands.extend([
        json!({ "type": "set-session-expires-at", "expires_at": 1_800_000_000_000_u64 }),
        json!({ "type": "set-session-idle-expires-at", "idle_expires_at": 1_700_100_000_000_u64 }),
        json!({ "type": "set-session-cookie-mode", "mode": "non-persistent" }),
        json!({ "type": "set-session-metadata", "key": "seen", "value": "yes" }),
        json!({ "type": "set-session-metadata", "key": "gone", "value": null }),
        json!({ "type": "delete-session-metadata", "key": "old" }),
        json!({ "type": "evict-session-metadata" }),
        json!({ "type": "set-transaction-metadata", "key": "step", "value": 2 }),
        json!({ "type": "add-target-scope", "scope": "read:a" }),
        json!({ "type": "remove-target-scope", "scope": "read:b" }),
        json!({ "type": "set-target-scopes", "scopes": ["read:a", "read:c"] }),
        json!({ "type": "clear-target-scopes" }),
        json!({ "type": "set-app-metadata", "key": "plan", "value": "gold" }),
        json!({ "type": "set-user-metadata", "key": "theme", "value": null }),
    ]);
    Value::Array(commands)
}

#[tokio::test]
async fn every_post_login_method_records_the_same_command_in_rust_and_javascript() {
    let (builder, _) = js_harness();
    let rt = builder.build().unwrap();
    let expected = tour_commands();
    for path in [guests::LOGIN_TOUR, guests::JS_LOGIN_TOUR] {
        let action = load(&rt, path, Trigger::PostLogin);
        let r = tour(&rt, &action, None).await;
        assert_eq!(r.outcome, Outcome::Success, "{path}: {r:#?}");
        assert_eq!(
            serde_json::to_value(&r.commands).unwrap(),
            expected,
            "{path}"
        );
        // And each parses back into the typed command it was recorded as.
        let typed: Vec<Command> = serde_json::from_value(expected.clone()).unwrap();
        assert_eq!(r.commands, typed, "{path}");
    }
}

#[tokio::test]
async fn each_flow_ending_method_denies_the_login_and_stops_the_flow_in_both_languages() {
    let (builder, _) = js_harness();
    let rt = builder.build().unwrap();
    let ends = [
        (
            "deny",
            json!({ "type": "deny", "reason": "denied by the tour" }),
        ),
        (
            "validation",
            json!({ "type": "validation-error", "code": "E_TOUR", "message": "invalid by the tour" }),
        ),
        (
            "session",
            json!({ "type": "revoke-session", "reason": "revoked by the tour", "preserve_refresh_tokens": true }),
        ),
        (
            "refresh",
            json!({ "type": "revoke-refresh-token", "reason": "refresh revoked by the tour" }),
        ),
    ];
    let after = load(&rt, guests::CLAIMS, Trigger::PostLogin);
    for path in [guests::LOGIN_TOUR, guests::JS_LOGIN_TOUR] {
        let action = load(&rt, path, Trigger::PostLogin);
        for (end, command) in &ends {
            let event = login_event(Some(end), &json!([])).to_string();
            let r = rt
                .execute_actions(
                    "acme",
                    Trigger::PostLogin,
                    &[action.clone(), after.clone()],
                    &event,
                )
                .bounded()
                .await
                .unwrap();
            assert_eq!(r.outcome, Outcome::Denied, "{path} {end}");
            assert_eq!(r.actions.len(), 1, "{path} {end}: the next action ran");
            assert_eq!(
                serde_json::to_value(r.commands.last()).unwrap(),
                *command,
                "{path} {end}"
            );
        }
    }
}

/// Bad calls and what the host answers (a part of the message), for both probes.
fn bad_calls() -> Vec<(&'static str, Value, &'static str)> {
    vec![
        (
            "multifactor.enable",
            json!(["sms"]),
            "the provider must be one of any, duo, google-authenticator, guardian, none, not \"sms\"",
        ),
        (
            "multifactor.enable",
            json!(["duo", { "providerOptions": { "host": "h", "ikey": "i" } }]),
            "the duo provider needs options.providerOptions.skey",
        ),
        (
            "multifactor.enable",
            json!(["any", { "allowRememberBrowser": "yes" }]),
            "options.allowRememberBrowser must be a boolean",
        ),
        (
            "authentication.challengeWith",
            json!([{ "type": "sms" }]),
            "the factor.type must be one of otp, email, phone",
        ),
        (
            "authentication.challengeWith",
            json!([{ "type": "phone", "options": { "preferredMethod": "fax" } }]),
            "preferredMethod must be one of voice, sms, both",
        ),
        (
            "authentication.enrollWith",
            json!([{ "type": "email" }]),
            "the factor.type must be one of otp, phone, push",
        ),
        (
            "authentication.challengeWithAny",
            json!([[]]),
            "the factors must not be empty",
        ),
        (
            "authentication.enrollWithAny",
            json!([[{ "type": "otp" }, "otp"]]),
            "the factors[1] must be an object",
        ),
        (
            "authentication.recordMethod",
            json!(["https://idv.example"]),
            "can only be called in onContinuePostLogin",
        ),
        (
            "authentication.setPrimaryUser",
            json!([""]),
            "the primary user id must not be empty",
        ),
        (
            "redirect.sendUserTo",
            json!(["/consent"]),
            "the URL must be an absolute https URL",
        ),
        (
            "redirect.sendUserTo",
            json!(["http://consent.example/terms"]),
            "(http only for localhost)",
        ),
        (
            "redirect.sendUserTo",
            json!(["https://consent.example/terms?state=mine"]),
            "the URL must not have a `state` parameter",
        ),
        (
            "redirect.sendUserTo",
            json!(["https://consent.example", { "query": { "state": "mine" } }]),
            "options.query must not set `state`",
        ),
        (
            "redirect.encodeToken",
            json!([{ "payload": {} }]),
            "options.secret must be a non-empty string",
        ),
        (
            "redirect.validateToken",
            json!([{ "secret": "s" }]),
            "can only be called in onContinuePostLogin",
        ),
        (
            "idToken.setCustomClaim",
            json!([42, "v"]),
            "claim must be a string, not a number",
        ),
        (
            "session.setCookieMode",
            json!(["forever"]),
            "the cookie mode must be one of persistent, non-persistent",
        ),
        (
            "session.setExpiresAt",
            json!(["soon"]),
            "the expiry must be a time in milliseconds since the Unix epoch",
        ),
        (
            "session.revoke",
            json!(["r", { "preserveRefreshTokens": 1 }]),
            "options.preserveRefreshTokens must be a boolean",
        ),
        (
            "refreshToken.setMetadata",
            json!(["k", "x".repeat(257)]),
            "a metadata value has at most 256 characters",
        ),
        (
            "refreshToken.setMetadata",
            json!(["k", 5]),
            "a metadata value must be a string",
        ),
        (
            "samlResponse.setLifetimeInSeconds",
            json!([-1]),
            "lifetimeInSeconds must be a positive whole number of seconds",
        ),
        (
            "samlResponse.setSignatureAlgorithm",
            json!(["md5"]),
            "signatureAlgorithm must be one of rsa-sha256, rsa-sha1",
        ),
        (
            "samlResponse.setAttribute",
            json!(["a", { "nested": true }]),
            "must be a string, number, boolean, array or null",
        ),
        (
            "transaction.setMetadata",
            json!(["k", { "a": 1 }]),
            "transaction metadata values are strings, numbers or booleans",
        ),
        (
            "transaction.setTargetScopes",
            json!([["a", 1]]),
            "the scopes must be an array of strings",
        ),
        (
            "prompt.render",
            json!(["form", { "vars": [1] }]),
            "options.vars must be an object",
        ),
        (
            "validation.error",
            json!([1, "m"]),
            "the error code must be a string, not a number",
        ),
        (
            "access.deny",
            json!([{ "why": "no" }]),
            "the reason must be a string, not an object",
        ),
    ]
}

/// Runs `calls` through a probe and returns its answers.
async fn probe(rt: &Runtime, action: &Action, calls: &Value) -> Vec<Value> {
    let r = run_one(rt, "acme", action, &login_event(None, calls)).await;
    assert_eq!(r.outcome, Outcome::Success, "{r:#?}");
    claim(&r, "https://probe/answers")
        .as_array()
        .unwrap()
        .clone()
}

#[tokio::test]
async fn the_host_refuses_bad_arguments_as_auth0_does_and_records_nothing_in_both_languages() {
    let (builder, _) = js_harness();
    let rt = builder.build().unwrap();
    let cases = bad_calls();
    let calls: Value = cases
        .iter()
        .map(|(method, args, _)| json!([method, args]))
        .collect();
    for (path, prefixed) in [(guests::API_PROBE, false), (guests::JS_API_PROBE, true)] {
        let action = load(&rt, path, Trigger::PostLogin);
        let r = run_one(&rt, "acme", &action, &login_event(None, &calls)).await;
        // Only the probe's own claim: every bad call recorded nothing.
        assert_eq!(r.commands.len(), 1, "{path}: {:#?}", r.commands);
        let answers = claim(&r, "https://probe/answers").as_array().unwrap();
        for ((method, _, wanted), answer) in cases.iter().zip(answers) {
            let message = answer["error"]
                .as_str()
                .unwrap_or_else(|| panic!("{path}: {method} was accepted: {answer}"));
            assert!(message.contains(wanted), "{path}: {method}: {message}");
            assert_eq!(
                message.starts_with(&format!("api.{method}: ")),
                prefixed,
                "{path}: {message}"
            );
        }
    }
}

#[tokio::test]
async fn a_second_form_in_one_action_and_an_unknown_method_are_refused() {
    let (builder, _) = js_harness();
    let rt = builder.build().unwrap();
    let action = load(&rt, guests::API_PROBE, Trigger::PostLogin);
    let answers = probe(
        &rt,
        &action,
        &json!([
            ["prompt.render", ["form-1"]],
            ["prompt.render", ["form-2"]],
            ["redirect.nowhere", ["https://consent.example"]],
            ["rules.wasExecuted", ["rul_1"]],
        ]),
    )
    .await;
    assert_eq!(answers[0], json!({ "ok": null }));
    assert!(
        answers[1]["error"]
            .as_str()
            .unwrap()
            .contains("an action can render one form"),
        "{answers:?}"
    );
    let unknown = answers[2]["error"].as_str().unwrap();
    assert!(
        unknown.contains("post-login actions have no api.redirect.nowhere; the methods are:"),
        "{unknown}"
    );
    assert!(unknown.contains("validation.error"), "{unknown}");
    assert_eq!(answers[3], json!({ "ok": false }));
}

#[tokio::test]
async fn javascript_transaction_methods_change_the_event_at_once() {
    let (builder, _) = js_harness();
    let rt = builder.build().unwrap();
    let action = load(&rt, guests::JS_API_PROBE, Trigger::PostLogin);
    let answers = probe(
        &rt,
        &action,
        &json!([
            ["transaction.setMetadata", ["step", 2]],
            ["transaction.addTargetScope", ["read:a"]],
            ["transaction.setTargetScopes", [["read:b", "read:c"]]],
            ["transaction.removeTargetScope", ["read:b"]],
            ["transaction.setMetadata", ["step", null]],
            ["transaction.clearTargetScopes", []],
        ]),
    )
    .await;
    let tx = |i: usize| &answers[i]["transaction"];
    assert_eq!(tx(0)["metadata"], json!({ "step": 2 }));
    assert!(
        tx(1)["target_scopes"]
            .as_array()
            .unwrap()
            .contains(&json!("read:a"))
    );
    assert_eq!(tx(2)["target_scopes"], json!(["read:b", "read:c"]));
    assert_eq!(tx(3)["target_scopes"], json!(["read:c"]));
    assert_eq!(tx(4)["metadata"], json!({}));
    assert_eq!(tx(5)["target_scopes"], json!([]));
}

#[tokio::test]
async fn credentials_exchange_refuses_an_unknown_denial_code_and_records_nothing() {
    let (builder, _) = js_harness();
    let rt = builder.build().unwrap();
    let m2m = load(&rt, guests::JS_M2M, Trigger::CredentialsExchange);
    let mut event: Value =
        serde_json::from_str(Trigger::CredentialsExchange.default_event()).unwrap();
    event["request"]["body"] = json!({ "deny": "access_denied" });
    let r = rt
        .execute_actions(
            "acme",
            Trigger::CredentialsExchange,
            &[m2m],
            &event.to_string(),
        )
        .bounded()
        .await
        .unwrap();
    assert_eq!(r.outcome, Outcome::Failed, "{r:#?}");
    let message = &r.actions[0].error.as_ref().unwrap().message;
    assert!(
        message.contains(
            "api.access.deny: the code must be one of invalid_scope, invalid_request, \
             server_error, not \"access_denied\""
        ),
        "{message}"
    );
    assert!(r.commands.is_empty());
}

#[tokio::test]
async fn credentials_exchange_target_scope_methods_record_the_same_commands_in_both_languages() {
    let (builder, _) = js_harness();
    let rt = builder.build().unwrap();
    let mut event: Value =
        serde_json::from_str(Trigger::CredentialsExchange.default_event()).unwrap();
    event["request"]["body"] = json!({ "scopes": true });
    for path in [guests::CX_DENY, guests::JS_M2M] {
        let action = load(&rt, path, Trigger::CredentialsExchange);
        let r = rt
            .execute_actions(
                "acme",
                Trigger::CredentialsExchange,
                &[action],
                &event.to_string(),
            )
            .bounded()
            .await
            .unwrap();
        assert_eq!(r.outcome, Outcome::Success, "{path}: {r:#?}");
        assert_eq!(
            serde_json::to_value(&r.commands).unwrap(),
            json!([
                { "type": "add-target-scope", "scope": "read:a" },
                { "type": "remove-target-scope", "scope": "read:b" },
                { "type": "set-target-scopes", "scopes": ["read:a", "read:c"] },
                { "type": "clear-target-scopes" },
            ]),
            "{path}"
        );
    }
}
