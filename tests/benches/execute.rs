//! Fresh-instance execution on a cache hit, beside the native floor of the same logic:
//! - the `claims` example (event parse, cache get, claims);
//! - the token helper (`token-only` test action: `ManagementToken::get` on a cached token, a
//!   native `jwt.decode` host call, `exp`/audience checks, claims). This is `mgmt-token` with
//!   the management call excluded: a dev IdP serves only the first fetch.
//!
//! Run: `cargo bench -p cachet-tests --bench execute`
//!
//! The actions are the ones `tests/build.rs` builds from source (`--profile guest`). After
//! criterion's figures it prints p50/p99 latency and executions/s on 1 and 2 threads, for the
//! default engine and with component-model concurrency support on, and the fresh `claims` with
//! an event the size of a real one (`common::FULL_EVENT`).

mod common;
use common::{EVENT, FULL_EVENT, TENANT, bound, current_thread, latency, percentile, throughput};
use std::hint::black_box;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use cachet_guest::PostLoginEvent;
use cachet_limits::{BoundedCache, CacheLimits, OverflowPolicy, SetOptions};
use cachet_runtime::{Command, Outcome, Runtime, Trigger};
use criterion::Criterion;
use serde_json::Value;

/// An action component `build.rs` built from source.
fn guest(path: &str) -> Vec<u8> {
    std::fs::read(path).expect("built action")
}

fn runtime(
    wasm: &[u8],
    concurrency_support: bool,
    instance: cachet_runtime::InstanceMode,
) -> Runtime {
    let builder = Runtime::builder().concurrency_support(concurrency_support);
    bound(builder, "claims", wasm, instance)
}

fn execute(tokio: &tokio::runtime::Runtime, rt: &Runtime) {
    execute_event(tokio, rt, EVENT);
}

/// [`execute`] with the event the size of a real one.
fn execute_full(tokio: &tokio::runtime::Runtime, rt: &Runtime) {
    execute_event(tokio, rt, FULL_EVENT);
}

fn execute_event(tokio: &tokio::runtime::Runtime, rt: &Runtime, event: &str) {
    let r = tokio
        .block_on(rt.execute(TENANT, Trigger::PostLogin, event))
        .expect("execute");
    // Checked in every iteration (not `debug_assert`, which benches compile out): a failing
    // execution must not post a fast figure.
    assert_eq!(r.outcome, Outcome::Success, "{:?}", r.actions[0].error);
    black_box(r);
}

/// The same work natively: parse the event, hit the cache, parse the cached claims, and
/// build the two commands (each value through JSON, as it crosses the sandbox boundary).
fn native_floor(cache: &Mutex<BoundedCache>, event_json: &str, now: u64) -> Vec<Command> {
    let event: PostLoginEvent = serde_json::from_str(event_json).expect("event");
    let key = claims::cache_key(&event.user.user_id);
    let hit = cache.lock().expect("lock").get(&key, now);
    let claims: Value = match hit {
        Some(r) => serde_json::from_str(&r.value).expect("cached claims"),
        None => {
            let c = claims::compute_claims(&event);
            let _ = cache.lock().expect("lock").set(
                &key,
                &c.to_string(),
                SetOptions {
                    ttl_ms: Some(600_000),
                    ..SetOptions::default()
                },
                now,
            );
            c
        }
    };
    let through_json = |v: &Value| -> Value {
        serde_json::from_str(&serde_json::to_string(v).expect("ser")).expect("de")
    };
    vec![
        Command::SetIdTokenClaim {
            name: "https://cachet.example/plan".into(),
            value: through_json(&claims["plan"]),
        },
        Command::SetAccessTokenClaim {
            name: "https://cachet.example/entitlements".into(),
            value: through_json(&claims["entitlements"]),
        },
    ]
}

/// The token helper's cache-hit path natively: cache get, unwrap the helper's entry (version
/// tag, recorded expiry and leeway, token), decode the JWT's claims, check `exp` against now +
/// leeway and
/// the audience, build the claims commands.
fn native_token_floor(
    cache: &Mutex<BoundedCache>,
    key: &str,
    audience: &str,
    now: u64,
) -> Vec<Command> {
    use base64::Engine as _;
    let entry = cache
        .lock()
        .expect("lock")
        .get(key, now)
        .expect("cached")
        .value;
    let (recorded, rest) = entry
        .strip_prefix("t2.")
        .and_then(|rest| rest.split_once('.'))
        .expect("a token entry");
    let (leeway, token) = rest.split_once('.').expect("a token entry");
    let recorded: u64 = recorded.parse().expect("recorded expiry");
    let leeway: u64 = leeway.parse().expect("recorded leeway");
    let payload = token.split('.').nth(1).expect("claims part");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .expect("base64");
    let claims: Value = serde_json::from_slice(&bytes).expect("json");
    let exp_ms = claims["exp"].as_u64().expect("exp") * 1000;
    assert!(exp_ms.min(recorded) > now + leeway && claims["aud"] == audience);
    vec![
        Command::SetIdTokenClaim {
            name: "source".into(),
            value: Value::from("cache"),
        },
        Command::SetIdTokenClaim {
            name: "exp".into(),
            value: claims["exp"].clone(),
        },
    ]
}

fn main() {
    let wasm = guest(cachet_tests::guests::CLAIMS);
    let fresh = cachet_runtime::InstanceMode::Fresh;
    let rt = runtime(&wasm, false, fresh);
    let warm = cachet_runtime::InstanceMode::Warm(cachet_runtime::WarmOptions::default());
    let rt_warm = runtime(&wasm, false, warm);
    let tokio = current_thread();
    execute(&tokio, &rt); // the first login computes and caches; every later one is a hit
    execute(&tokio, &rt_warm);

    let now = 1_700_000_000_000;
    let cache = Mutex::new(BoundedCache::new(
        CacheLimits::default(),
        OverflowPolicy::Evict,
    ));
    native_floor(&cache, EVENT, now);

    let mut c = Criterion::default().configure_from_args();
    c.bench_function("execute/claims_cache_hit", |b| {
        b.iter(|| execute(&tokio, &rt))
    });
    c.bench_function("execute/claims_cache_hit_warm", |b| {
        b.iter(|| execute(&tokio, &rt_warm))
    });
    c.bench_function("native_floor/claims_cache_hit", |b| {
        b.iter(|| black_box(native_floor(&cache, black_box(EVENT), now)))
    });

    // The token helper on a cache hit. The IdP runs on its own runtime for the first fetch.
    let idp_rt = tokio::runtime::Runtime::new().expect("tokio");
    let idp = idp_rt
        .block_on(cachet_dev_idp::DevIdp::start(
            cachet_dev_idp::DevIdpConfig::default(),
        ))
        .expect("dev IdP");
    let token_rt = Runtime::builder().build().expect("runtime");
    let config = idp.action_config();
    let token_action = token_rt
        .load_action(
            "token-only",
            Trigger::PostLogin,
            &guest(cachet_tests::guests::TOKEN_ONLY),
            config,
        )
        .expect("load token-only");
    token_rt
        .bind(TENANT, Trigger::PostLogin, vec![token_action])
        .expect("bind");
    execute(&tokio, &token_rt); // fetches once
    c.bench_function("execute/token_helper_cache_hit", |b| {
        b.iter(|| execute(&tokio, &token_rt))
    });
    assert_eq!(
        idp.stats().token_requests,
        1,
        "every benched execution was a cache hit"
    );

    let token = tokio
        .block_on(token_rt.store().snapshot(
            &cachet_runtime::PartitionKey::new(TENANT, Trigger::PostLogin),
            token_rt.now_ms(),
        ))
        .expect("snapshot")
        .into_iter()
        .find(|e| e.key.starts_with("cachet:mgmt-token:"))
        .expect("cached token");
    let token_cache = Mutex::new(BoundedCache::new(
        CacheLimits::default(),
        OverflowPolicy::Evict,
    ));
    let real_now = token_rt.now_ms();
    token_cache
        .lock()
        .expect("lock")
        .set(&token.key, &token.value, SetOptions::default(), real_now)
        .expect("set");
    let audience = idp.audience().to_string();
    c.bench_function("native_floor/token_helper_cache_hit", |b| {
        b.iter(|| {
            black_box(native_token_floor(
                &token_cache,
                &token.key,
                &audience,
                real_now,
            ))
        })
    });
    c.final_summary();

    // Percentiles and throughput, which criterion does not report.
    let floor = {
        let mut samples: Vec<Duration> = (0..20_000)
            .map(|_| {
                let t = Instant::now();
                black_box(native_floor(&cache, EVENT, now));
                t.elapsed()
            })
            .collect();
        samples.sort_unstable();
        percentile(&samples, 0.5)
    };
    let rt_cm = runtime(&wasm, true, fresh);
    execute(&tokio, &rt_cm);
    // Fresh instances whose slot memory is reset whole instead of by dirty pages (what
    // `SlotReset::Auto` does where swap is configured).
    let rt_whole = bound(
        Runtime::builder().slot_reset(cachet_runtime::SlotReset::Whole),
        "claims",
        &wasm,
        fresh,
    );
    execute(&tokio, &rt_whole);
    let token_floor = {
        let mut samples: Vec<Duration> = (0..20_000)
            .map(|_| {
                let t = Instant::now();
                black_box(native_token_floor(
                    &token_cache,
                    &token.key,
                    &audience,
                    real_now,
                ));
                t.elapsed()
            })
            .collect();
        samples.sort_unstable();
        percentile(&samples, 0.5)
    };
    let (p50, p99) = latency(&token_rt, 20_000, execute);
    println!(
        "token helper, cache hit: p50 {:.1} µs, p99 {:.1} µs; native floor p50 {:.2} µs (ratio {:.0}x)",
        p50.as_secs_f64() * 1e6,
        p99.as_secs_f64() * 1e6,
        token_floor.as_secs_f64() * 1e6,
        p50.as_secs_f64() / token_floor.as_secs_f64(),
    );
    for (label, rt) in [
        ("concurrency_support(false)", &rt),
        ("concurrency_support(true)", &rt_cm),
        ("SlotReset::Whole", &rt_whole),
        ("warm instances", &rt_warm),
    ] {
        let (p50, p99) = latency(rt, 20_000, execute);
        let t1 = throughput(rt, 1, 20_000, execute);
        let t2 = throughput(rt, 2, 20_000, execute);
        println!(
            "{label}: p50 {:.1} µs, p99 {:.1} µs, {:.0} exec/s on 1 thread, {:.0} exec/s on 2 threads; \
             native floor p50 {:.2} µs (ratio {:.0}x)",
            p50.as_secs_f64() * 1e6,
            p99.as_secs_f64() * 1e6,
            t1,
            t2,
            floor.as_secs_f64() * 1e6,
            p50.as_secs_f64() / floor.as_secs_f64(),
        );
    }
    // The same fresh executions with an event the size of a real one (`FULL_EVENT`): the first
    // computes and caches its user's claims, every later one is a hit.
    execute_full(&tokio, &rt);
    let (p50, p99) = latency(&rt, 20_000, execute_full);
    let t2 = throughput(&rt, 2, 20_000, execute_full);
    println!(
        "with a {}-byte event (the example's is {} bytes): p50 {:.1} µs, p99 {:.1} µs, {:.0} exec/s on 2 threads",
        FULL_EVENT.len(),
        EVENT.len(),
        p50.as_secs_f64() * 1e6,
        p99.as_secs_f64() * 1e6,
        t2,
    );
}
