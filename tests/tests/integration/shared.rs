//! Two hosts, one Redis: the Management-API token is fetched once for both, and an outage of
//! Redis costs token requests, never logins.

use std::sync::Arc;
use std::time::Duration;

use cachet_dev_idp::{DevIdp, DevIdpConfig};
use cachet_limits::{CacheLimits, OverflowPolicy};
use cachet_runtime::{Action, ManualClock, Outcome, Runtime, StoreUrl, Trigger};
use cachet_store_redis::{RedisOptions, RedisStore};
use cachet_tests::redis_server::RedisServer;
use cachet_tests::{guests, harness};
use serde_json::json;

use crate::claim;

const HOUR: Duration = Duration::from_secs(3600);

/// One host: a runtime with its own connection to the shared Redis, and the token action.
struct Host {
    rt: Runtime,
    action: Action,
    store: Arc<RedisStore>,
}

struct Cluster {
    hosts: Vec<Arc<Host>>,
    idp: DevIdp,
    clock: ManualClock,
}

async fn cluster(server: &RedisServer, timeout: Duration) -> Cluster {
    let clock = ManualClock::new(cachet_tests::T0);
    let idp = DevIdp::start(DevIdpConfig {
        token_ttl: HOUR,
        clock: Arc::new(clock.clone()),
        ..DevIdpConfig::default()
    })
    .await
    .unwrap();
    let StoreUrl::Redis(url) = server.url().parse().unwrap() else {
        panic!("not a Redis URL")
    };
    let mut hosts = Vec::new();
    for _ in 0..2 {
        let store = RedisStore::connect(
            &url,
            CacheLimits::default(),
            OverflowPolicy::Evict,
            RedisOptions {
                timeout,
                connect_timeout: Duration::from_millis(500),
                ..RedisOptions::default()
            },
        )
        .await
        .unwrap();
        let store = Arc::new(store);
        let (builder, _) = harness();
        let rt = builder
            .clock(Arc::new(clock.clone()))
            .store(store.clone())
            .instance_pool_size(120)
            .build()
            .unwrap();
        let config = idp.action_config();
        let wasm = std::fs::read(guests::TOKEN_ONLY).unwrap();
        let action = rt
            .load_action("token-only", Trigger::PostLogin, &wasm, config)
            .unwrap();
        hosts.push(Arc::new(Host { rt, action, store }));
    }
    Cluster { hosts, idp, clock }
}

impl Host {
    /// One login; returns where its token came from (`fetched` or `cache`).
    async fn login(&self, i: usize) -> String {
        let event = json!({ "user": { "user_id": format!("auth0|user-{i}") } }).to_string();
        let r = tokio::time::timeout(
            Duration::from_secs(60),
            self.rt.execute_actions(
                "acme",
                Trigger::PostLogin,
                std::slice::from_ref(&self.action),
                &event,
            ),
        )
        .await
        .expect("a login hung")
        .unwrap();
        assert_eq!(r.outcome, Outcome::Success, "{:#?}", r.actions);
        claim(&r, "source").as_str().unwrap().to_owned()
    }
}

impl Cluster {
    /// Store operations that failed (timed out or errored), on all hosts.
    fn store_failures(&self) -> u64 {
        self.hosts.iter().map(|h| h.store.failures()).sum()
    }

    /// `n` concurrent logins, alternating between the hosts; the count of each token source.
    async fn burst(&self, n: usize) -> std::collections::BTreeMap<String, usize> {
        let handles: Vec<_> = (0..n)
            .map(|i| {
                let host = Arc::clone(&self.hosts[i % self.hosts.len()]);
                tokio::spawn(async move { host.login(i).await })
            })
            .collect();
        let mut sources = std::collections::BTreeMap::new();
        for h in handles {
            *sources.entry(h.await.unwrap()).or_default() += 1;
        }
        sources
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hosts_on_one_redis_fetch_one_token_for_200_concurrent_logins_and_one_per_expiry() {
    let server = RedisServer::start("two_hosts_one_token");
    // Generous: a timed-out claim would (rightly) fall back to fetching, and this test is about
    // sharing, not about timeouts, on a loaded machine.
    let c = cluster(&server, Duration::from_secs(10)).await;
    let sources = c.burst(200).await;
    let failures = c.store_failures();
    assert_eq!(
        c.idp.stats().token_requests,
        1,
        "{sources:?}, {failures} store failures"
    );
    assert_eq!(sources.get("fetched"), Some(&1), "{sources:?}");

    c.clock.advance(HOUR.as_millis() as u64);
    let sources = c.burst(200).await;
    let failures = c.store_failures();
    assert_eq!(
        c.idp.stats().token_requests,
        2,
        "{sources:?}, {failures} store failures"
    );
    assert_eq!(sources.get("fetched"), Some(&1), "{sources:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logins_keep_succeeding_while_redis_is_down_and_share_the_token_again_after() {
    let mut server = RedisServer::start("redis_outage_logins");
    let c = cluster(&server, Duration::from_millis(200)).await;
    for i in 0..10 {
        c.hosts[i % 2].login(i).await;
    }
    assert_eq!(c.idp.stats().token_requests, 1);

    server.kill();
    // Every login still succeeds: the cache reads miss, the claim fails, the helper fetches.
    for i in 0..6 {
        assert_eq!(c.hosts[i % 2].login(i).await, "fetched");
    }
    let during = c.idp.stats().token_requests;
    assert!(during > 1, "no token was fetched during the outage");

    server.restart();
    // The hosts reconnect by themselves (in the background, so the first logins after the
    // restart may still fetch); then one fetched token is shared by both hosts again.
    let mut shared = false;
    for attempt in 0..50 {
        let before = c.idp.stats().token_requests;
        let sources: Vec<String> = [
            c.hosts[0].login(attempt).await,
            c.hosts[1].login(attempt).await,
        ]
        .into();
        let after = c.idp.stats().token_requests;
        if sources[1] == "cache" && after == before + u64::from(sources[0] == "fetched") {
            shared = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        shared,
        "the hosts never shared a token again after Redis came back"
    );
}
