//! Example post-login action: probes the cache's quotas from inside a sandbox and reports what
//! it met as the `https://cachet.example/quota` ID-token claim.
//!
//! It fills the partition with 500-byte values until a write is refused (strict policy) or the
//! oldest entry is evicted (evict policy), then provokes each other error code once, and finally
//! writes until the per-execution write budget runs out.

use std::collections::BTreeMap;

use cachet_guest::{CacheError, PostLoginApi, PostLoginEvent, SetOptions};
use serde_json::json;

fn code<T>(r: Result<T, CacheError>) -> &'static str {
    match r {
        Ok(_) => "ok",
        Err(e) => e.code(),
    }
}

fn on_execute(_: &PostLoginEvent, api: &PostLoginApi) -> Result<(), cachet_guest::Error> {
    let cache = api.cache();
    let mut codes: BTreeMap<&str, &str> = BTreeMap::new();

    // 1. Fill: 16 entries of 508 bytes fit in 8192; the 17th overflows.
    let value = "p".repeat(500);
    let mut written = 0;
    let mut attempted = 0;
    for i in 0..40 {
        attempted += 1;
        match cache.set(&format!("probe:{i:02}"), &value, SetOptions::default()) {
            Ok(_) => written += 1,
            Err(e) => {
                codes.insert("fill", e.code());
                break;
            }
        }
    }
    let first_key_evicted = cache.get("probe:00").is_none();

    // 2. One of each other refusal.
    codes.insert(
        "key_65_bytes",
        code(cache.set(&"k".repeat(65), "v", SetOptions::default())),
    );
    codes.insert(
        "value_4097_bytes",
        code(cache.set("probe:big", &"v".repeat(4097), SetOptions::default())),
    );
    codes.insert(
        "ttl_0",
        code(cache.set("probe:ttl0", "v", SetOptions::ttl(0))),
    );
    codes.insert(
        "ttl_overflow",
        code(cache.set("probe:ttlmax", "v", SetOptions::ttl(u64::MAX))),
    );
    codes.insert("delete_missing", code(cache.delete("probe:missing")));
    let _ = cache.delete("probe:claim");
    let _ = cache.set("probe:claim", "first", SetOptions::ttl(5_000).if_absent());
    codes.insert(
        "claim_taken",
        code(cache.set("probe:claim", "second", SetOptions::ttl(5_000).if_absent())),
    );

    // 3. Spend the write budget.
    let mut budget_writes = 0;
    loop {
        match cache.set("probe:budget", "v", SetOptions::ttl(1_000)) {
            Ok(_) => budget_writes += 1,
            Err(e) => {
                codes.insert("budget", e.code());
                break;
            }
        }
        if budget_writes > 1_000 {
            break;
        }
    }

    api.id_token().set_custom_claim(
        "https://cachet.example/quota",
        &json!({
            "written_before_overflow": written,
            "attempted": attempted,
            "entry_bytes": "probe:00".len() + value.len(),
            "first_key_evicted": first_key_evicted,
            "writes_until_budget_ran_out": budget_writes,
            "codes": codes,
        }),
    )?;
    Ok(())
}

cachet_guest::post_login!(on_execute);
