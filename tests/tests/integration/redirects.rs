//! Redirects: `api.redirect.sendUserTo` pauses a post-login flow after the action, the flow's
//! continuation waits in the store, and continuing it runs the action's `onContinuePostLogin`
//! and the rest of the flow, on any runtime sharing the store, once. The same consent action
//! in Rust (`tests/guests/consent-gate`) and JavaScript (`examples/actions/consent-js`).

use std::sync::Arc;

use cachet_limits::{CacheLimits, ExecutionLimits, OverflowPolicy};
use cachet_runtime::{
    Action, ActionConfig, CacheStore, Clock as _, Command, ContinueError, ContinueParams,
    FailureKind, FileStore, FileStoreOptions, FlowResult, ManualClock, MemoryStore, Outcome,
    Redirect, Runtime, Trigger,
};
use cachet_store_redis::{RedisOptions, RedisStore};
use cachet_tests::redis_server::RedisServer;
use cachet_tests::{T0, guests, harness, js_harness, load_with};
use serde_json::{Value, json};

use crate::{Bounded, claim};

const SECRET: &str = "a-secret-shared-with-the-consent-page";
const USER: &str = "auth0|7";
const CONSENT: &str = "https://example.com/consent";

fn config() -> ActionConfig {
    ActionConfig::default().secret("CONSENT_SECRET", SECRET)
}

fn event() -> String {
    json!({
        "user": { "user_id": USER, "email": "ada@example.com", "app_metadata": {} },
        "request": { "ip": "203.0.113.9", "hostname": "login.example.com", "query": {} },
        "transaction": { "protocol": "oidc-basic-profile" }
    })
    .to_string()
}

/// The consent action in `lang`, between two `claims` actions: one before the redirect, one
/// after the continuation.
fn flow(rt: &Runtime, lang: &str) -> Vec<Action> {
    let consent = match lang {
        "rust" => guests::CONSENT_GATE,
        _ => guests::JS_CONSENT_JS,
    };
    let claims = |rt| {
        load_with(
            rt,
            guests::CLAIMS,
            Trigger::PostLogin,
            ActionConfig::default(),
        )
    };
    vec![
        claims(rt),
        load_with(rt, consent, Trigger::PostLogin, config()),
        claims(rt),
    ]
}

fn runtime(lang: &str, store: Arc<dyn CacheStore>) -> (Runtime, ManualClock) {
    let (builder, clock) = if lang == "rust" {
        harness()
    } else {
        js_harness()
    };
    (builder.store(store).build().unwrap(), clock)
}

fn memory() -> Arc<dyn CacheStore> {
    Arc::new(MemoryStore::new(
        CacheLimits::default(),
        OverflowPolicy::Evict,
    ))
}

async fn start(rt: &Runtime, actions: &[Action]) -> FlowResult {
    rt.execute_actions("acme", Trigger::PostLogin, actions, &event())
        .bounded()
        .await
        .unwrap()
}

async fn resume(
    rt: &Runtime,
    actions: &[Action],
    state: &str,
    query: Value,
) -> Result<FlowResult, ContinueError> {
    let params = ContinueParams {
        query: query.as_object().cloned().unwrap_or_default(),
        ..ContinueParams::default()
    };
    rt.continue_actions("acme", Trigger::PostLogin, actions, state, params)
        .bounded()
        .await
}

/// The redirect of a result that must have one.
fn redirect(result: &FlowResult) -> &Redirect {
    assert_eq!(result.outcome, Outcome::Redirect, "{result:#?}");
    result.redirect.as_ref().expect("a redirect")
}

/// The query parameter `name` of `url`.
fn param(url: &str, name: &str) -> String {
    url::Url::parse(url)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
        .unwrap_or_else(|| panic!("no {name} in {url}"))
}

/// What the consent page sends back: its own HS256 token naming the login's state, saying the
/// user accepted.
fn page_token(secret: &str, state: &str, exp_secs: u64) -> String {
    signed(secret, state, exp_secs, json!({ "accepted": true }))
}

/// A page's answer: an HS256 token of `claims` with the login's state and an expiry.
fn signed(secret: &str, state: &str, exp_secs: u64, claims: Value) -> String {
    let mut claims = claims;
    claims["state"] = json!(state);
    claims["exp"] = json!(exp_secs);
    claims["email"] = json!("ada@example.com");
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(secret.as_bytes()),
    )
    .unwrap()
}

fn accepted(token: &str) -> Value {
    json!({ "session_token": token })
}

/// The error an action of `result` failed with.
fn failure(result: &FlowResult) -> (FailureKind, String) {
    assert_eq!(result.outcome, Outcome::Failed, "{result:#?}");
    let e = result.actions.iter().find_map(|a| a.error.clone()).unwrap();
    (e.kind, e.message)
}

async fn redirects_and_continues_with_the_commands_of_both_halves(lang: &str) {
    let (rt, _clock) = runtime(lang, memory());
    let actions = flow(&rt, lang);
    let first = start(&rt, &actions).await;
    let r = redirect(&first).clone();
    // Paused after the consent action: the last action has not run.
    assert_eq!(first.actions.len(), 2);
    assert_eq!(first.actions[1].outcome, Outcome::Redirect);
    assert!(
        r.url
            .starts_with("https://consent.example.com/terms?session_token="),
        "{}",
        r.url
    );
    assert_eq!(param(&r.url, "state"), r.state);
    assert_eq!(r.state.len(), 43, "256 random bits, base64url");
    // The continuation is beside the partition, not in it: the partition holds what the
    // actions wrote (the claims example's entry and the consent note), nothing else.
    let keys: Vec<String> = rt
        .store()
        .snapshot(
            &cachet_runtime::PartitionKey::new("acme", Trigger::PostLogin),
            T0,
        )
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.key)
        .collect();
    assert_eq!(first.cache.entries, keys.len());
    assert!(keys.contains(&format!("consent:{USER}")), "{keys:?}");
    assert!(keys.iter().all(|k| !k.contains(&r.state)), "{keys:?}");

    // The session token the action made is an HS256 JWT of its payload, the user and the state.
    let token = param(&r.url, "session_token");
    let mut check = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::HS256);
    check.validate_exp = false;
    let claims = jsonwebtoken::decode::<Value>(
        &token,
        &jsonwebtoken::DecodingKey::from_secret(SECRET.as_bytes()),
        &check,
    )
    .unwrap()
    .claims;
    assert_eq!(claims["state"], r.state.as_str());
    assert_eq!(claims["sub"], USER);
    assert_eq!(claims["ip"], "203.0.113.9");
    assert_eq!(claims["iss"], "login.example.com");
    assert_eq!(claims["email"], "ada@example.com");
    assert_eq!(
        claims["exp"].as_u64().unwrap() - claims["iat"].as_u64().unwrap(),
        300
    );

    let token = page_token(SECRET, &r.state, T0 / 1000 + 60);
    let done = resume(&rt, &actions, &r.state, accepted(&token))
        .await
        .unwrap();
    assert_eq!(done.outcome, Outcome::Success, "{done:#?}");
    assert!(done.redirect.is_none());
    let names: Vec<_> = done.actions.iter().map(|a| a.name.as_str()).collect();
    assert_eq!(
        names[1..],
        ["claims"],
        "the rest of the flow ran: {names:?}"
    );
    // Before the redirect (the first claims action), the continuation, after it.
    let before = first.commands.len();
    assert!(before > 0);
    assert_eq!(done.commands[..before], first.commands[..]);
    assert!(done.commands.contains(&Command::SetAppMetadata {
        key: "terms_accepted".into(),
        value: json!(true),
    }));
    assert_eq!(
        claim(&done, CONSENT),
        &json!({ "note": "sent-to-consent", "email": "ada@example.com" })
    );
    assert_eq!(done.commands.len(), before * 2 + 2, "{:#?}", done.commands);
}

#[tokio::test]
async fn a_rust_action_redirects_and_continues_with_the_commands_of_both_halves() {
    redirects_and_continues_with_the_commands_of_both_halves("rust").await;
}

#[tokio::test]
async fn a_javascript_action_redirects_and_continues_with_the_commands_of_both_halves() {
    redirects_and_continues_with_the_commands_of_both_halves("js").await;
}

/// Makes the token a page sends back, from the login's state.
type MakeToken = Box<dyn Fn(&str) -> String>;

async fn bad_session_tokens_fail_the_continuation(lang: &str) {
    let (rt, clock) = runtime(lang, memory());
    let actions = flow(&rt, lang);
    let now = T0 / 1000;
    let cases: Vec<(&str, MakeToken)> = vec![
        (
            "it expired",
            Box::new(move |s: &str| page_token(SECRET, s, now - 1)),
        ),
        (
            "signature does not verify",
            Box::new(move |s: &str| page_token("another-secret", s, now + 60)),
        ),
        (
            "signature does not verify",
            Box::new(move |s: &str| {
                // The payload altered after signing.
                let token = page_token(SECRET, s, now + 60);
                let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
                use base64::Engine as _;
                let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
                let mut claims: Value =
                    serde_json::from_slice(&b64.decode(&parts[1]).unwrap()).unwrap();
                claims["email"] = json!("mallory@example.com");
                parts[1] = b64.encode(claims.to_string());
                parts.join(".")
            }),
        ),
        (
            "not this login's state",
            Box::new(move |_: &str| page_token(SECRET, "another-logins-state", now + 60)),
        ),
    ];
    for (why, token) in cases {
        let r = redirect(&start(&rt, &actions).await).clone();
        let result = resume(&rt, &actions, &r.state, accepted(&token(&r.state)))
            .await
            .unwrap();
        let (kind, message) = failure(&result);
        assert_eq!(kind, FailureKind::ActionError, "{message}");
        assert!(
            message.contains("api.redirect.validateToken: the session token is invalid"),
            "{message}"
        );
        assert!(message.contains(why), "{why}: {message}");
        // The consent action failed: none of its commands, and the flow stopped there.
        assert!(
            !result
                .commands
                .iter()
                .any(|c| matches!(c, Command::SetAppMetadata { .. }))
        );
        assert_eq!(result.actions.len(), 1);
    }
    // Without the token at all.
    let r = redirect(&start(&rt, &actions).await).clone();
    let result = resume(&rt, &actions, &r.state, json!({ "accepted": true }))
        .await
        .unwrap();
    assert!(
        failure(&result)
            .1
            .contains("without a `session_token` parameter")
    );
    // The token the action gave the page, sent straight back (the user skipping the page): it
    // is valid, names the state, and is refused all the same.
    let r = redirect(&start(&rt, &actions).await).clone();
    let own = param(&r.url, "session_token");
    let result = resume(&rt, &actions, &r.state, accepted(&own))
        .await
        .unwrap();
    assert!(
        failure(&result)
            .1
            .contains("the token encodeToken made for the page")
    );
    // A page answer that expired while the user dawdled.
    let r = redirect(&start(&rt, &actions).await).clone();
    let token = page_token(SECRET, &r.state, T0 / 1000 + 300);
    clock.advance(301_000);
    let result = resume(&rt, &actions, &r.state, accepted(&token))
        .await
        .unwrap();
    assert!(failure(&result).1.contains("it expired"));
    // A page answer saying no.
    let r = redirect(&start(&rt, &actions).await).clone();
    let now = clock.now_ms() / 1000;
    let no = signed(SECRET, &r.state, now + 60, json!({ "accepted": false }));
    let result = resume(&rt, &actions, &r.state, accepted(&no))
        .await
        .unwrap();
    assert_eq!(result.outcome, Outcome::Denied, "{result:#?}");
}

#[tokio::test]
async fn expired_altered_foreign_and_wrongly_signed_session_tokens_fail_the_rust_continuation() {
    bad_session_tokens_fail_the_continuation("rust").await;
}

#[tokio::test]
async fn expired_altered_foreign_and_wrongly_signed_session_tokens_fail_the_javascript_continuation()
 {
    bad_session_tokens_fail_the_continuation("js").await;
}

#[tokio::test]
async fn a_continuation_runs_once_and_an_unknown_or_expired_state_runs_nothing() {
    let (rt, clock) = runtime("rust", memory());
    let actions = flow(&rt, "rust");
    let r = redirect(&start(&rt, &actions).await).clone();
    let token = page_token(SECRET, &r.state, T0 / 1000 + 3600);
    let done = resume(&rt, &actions, &r.state, accepted(&token))
        .await
        .unwrap();
    assert_eq!(done.outcome, Outcome::Success);
    let again = resume(&rt, &actions, &r.state, accepted(&token)).await;
    assert!(
        matches!(again, Err(ContinueError::UnknownState)),
        "{again:?}"
    );
    let unknown = resume(&rt, &actions, "no-such-state", json!({})).await;
    assert!(matches!(unknown, Err(ContinueError::UnknownState)));
    assert!(
        unknown
            .unwrap_err()
            .to_string()
            .contains("unknown, was already continued, or expired")
    );

    // Ten minutes by default, then the continuation is gone.
    let r = redirect(&start(&rt, &actions).await).clone();
    clock.advance(ExecutionLimits::default().continuation_ttl_ms);
    let late = resume(&rt, &actions, &r.state, accepted(&token)).await;
    assert!(matches!(late, Err(ContinueError::UnknownState)), "{late:?}");

    // Another tenant cannot continue acme's flow.
    let r = redirect(&start(&rt, &actions).await).clone();
    let params = ContinueParams::default();
    let other = rt
        .continue_actions("evil", Trigger::PostLogin, &actions, &r.state, params)
        .await;
    assert!(matches!(other, Err(ContinueError::UnknownState)));
    // A flow that no longer has the redirecting action at its place is not continued.
    let changed = resume(&rt, &actions[..1], &r.state, json!({})).await;
    assert!(
        matches!(changed, Err(ContinueError::FlowChanged { .. })),
        "{changed:?}"
    );
}

#[tokio::test]
async fn a_second_redirect_in_the_same_login_is_continued_too() {
    let (rt, _clock) = runtime("rust", memory());
    let actions = flow(&rt, "rust");
    let r1 = redirect(&start(&rt, &actions).await).clone();
    let token = signed(
        SECRET,
        &r1.state,
        T0 / 1000 + 60,
        json!({ "accepted": true, "again": true }),
    );
    let second = resume(&rt, &actions, &r1.state, accepted(&token))
        .await
        .unwrap();
    let r2 = redirect(&second).clone();
    assert_ne!(r2.state, r1.state);
    let token = page_token(SECRET, &r2.state, T0 / 1000 + 60);
    let done = resume(&rt, &actions, &r2.state, accepted(&token))
        .await
        .unwrap();
    assert_eq!(done.outcome, Outcome::Success, "{done:#?}");
    let consents = done
        .commands
        .iter()
        .filter(|c| matches!(c, Command::SetAppMetadata { .. }))
        .count();
    assert_eq!(
        consents, 2,
        "both continuations' commands are in the result"
    );
}

async fn redis_store(server: &RedisServer, prefix: &str) -> Arc<dyn CacheStore> {
    let url = match server.url().parse().unwrap() {
        cachet_runtime::StoreUrl::Redis(url) => url,
        other => panic!("not a Redis URL: {other}"),
    };
    let options = RedisOptions {
        key_prefix: prefix.into(),
        timeout: std::time::Duration::from_secs(5),
        ..RedisOptions::default()
    };
    Arc::new(
        RedisStore::connect(&url, CacheLimits::default(), OverflowPolicy::Evict, options)
            .await
            .unwrap(),
    )
}

#[tokio::test]
async fn a_flow_redirected_on_one_runtime_is_continued_on_another_sharing_redis_exactly_once() {
    let server = RedisServer::start("redirect_across_runtimes");
    let (a, _) = runtime("rust", redis_store(&server, "redirects").await);
    let (b, _) = runtime("rust", redis_store(&server, "redirects").await);
    let on_a = flow(&a, "rust");
    let on_b = flow(&b, "rust");
    let r = redirect(&start(&a, &on_a).await).clone();
    let token = page_token(SECRET, &r.state, T0 / 1000 + 60);

    // Two continuations of one state at once, from both runtimes: exactly one runs.
    let (x, y) = tokio::join!(
        resume(&b, &on_b, &r.state, accepted(&token)),
        resume(&a, &on_a, &r.state, accepted(&token)),
    );
    let (done, lost) = match (x, y) {
        (Ok(done), Err(lost)) | (Err(lost), Ok(done)) => (done, lost),
        other => panic!("exactly one continuation must run: {other:?}"),
    };
    assert!(matches!(lost, ContinueError::UnknownState));
    assert_eq!(done.outcome, Outcome::Success, "{done:#?}");
    // The continuation read what the action wrote before the redirect, whichever host ran it.
    assert_eq!(claim(&done, CONSENT)["note"], "sent-to-consent");
}

#[tokio::test]
async fn a_redirected_flow_survives_a_restart_of_a_host_on_a_snapshot_file() {
    let dir = cachet_tests::scratch::Scratch::dir("redirect");
    let path = dir.join("cache.json");
    let open = |clock: ManualClock| {
        let path = path.clone();
        async move {
            let (store, _) = FileStore::open(
                &path,
                CacheLimits::default(),
                OverflowPolicy::Evict,
                Arc::new(clock),
                FileStoreOptions::default(),
            )
            .await
            .unwrap();
            Arc::new(store) as Arc<dyn CacheStore>
        }
    };
    let state = {
        let clock = ManualClock::new(T0);
        let store = open(clock.clone()).await;
        let (rt, _) = runtime("rust", Arc::clone(&store));
        let actions = flow(&rt, "rust");
        let r = redirect(&start(&rt, &actions).await).clone();
        store.flush().await.unwrap();
        r.state
    };
    let store = open(ManualClock::new(T0)).await;
    let (rt, _) = runtime("rust", store);
    let actions = flow(&rt, "rust");
    let token = page_token(SECRET, &state, T0 / 1000 + 60);
    let done = resume(&rt, &actions, &state, accepted(&token))
        .await
        .unwrap();
    assert_eq!(done.outcome, Outcome::Success, "{done:#?}");
    assert_eq!(claim(&done, CONSENT)["note"], "sent-to-consent");
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn a_redirect_too_large_to_keep_fails_the_action_and_a_login_without_a_browser_cannot_redirect()
 {
    let (builder, _) = harness();
    let rt = builder
        .store(memory())
        .execution_limits(ExecutionLimits {
            max_continuation_bytes: 64,
            ..ExecutionLimits::default()
        })
        .build()
        .unwrap();
    let actions = flow(&rt, "rust");
    let result = start(&rt, &actions).await;
    let (kind, message) = failure(&result);
    assert_eq!(kind, FailureKind::Continuation);
    assert!(
        message.contains("execution_limits.max_continuation_bytes"),
        "{message}"
    );
    assert!(result.redirect.is_none());

    let (rt, _) = runtime("rust", memory());
    let actions = flow(&rt, "rust");
    let mut event: Value = serde_json::from_str(&event()).unwrap();
    event["transaction"]["protocol"] = json!("oauth2-refresh-token");
    let result = rt
        .execute_actions("acme", Trigger::PostLogin, &actions, &event.to_string())
        .await
        .unwrap();
    assert!(
        failure(&result).1.contains("no browser to redirect"),
        "{result:#?}"
    );
}

/// The password-reset-post-challenge example in `lang` with its secret.
fn reset_gate(rt: &Runtime, lang: &str) -> Action {
    let path = match lang {
        "rust" => guests::RESET_GATE,
        _ => guests::JS_PASSWORD_RESET_POST_CHALLENGE_JS,
    };
    let config = ActionConfig::default().secret("IDV_SECRET", "idv");
    load_with(rt, path, Trigger::PasswordResetPostChallenge, config)
}

/// A reset event: `roles`, `app_metadata`, and the country it comes from.
fn reset_event(roles: Value, app_metadata: Value) -> String {
    json!({
        "user": {
            "user_id": USER,
            "app_metadata": app_metadata,
            "enrolledFactors": [{ "type": "otp" }, { "type": "phone" }]
        },
        "authorization": { "roles": roles },
        "request": { "ip": "203.0.113.9", "geoip": { "countryCode": "GB" }, "query": {} },
        "connection": { "id": "con_1", "name": "db", "strategy": "auth0" }
    })
    .to_string()
}

async fn password_reset_calls_every_method_of_its_api(lang: &str) -> Vec<Value> {
    let (rt, _) = runtime(lang, memory());
    let action = [reset_gate(&rt, lang)];
    let trigger = Trigger::PasswordResetPostChallenge;
    let run = |event: String| {
        let (rt, action) = (rt.clone(), action.clone());
        async move {
            rt.execute_actions("acme", trigger, &action, &event)
                .bounded()
                .await
                .unwrap()
        }
    };
    let mut seen = Vec::new();
    let user = run(reset_event(json!([]), json!({}))).await;
    let admin = run(reset_event(json!(["admin"]), json!({}))).await;
    let locked = run(reset_event(json!([]), json!({ "locked": true }))).await;
    for (r, outcome) in [
        (&user, Outcome::Success),
        (&admin, Outcome::Success),
        (&locked, Outcome::Denied),
    ] {
        assert_eq!(r.outcome, outcome, "{lang}: {r:#?}");
        seen.push(serde_json::to_value(&r.commands).unwrap());
    }
    assert_eq!(
        seen[0],
        json!([{ "type": "challenge-with-any", "factors": [{ "type": "otp" }, { "type": "phone" }] }])
    );
    assert_eq!(
        seen[1],
        json!([{ "type": "challenge-with", "factor": { "type": "otp" }, "additional_factors": [{ "type": "webauthn-roaming" }] }])
    );

    // From abroad: the identity check, then the continuation (verified, then not).
    for (verified, outcome) in [(true, Outcome::Success), (false, Outcome::Denied)] {
        let abroad = run(reset_event(json!([]), json!({ "home_country": "NZ" }))).await;
        let r = redirect(&abroad).clone();
        assert!(
            r.url
                .starts_with("https://idv.example.com/check?session_token="),
            "{}",
            r.url
        );
        let token = signed(
            "idv",
            &r.state,
            T0 / 1000 + 60,
            json!({ "verified": verified }),
        );
        let params = ContinueParams {
            query: json!({ "session_token": token })
                .as_object()
                .cloned()
                .unwrap(),
            ..ContinueParams::default()
        };
        let done = rt
            .continue_actions("acme", trigger, &action, &r.state, params)
            .bounded()
            .await
            .unwrap();
        assert_eq!(done.outcome, outcome, "{lang}: {done:#?}");
        seen.push(serde_json::to_value(&done.commands).unwrap());
    }
    // A method post-login has and this trigger does not.
    let err = rt
        .continue_actions("acme", trigger, &action, "nope", ContinueParams::default())
        .await;
    assert!(matches!(err, Err(ContinueError::UnknownState)));
    seen
}

#[tokio::test]
async fn password_reset_post_challenge_denies_challenges_and_redirects_alike_in_rust_and_javascript()
 {
    let rust = password_reset_calls_every_method_of_its_api("rust").await;
    let js = password_reset_calls_every_method_of_its_api("js").await;
    assert_eq!(rust, js, "both SDKs record the same commands");
}

#[tokio::test]
async fn continuing_a_javascript_action_that_exports_no_continuation_fails_it_saying_what_to_export()
 {
    let (rt, _) = runtime("js", memory());
    let action = load_with(
        &rt,
        guests::JS_API_SHARED,
        Trigger::PostLogin,
        ActionConfig::default(),
    );
    let actions = std::slice::from_ref(&action);
    let mut first: Value = serde_json::from_str(&event()).unwrap();
    first["request"]["query"]["redirect"] = json!(true);
    let paused = rt
        .execute_actions("acme", Trigger::PostLogin, actions, &first.to_string())
        .bounded()
        .await
        .unwrap();
    let state = redirect(&paused).state.clone();
    let continued = resume(&rt, actions, &state, json!({})).await.unwrap();
    let (kind, message) = failure(&continued);
    assert_eq!(kind, FailureKind::ActionError, "{continued:#?}");
    assert!(
        message.contains("exports no onContinuePostLogin")
            && message.contains("exports.onContinuePostLogin = async (event, api)"),
        "{message}"
    );
}
