//! Every method of every trigger's `api`, by the names Auth0's reference gives them, exists in
//! the JavaScript SDK: called with no arguments it either works or throws the host's
//! `Error("api.<method>: …")`, never a `TypeError` on `undefined` (in Rust, a method Cachet
//! lacked would not compile).

use cachet_runtime::Trigger;
use cachet_tests::{guests, js_harness, load};
use serde_json::{Map, Value, json};

use crate::Bounded;

/// `api.cache`, which every trigger has.
const CACHE: &[&str] = &["cache.get", "cache.set", "cache.delete"];

/// post-login's `api` in Auth0's reference (besides `cache`).
const POST_LOGIN: &[&str] = &[
    "access.deny",
    "accessToken.addScope",
    "accessToken.removeScope",
    "accessToken.setCustomClaim",
    "authentication.challengeWith",
    "authentication.challengeWithAny",
    "authentication.enrollWith",
    "authentication.enrollWithAny",
    "authentication.recordMethod",
    "authentication.setPrimaryUser",
    "idToken.setCustomClaim",
    "multifactor.enable",
    "prompt.render",
    "redirect.canRedirect",
    "redirect.encodeToken",
    "redirect.sendUserTo",
    "redirect.validateToken",
    "refreshToken.deleteMetadata",
    "refreshToken.evictMetadata",
    "refreshToken.revoke",
    "refreshToken.setExpiresAt",
    "refreshToken.setIdleExpiresAt",
    "refreshToken.setMetadata",
    "rules.wasExecuted",
    "samlResponse.setAttribute",
    "samlResponse.setAudience",
    "samlResponse.setAuthnContextClassRef",
    "samlResponse.setCert",
    "samlResponse.setCreateUpnClaim",
    "samlResponse.setDestination",
    "samlResponse.setDigestAlgorithm",
    "samlResponse.setEncryptionAlgorithm",
    "samlResponse.setEncryptionCert",
    "samlResponse.setEncryptionPublicKey",
    "samlResponse.setIncludeAttributeNameFormat",
    "samlResponse.setIssuer",
    "samlResponse.setKey",
    "samlResponse.setLifetimeInSeconds",
    "samlResponse.setMapIdentities",
    "samlResponse.setMapUnknownClaimsAsIs",
    "samlResponse.setNameIdentifierFormat",
    "samlResponse.setNameIdentifierProbes",
    "samlResponse.setPassthroughClaimsWithNoMapping",
    "samlResponse.setRecipient",
    "samlResponse.setRelayState",
    "samlResponse.setSignatureAlgorithm",
    "samlResponse.setSignResponse",
    "samlResponse.setSigningCert",
    "samlResponse.setTypedAttributes",
    "session.deleteMetadata",
    "session.evictMetadata",
    "session.revoke",
    "session.setCookieMode",
    "session.setExpiresAt",
    "session.setIdleExpiresAt",
    "session.setMetadata",
    "transaction.addTargetScope",
    "transaction.clearTargetScopes",
    "transaction.removeTargetScope",
    "transaction.setMetadata",
    "transaction.setTargetScopes",
    "user.setAppMetadata",
    "user.setUserMetadata",
    "validation.error",
];

/// Every trigger's `api` in Auth0's reference (besides `cache`), and the module built for it.
fn triggers() -> Vec<(Trigger, &'static str, &'static [&'static str])> {
    vec![
        (
            Trigger::PostLogin,
            guests::JS_API_NAMES_POST_LOGIN,
            POST_LOGIN,
        ),
        (
            Trigger::CredentialsExchange,
            guests::JS_API_NAMES_CREDENTIALS_EXCHANGE,
            &[
                "access.deny",
                "accessToken.setCustomClaim",
                "transaction.addTargetScope",
                "transaction.clearTargetScopes",
                "transaction.removeTargetScope",
                "transaction.setTargetScopes",
            ],
        ),
        (
            Trigger::PreUserRegistration,
            guests::JS_API_NAMES_PRE_USER_REGISTRATION,
            &[
                "access.deny",
                "user.setAppMetadata",
                "user.setUserMetadata",
                "validation.error",
            ],
        ),
        (
            Trigger::PostUserRegistration,
            guests::JS_API_NAMES_POST_USER_REGISTRATION,
            &[],
        ),
        (
            Trigger::PostChangePassword,
            guests::JS_API_NAMES_POST_CHANGE_PASSWORD,
            &[],
        ),
        (
            Trigger::SendPhoneMessage,
            guests::JS_API_NAMES_SEND_PHONE_MESSAGE,
            &[],
        ),
        (
            Trigger::CustomEmailProvider,
            guests::JS_API_NAMES_CUSTOM_EMAIL_PROVIDER,
            &["notification.drop", "notification.retry"],
        ),
        (
            Trigger::CustomPhoneProvider,
            guests::JS_API_NAMES_CUSTOM_PHONE_PROVIDER,
            &["notification.drop", "notification.retry"],
        ),
        (
            Trigger::CustomTokenExchange,
            guests::JS_API_NAMES_CUSTOM_TOKEN_EXCHANGE,
            &[
                "access.deny",
                "access.rejectInvalidSubjectToken",
                "authentication.setActor",
                "authentication.setOrganization",
                "authentication.setUserByConnection",
                "authentication.setUserById",
                "user.setAppMetadata",
                "user.setUserMetadata",
            ],
        ),
        (Trigger::EventStream, guests::JS_API_NAMES_EVENT_STREAM, &[]),
        (
            Trigger::PasswordResetPostChallenge,
            guests::JS_API_NAMES_PASSWORD_RESET_POST_CHALLENGE,
            &[
                "access.deny",
                "authentication.challengeWith",
                "authentication.challengeWithAny",
                "redirect.encodeToken",
                "redirect.sendUserTo",
                "redirect.validateToken",
            ],
        ),
    ]
}

#[tokio::test]
async fn every_auth0_method_of_every_trigger_works_or_throws_the_hosts_error_never_a_type_error() {
    let (builder, _) = js_harness();
    let rt = builder.build().unwrap();
    let all = triggers();
    assert_eq!(
        all.len(),
        Trigger::ALL.len(),
        "a trigger is missing from the list"
    );
    for (trigger, module, names) in all {
        let names: Vec<&str> = names.iter().chain(CACHE).copied().collect();
        let action = load(&rt, module, trigger);
        let event = json!({ "request": { "body": { "names": names } } }).to_string();
        let result = rt
            .execute_actions("acme", trigger, &[action], &event)
            .bounded()
            .await
            .unwrap();
        let log = result.actions[0].logs.trim();
        let report: Map<String, Value> = serde_json::from_str(log)
            .unwrap_or_else(|e| panic!("{trigger}: {e}: {log:?} {result:#?}"));
        assert_eq!(report.len(), names.len(), "{trigger}: {report:?}");
        for (name, what) in &report {
            let what = what.as_str().unwrap();
            let fine = what == "ok"
                || (what.starts_with("Error: api.") && !name.starts_with("cache."))
                || (name.starts_with("cache.") && what.starts_with("TypeError: api.cache."));
            assert!(fine, "{trigger}: api.{name}: {what}");
        }
    }
}
