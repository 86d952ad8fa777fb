//! No key string lets an action reach another tenant's or trigger's partition.

use crate::Bounded as _;
use cachet_runtime::{PartitionKey, SlotReset, Trigger};
use cachet_tests::{T0, guests, harness, load};
use serde_json::{Value, json};

use crate::{cache_ops, claim};

const TRICKY_KEYS: &[&str] = &[
    "k",
    "",
    "other/post-login",
    "other/post-login:k",
    "{other}:k",
    "cachet:{other}:post-login:k",
    "../other/k",
    "k\u{0}other",
    "*",
    "issued:svc-1",
];

#[tokio::test]
async fn no_key_string_reaches_another_tenants_partition() {
    let (builder, _) = harness();
    let rt = builder.build().unwrap();
    let sets: Vec<Value> = TRICKY_KEYS
        .iter()
        .map(|k| json!({ "op": "set", "key": k, "value": "secret-of-acme" }))
        .collect();
    for r in cache_ops(&rt, "acme", Value::Array(sets)).await {
        assert_eq!(r["value"], json!("secret-of-acme"));
    }
    let gets: Vec<Value> = TRICKY_KEYS
        .iter()
        .map(|k| json!({ "op": "get", "key": k }))
        .collect();
    for tenant in ["other", "acme/post-login", "", "{acme}"] {
        for r in cache_ops(&rt, tenant, Value::Array(gets.clone())).await {
            assert_eq!(r, Value::Null, "tenant {tenant:?} read acme's entry");
        }
    }
    // And the writes landed only in acme's partition.
    assert_eq!(
        rt.partition_usage("acme", Trigger::PostLogin).await.entries,
        TRICKY_KEYS.len()
    );
}

#[tokio::test]
async fn the_same_key_in_another_trigger_of_the_same_tenant_is_a_different_entry() {
    let (builder, _) = harness();
    let rt = builder.build().unwrap();
    // post-login writes the exact key m2m-claims counts with.
    cache_ops(
        &rt,
        "acme",
        json!([{ "op": "set", "key": "issued:svc-1", "value": "41" }]),
    )
    .await;
    let m2m = load(&rt, guests::M2M_CLAIMS, Trigger::CredentialsExchange);
    let event = json!({ "client": { "client_id": "svc-1" } }).to_string();
    let r = rt
        .execute_actions("acme", Trigger::CredentialsExchange, &[m2m], &event)
        .bounded()
        .await
        .unwrap();
    assert_eq!(
        claim(&r, "https://cachet.example/issued_this_hour"),
        &json!(1)
    );
    let cx = PartitionKey::new("acme", Trigger::CredentialsExchange);
    assert_eq!(
        rt.store()
            .get(&cx, "issued:svc-1", T0)
            .await
            .unwrap()
            .unwrap()
            .value,
        "1"
    );
    let pl = PartitionKey::new("acme", Trigger::PostLogin);
    assert_eq!(
        rt.store()
            .get(&pl, "issued:svc-1", T0)
            .await
            .unwrap()
            .unwrap()
            .value,
        "41"
    );
}

/// The memory-marker action with `mode` and `seed` in its event's query.
fn marker_event(mode: &str, seed: u64) -> Value {
    json!({
        "user": { "user_id": "auth0|1" },
        "request": { "query": { "mode": mode, "seed": seed.to_string() } }
    })
}

#[tokio::test]
async fn no_data_crosses_instances_through_a_pool_slot_between_tenants_with_either_reset() {
    for reset in [SlotReset::DirtyPages, SlotReset::Whole, SlotReset::Auto] {
        one_slot_keeps_tenants_apart(reset).await;
    }
}

#[tokio::test]
async fn dirty_pages_in_thousands_of_separate_runs_are_all_reset_before_the_slot_is_reused() {
    // The dirty-page reset asks the kernel for dirty runs 32 at a time and resumes the scan
    // until it has seen them all (vendor/README.md); an action that dirties every other page
    // of 16 MiB leaves 2 048 runs. Everything is kept resident, so every run is reset by
    // copying rather than by returning the pages to the kernel.
    let (builder, _) = harness();
    let rt = builder
        .instance_pool_size(1)
        .warm_idle_instances(0)
        .slot_reset(SlotReset::DirtyPages)
        .keep_resident(64 * 1024 * 1024)
        .build()
        .unwrap();
    let action = load(&rt, guests::MEMORY_MARKER, Trigger::PostLogin);
    let control = crate::run_one(&rt, "eve", &action, &marker_event("scatter-then-scan", 42)).await;
    assert!(
        claim(&control, "matches").as_u64().unwrap() >= 16 * 1024 * 1024 / 8192 - 1,
        "{control:#?}"
    );
    for seed in [4_u64, 5] {
        let dirtied = crate::run_one(&rt, "alice", &action, &marker_event("scatter", seed)).await;
        assert_eq!(
            dirtied.outcome,
            cachet_runtime::Outcome::Success,
            "{dirtied:#?}"
        );
        let scanned = crate::run_one(&rt, "bob", &action, &marker_event("scan", seed)).await;
        assert_eq!(claim(&scanned, "matches"), &json!(0), "seed {seed}");
    }
}

async fn one_slot_keeps_tenants_apart(reset: SlotReset) {
    // One slot, so every instance of both tenants lives in the same memory, one after another.
    let (builder, _) = harness();
    let rt = builder
        .instance_pool_size(1)
        .warm_idle_instances(0)
        .slot_reset(reset)
        .build()
        .unwrap();
    let action = load(&rt, guests::MEMORY_MARKER, Trigger::PostLogin);
    // The scan finds a marker that is there: 16 MiB of 64-byte blocks, in the same execution.
    let control = crate::run_one(&rt, "eve", &action, &marker_event("fill-then-scan", 99)).await;
    assert!(
        claim(&control, "matches").as_u64().unwrap() >= 16 * 1024 * 1024 / 64 - 1,
        "{control:#?}"
    );
    for seed in [1_u64, 2, 3] {
        let filled = crate::run_one(&rt, "alice", &action, &marker_event("fill", seed)).await;
        assert_eq!(
            filled.outcome,
            cachet_runtime::Outcome::Success,
            "{filled:#?}"
        );
        // Another tenant's instance in the same slot, with its memory grown over the pages
        // alice's instance filled, finds none of her marker.
        let scanned = crate::run_one(&rt, "bob", &action, &marker_event("scan", seed)).await;
        assert_eq!(
            claim(&scanned, "matches"),
            &json!(0),
            "{reset:?}, seed {seed}"
        );
    }
}
