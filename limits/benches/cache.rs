//! Criterion benches of the partition cache's hot operations, beside a native floor: a plain
//! `HashMap<String, String>` lookup and insert doing the least any cache must do.
//!
//! Run: `cargo bench -p cachet-limits --bench cache`
//!
//! Every timed closure checks the result it produced (a hit is a hit, a write succeeded), so a
//! broken cache cannot post a fast figure.

use std::collections::HashMap;
use std::hint::black_box;

use cachet_limits::{BoundedCache, CacheLimits, OverflowPolicy, SetOptions};
use criterion::{Criterion, criterion_group, criterion_main};

const NOW: u64 = 1_700_000_000_000;

/// A partition at its entry quota: 20 keys of a realistic shape with small values.
fn full_partition() -> BoundedCache {
    let mut c = BoundedCache::new(CacheLimits::default(), OverflowPolicy::Evict);
    for i in 0..20 {
        c.set(
            &format!("mgmt-token:{i:02}"),
            &"x".repeat(300),
            SetOptions::default(),
            NOW,
        )
        .expect("fits");
    }
    c
}

fn benches(c: &mut Criterion) {
    let token = "e".repeat(800); // the size of a typical RS256 management token

    let mut cache = full_partition();
    c.bench_function("get_hit", |b| {
        b.iter(|| {
            let hit = cache.get(black_box("mgmt-token:07"), NOW);
            assert!(hit.is_some(), "a hit");
            black_box(hit)
        })
    });
    c.bench_function("get_miss", |b| {
        b.iter(|| {
            let miss = cache.get(black_box("mgmt-token:99"), NOW);
            assert!(miss.is_none(), "a miss");
            black_box(miss)
        })
    });

    let mut cache = full_partition();
    c.bench_function("replace", |b| {
        b.iter(|| {
            let written = cache.set(
                black_box("mgmt-token:07"),
                &token,
                SetOptions::default(),
                NOW,
            );
            assert!(written.is_ok(), "replaced");
            black_box(written)
        })
    });

    // Every write is a new key into a full partition, so each one evicts the LRU entry.
    let mut cache = full_partition();
    let fresh: Vec<String> = (0..1024).map(|i| format!("fresh-key:{i:04}")).collect();
    let mut i = 0;
    c.bench_function("set_evicting_on_full_partition", |b| {
        b.iter(|| {
            i = (i + 1) % fresh.len();
            let written = cache.set(&fresh[i], "v", SetOptions::default(), NOW);
            assert!(written.is_ok(), "written by evicting");
            black_box(written)
        })
    });

    // Native floor: what a bare HashMap does for the same get and replace.
    let mut map: HashMap<String, String> = (0..20)
        .map(|i| (format!("mgmt-token:{i:02}"), "x".repeat(300)))
        .collect();
    c.bench_function("native_floor/hashmap_get_hit_clone", |b| {
        b.iter(|| {
            let hit = map.get(black_box("mgmt-token:07")).cloned();
            assert!(hit.is_some(), "a hit");
            black_box(hit)
        })
    });
    assert_eq!(cache.usage().entries, 20, "evicting writes kept the quota");
    c.bench_function("native_floor/hashmap_replace", |b| {
        b.iter(|| {
            let v = map.get_mut(black_box("mgmt-token:07")).expect("present");
            v.clear();
            v.push_str(&token);
        })
    });
}

criterion_group!(cache_benches, benches);
criterion_main!(cache_benches);
