//! The Management-API token pattern end to end, against the in-process dev IdP, with a manual
//! clock where time matters. The IdP's request counts are the proof.

use crate::Bounded as _;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use cachet_dev_idp::{DevIdp, DevIdpConfig, TokenFormat, TokenMode};
use cachet_limits::SetOptions;
use cachet_runtime::{
    Action, ActionConfig, FailureKind, FlowResult, ManualClock, Outcome, PartitionKey, Runtime,
    Trigger,
};
use cachet_tests::{guests, harness};
use serde_json::{Value, json};

use crate::claim;

const HOUR: Duration = Duration::from_secs(3600);

struct Setup {
    idp: DevIdp,
    rt: Runtime,
    clock: ManualClock,
}

async fn setup() -> Setup {
    setup_with_token_ttl(HOUR).await
}

/// A runtime and a dev IdP sharing one manual clock; the IdP's tokens live `token_ttl`.
async fn setup_with_token_ttl(token_ttl: Duration) -> Setup {
    let (builder, clock) = harness();
    let idp = DevIdp::start(DevIdpConfig {
        token_ttl,
        clock: Arc::new(clock.clone()),
        ..DevIdpConfig::default()
    })
    .await
    .unwrap();
    let rt = builder.instance_pool_size(240).build().unwrap();
    Setup { idp, rt, clock }
}

impl Setup {
    fn config(&self) -> ActionConfig {
        self.idp.action_config()
    }

    fn action(&self, path: &str, config: ActionConfig) -> Action {
        let wasm = std::fs::read(path).unwrap();
        self.rt
            .load_action("token", Trigger::PostLogin, &wasm, config)
            .unwrap()
    }

    async fn login(&self, action: &Action, i: usize) -> FlowResult {
        let event = json!({ "user": { "user_id": format!("auth0|user-{i}") } }).to_string();
        self.rt
            .execute_actions(
                "acme",
                Trigger::PostLogin,
                std::slice::from_ref(action),
                &event,
            )
            .bounded()
            .await
            .unwrap()
    }

    async fn login_ok(&self, action: &Action, i: usize) -> FlowResult {
        let r = self.login(action, i).await;
        assert_eq!(r.outcome, Outcome::Success, "{:#?}", r.actions);
        r
    }

    fn token_requests(&self) -> u64 {
        self.idp.stats().token_requests
    }

    fn partition(&self) -> PartitionKey {
        PartitionKey::new("acme", Trigger::PostLogin)
    }

    /// The cache key the SDK keeps the token under (it is an SDK detail, so find it).
    async fn token_key(&self) -> String {
        let snapshot = self
            .rt
            .store()
            .snapshot(&self.partition(), self.clock.now_ms())
            .await
            .unwrap();
        snapshot
            .into_iter()
            .map(|e| e.key)
            .find(|k| k.starts_with("cachet:mgmt-token:") && !k.ends_with(":refresh"))
            .expect("a cached token")
    }
}

use cachet_runtime::Clock as _;

fn failure(r: &FlowResult) -> (FailureKind, String) {
    assert_eq!(r.outcome, Outcome::Failed, "{r:#?}");
    let e = r.actions[0].error.clone().unwrap();
    (e.kind, e.message)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_hundred_sequential_logins_request_one_token() {
    let s = setup().await;
    let mgmt = s.action(guests::MGMT_TOKEN, s.config());
    for i in 0..500 {
        let r = s.login_ok(&mgmt, i).await;
        if i == 0 {
            assert_eq!(
                claim(&r, "https://cachet.example/plan"),
                &json!("pro"),
                "claim from the management API"
            );
        }
    }
    let stats = s.idp.stats();
    assert_eq!(stats.token_requests, 1);
    assert_eq!(stats.management_requests, 500);
    assert_eq!(stats.management_unauthorized, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_expiry_costs_exactly_one_more_token_request() {
    let s = setup().await;
    let mgmt = s.action(guests::MGMT_TOKEN, s.config());
    s.login_ok(&mgmt, 0).await;
    for expected in [2, 3] {
        s.clock.advance(HOUR.as_millis() as u64);
        for i in 0..20 {
            s.login_ok(&mgmt, i).await;
        }
        assert_eq!(s.token_requests(), expected);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_within_the_leeway_of_its_expiry_is_refreshed_before_it_expires() {
    let s = setup().await;
    let only = s.action(guests::TOKEN_ONLY, s.config());
    let first = s.login_ok(&only, 0).await;
    let exp_ms = claim(&first, "exp").as_u64().unwrap() * 1000;
    // 31 s before exp: outside the 30 s leeway, still used.
    s.clock.set(exp_ms - 31_000);
    assert_eq!(
        claim(&s.login_ok(&only, 1).await, "source"),
        &json!("cache")
    );
    // 29 s before exp: inside the leeway, replaced although not yet expired.
    s.clock.set(exp_ms - 29_000);
    assert_eq!(
        claim(&s.login_ok(&only, 2).await, "source"),
        &json!("fetched")
    );
    assert_eq!(s.token_requests(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_token_gets_one_401_one_refetch_and_a_successful_retry() {
    let s = setup().await;
    let mgmt = s.action(guests::MGMT_TOKEN, s.config());
    s.login_ok(&mgmt, 0).await;
    s.idp.revoke_all();
    s.login_ok(&mgmt, 1).await;
    let stats = s.idp.stats();
    assert_eq!(stats.token_requests, 2);
    assert_eq!(stats.management_unauthorized, 1);
    s.login_ok(&mgmt, 2).await;
    assert_eq!(
        s.idp.stats().token_requests,
        2,
        "the new token is cached again"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_200_concurrent_logins_on_an_empty_cache_requests_one_token() {
    let s = Arc::new(setup().await);
    let only = s.action(guests::TOKEN_ONLY, s.config());
    let handles: Vec<_> = (0..200)
        .map(|i| {
            let s = Arc::clone(&s);
            let only = only.clone();
            tokio::spawn(async move {
                let r = s.login_ok(&only, i).await;
                claim(&r, "source").as_str().unwrap().to_string()
            })
        })
        .collect();
    let mut sources = std::collections::BTreeMap::<String, usize>::new();
    for h in handles {
        *sources.entry(h.await.unwrap()).or_default() += 1;
    }
    assert!(
        s.token_requests() <= 1,
        "{} token requests; sources {sources:?}",
        s.token_requests()
    );
    assert_eq!(sources.get("fetched"), Some(&1), "{sources:?}");
}

#[tokio::test]
async fn egress_to_a_host_off_the_allow_list_is_refused_naming_the_host() {
    let s = setup().await;
    let mut config = s.config();
    config.allowed_hosts = vec!["api.example.com".into()];
    // The dev IdP's config also marks it plain-HTTP, which needs it on the list: dropped too.
    config.plain_http_hosts.clear();
    let mgmt = s.action(guests::MGMT_TOKEN, config);
    let (kind, message) = failure(&s.login(&mgmt, 0).await);
    assert_eq!(kind, FailureKind::ActionError);
    assert!(
        message.contains(&format!("request to {} denied", s.idp.host_port())),
        "{message}"
    );
    assert_eq!(s.token_requests(), 0, "nothing left the sandbox");
}

#[tokio::test]
async fn a_token_endpoint_that_is_down_is_a_typed_error_and_nothing_is_cached() {
    let s = setup().await;
    // A socket bound but never listening holds the port for the whole test (no other test can
    // take it), and a connection to it is refused: an endpoint that is down.
    let closed = tokio::net::TcpSocket::new_v4().unwrap();
    closed.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let port = closed.local_addr().unwrap().port();
    let config = s
        .config()
        .secret("token_url", format!("http://127.0.0.1:{port}/oauth/token"))
        .allow_host(format!("127.0.0.1:{port}"));
    let mgmt = s.action(guests::MGMT_TOKEN, config);
    let r = s.login(&mgmt, 0).await;
    let (kind, message) = failure(&r);
    assert_eq!(kind, FailureKind::ActionError);
    assert!(message.contains("token endpoint unreachable"), "{message}");
    assert_eq!(
        r.cache.entries, 0,
        "no token and no stale refresh claim left behind"
    );
    drop(closed);
}

#[tokio::test]
async fn a_slow_token_endpoint_times_out_as_a_typed_error() {
    let s = setup().await;
    s.idp.set_mode(TokenMode::Slow(Duration::from_secs(5)));
    let mgmt = s.action(
        guests::MGMT_TOKEN,
        s.config().secret("token_timeout_ms", "200"),
    );
    let r = s.login(&mgmt, 0).await;
    let (_, message) = failure(&r);
    assert!(message.contains("timed out"), "{message}");
    assert_eq!(r.cache.entries, 0);
}

#[tokio::test]
async fn a_token_endpoint_answering_garbage_or_errors_caches_nothing() {
    let s = setup().await;
    let mgmt = s.action(guests::MGMT_TOKEN, s.config());
    s.idp.set_mode(TokenMode::Garbage);
    let r = s.login(&mgmt, 0).await;
    assert!(
        failure(&r).1.contains("unusable token response: not JSON"),
        "{:?}",
        failure(&r)
    );
    assert_eq!(r.cache.entries, 0);
    s.idp.set_mode(TokenMode::Status(503));
    let r = s.login(&mgmt, 1).await;
    assert!(
        failure(&r).1.contains("token endpoint answered HTTP 503"),
        "{:?}",
        failure(&r)
    );
    assert_eq!(r.cache.entries, 0);
    // Once the endpoint recovers, logins work again.
    s.idp.set_mode(TokenMode::Normal);
    s.login_ok(&mgmt, 2).await;
}

fn unsigned_token(claims: Value) -> String {
    format!(
        "{}.{}.{}",
        URL_SAFE_NO_PAD.encode(r#"{"alg":"RS256","typ":"JWT","kid":"forged"}"#),
        URL_SAFE_NO_PAD.encode(claims.to_string()),
        URL_SAFE_NO_PAD.encode("not-a-signature")
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_poisoned_or_foreign_cache_entry_is_replaced_never_used() {
    let s = setup().await;
    let only = s.action(guests::TOKEN_ONLY, s.config());
    s.login_ok(&only, 0).await;
    let key = s.token_key().await;
    let far = s.clock.now_ms() / 1000 + 3600;
    let poisons = [
        "garbage".to_string(),
        unsigned_token(json!({ "aud": "https://someone-else/api/v2/", "exp": far })),
        unsigned_token(json!({ "aud": s.idp.audience(), "exp": s.clock.now_ms() / 1000 - 10 })),
    ];
    for (i, poison) in poisons.iter().enumerate() {
        s.rt.store()
            .set(
                &s.partition(),
                &key,
                poison,
                SetOptions::default(),
                s.clock.now_ms(),
            )
            .await
            .unwrap();
        let r = s.login_ok(&only, i + 1).await;
        assert_eq!(
            claim(&r, "source"),
            &json!("fetched"),
            "poison {i} was not used"
        );
        let cached =
            s.rt.store()
                .get(&s.partition(), &key, s.clock.now_ms())
                .await
                .unwrap()
                .unwrap();
        assert_ne!(&cached.value, poison, "poison {i} was replaced");
    }
    assert_eq!(s.token_requests(), 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_verification_a_forged_token_for_the_right_audience_is_replaced() {
    let s = setup().await;
    let config = s
        .config()
        .secret("jwks_url", s.idp.jwks_url())
        .secret("issuer", s.idp.issuer());
    let only = s.action(guests::TOKEN_ONLY, config);
    s.login_ok(&only, 0).await;
    assert!(
        s.idp.stats().jwks_requests >= 1,
        "the host fetched the JWKS to verify"
    );
    let key = s.token_key().await;
    // Right audience, far expiry, wrong signature: only signature verification catches it.
    // Stored the way the helper stores tokens, so only the signature check can refuse it.
    let forged = format!(
        "t1.{}.{}",
        s.clock.now_ms() + 3_600_000,
        unsigned_token(
            json!({ "aud": s.idp.audience(), "iss": s.idp.issuer(), "exp": s.clock.now_ms() / 1000 + 3600 }),
        )
    );
    s.rt.store()
        .set(
            &s.partition(),
            &key,
            &forged,
            SetOptions::default(),
            s.clock.now_ms(),
        )
        .await
        .unwrap();
    let r = s.login_ok(&only, 1).await;
    assert_eq!(claim(&r, "source"), &json!("fetched"));
    assert!(
        r.actions[0].logs.contains("not used"),
        "{}",
        r.actions[0].logs
    );
    // A genuine cached token verifies and is reused.
    assert_eq!(
        claim(&s.login_ok(&only, 2).await, "source"),
        &json!("cache")
    );
    assert_eq!(s.token_requests(), 2);
}

#[tokio::test]
async fn with_verification_a_jwks_outage_keeps_the_cached_token_and_mints_none() {
    let s = setup().await;
    let config = s.config().secret("jwks_url", s.idp.jwks_url());
    let only = s.action(guests::TOKEN_ONLY, config);
    s.login_ok(&only, 0).await;
    assert_eq!(s.token_requests(), 1);
    // Past the host's 10-minute trust in fetched keys, with the JWKS down.
    s.idp.set_jwks_down(true);
    s.clock.advance(11 * 60 * 1000);
    let (_, message) = failure(&s.login(&only, 1).await);
    assert!(message.contains("signing keys unavailable"), "{message}");
    assert_eq!(
        s.token_requests(),
        1,
        "no token minted that could not be checked"
    );
    // Keys back: the same cached token verifies and is used.
    s.idp.set_jwks_down(false);
    let r = s.login_ok(&only, 2).await;
    assert_eq!(claim(&r, "source"), &json!("cache"));
    assert_eq!(s.token_requests(), 1);
}

// --- OAuth servers that are not Auth0 -------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jwts_without_aud_are_cached_and_reused() {
    let s = setup().await;
    s.idp.set_token_format(TokenFormat::JwtWithoutAudience);
    let mgmt = s.action(guests::MGMT_TOKEN, s.config());
    for i in 0..500 {
        s.login_ok(&mgmt, i).await;
    }
    assert_eq!(s.token_requests(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn opaque_tokens_are_cached_for_their_expires_in_and_reused() {
    let s = setup().await;
    s.idp.set_token_format(TokenFormat::Opaque);
    let mgmt = s.action(guests::MGMT_TOKEN, s.config());
    for i in 0..500 {
        s.login_ok(&mgmt, i).await;
    }
    assert_eq!(s.token_requests(), 1);
    // expires_in is an hour: past it (less the leeway), one more request.
    s.clock.advance(3_600_000);
    s.login_ok(&mgmt, 500).await;
    s.login_ok(&mgmt, 501).await;
    assert_eq!(s.token_requests(), 2);
}

#[tokio::test]
async fn with_require_audience_a_jwt_without_aud_is_refused() {
    let s = setup().await;
    s.idp.set_token_format(TokenFormat::JwtWithoutAudience);
    let mgmt = s.action(
        guests::MGMT_TOKEN,
        s.config().secret("require_audience", "true"),
    );
    let (_, message) = failure(&s.login(&mgmt, 0).await);
    assert!(message.contains("no aud claim"), "{message}");
}

#[tokio::test]
async fn a_token_is_cached_until_the_smaller_of_30_s_and_a_quarter_of_its_lifetime_before_expiry() {
    // (token lifetime, how long it is served from the cache): the leeway is the smaller of
    // 30 s and a quarter of the lifetime.
    for (ttl, cached) in [
        (Duration::from_secs(5), Duration::from_millis(3_750)),
        (Duration::from_secs(20), Duration::from_secs(15)),
        (Duration::from_secs(60), Duration::from_secs(45)),
        (HOUR, HOUR - Duration::from_secs(30)),
    ] {
        let s = setup_with_token_ttl(ttl).await;
        let only = s.action(guests::TOKEN_ONLY, s.config());
        let first = s.login_ok(&only, 0).await;
        assert_eq!(claim(&first, "source"), "fetched", "{ttl:?}");
        assert!(
            !first.commands.iter().any(|c| matches!(
                c,
                cachet_runtime::Command::SetIdTokenClaim { name, .. } if name == "not_cached"
            )),
            "{ttl:?}: cached: {first:#?}"
        );
        s.clock.advance(cached.as_millis() as u64 - 1);
        let r = s.login_ok(&only, 1).await;
        assert_eq!(
            claim(&r, "source"),
            "cache",
            "{ttl:?}: 1 ms before the leeway"
        );
        s.clock.advance(1);
        let r = s.login_ok(&only, 2).await;
        assert_eq!(claim(&r, "source"), "fetched", "{ttl:?}: at the leeway");
        assert_eq!(s.token_requests(), 2, "{ttl:?}");
    }
}

#[tokio::test]
async fn a_token_too_large_for_a_cache_value_is_used_and_the_result_says_why() {
    let s = setup().await;
    s.idp.set_token_format(TokenFormat::LargeJwt);
    let only = s.action(guests::TOKEN_ONLY, s.config());
    let r = s.login_ok(&only, 0).await;
    let why = claim(&r, "not_cached").as_str().unwrap();
    assert!(why.contains("more than a cache value may hold"), "{why}");
    let mgmt = s.action(guests::MGMT_TOKEN, s.config());
    s.login_ok(&mgmt, 1).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_endpoint_slower_than_the_old_patience_still_gets_one_request_for_50_logins() {
    let s = Arc::new(setup().await);
    // Slower than the 3 s waiters used to wait; within the 5 s token timeout.
    s.idp
        .set_mode(TokenMode::Slow(Duration::from_millis(3_500)));
    let only = s.action(guests::TOKEN_ONLY, s.config());
    let handles: Vec<_> = (0..50)
        .map(|i| {
            let s = Arc::clone(&s);
            let only = only.clone();
            tokio::spawn(async move { s.login_ok(&only, i).await.outcome })
        })
        .collect();
    for h in handles {
        assert_eq!(h.await.unwrap(), Outcome::Success);
    }
    assert_eq!(s.token_requests(), 1);
}

#[tokio::test]
async fn an_api_that_keeps_answering_401_gets_at_most_one_new_token_per_second() {
    let s = setup().await;
    s.idp.set_management_refuses(true);
    let mgmt = s.action(guests::MGMT_TOKEN, s.config());
    for i in 0..20 {
        let (_, message) = failure(&s.login(&mgmt, i).await);
        assert!(message.contains("HTTP 401"), "{message}");
    }
    // The first login's fetch, and one 401-driven refetch in this second.
    assert_eq!(s.token_requests(), 2);
    s.clock.advance(1_001);
    for i in 20..40 {
        failure(&s.login(&mgmt, i).await);
    }
    assert_eq!(s.token_requests(), 3);
}
