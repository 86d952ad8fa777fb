//! Hostile test action: attempts 5 000 cache writes and reports, as a claim, how many
//! succeeded and which error codes it met. The host must refuse writes past the per-execution
//! budget with MaxSideEffectsExceeded while the partition keeps its quotas.

use std::collections::BTreeMap;

use cachet_guest::SetOptions;

fn on_execute(
    _: &cachet_guest::PostLoginEvent,
    api: &cachet_guest::PostLoginApi,
) -> Result<(), cachet_guest::Error> {
    let cache = api.cache();
    let mut ok = 0u32;
    let mut codes: BTreeMap<&str, u32> = BTreeMap::new();
    for i in 0..5_000 {
        let value = "v".repeat(i % 600);
        match cache.set(&format!("spam:{i}"), &value, SetOptions::default()) {
            Ok(_) => ok += 1,
            Err(e) => *codes.entry(e.code()).or_default() += 1,
        }
    }
    api.id_token()
        .set_custom_claim("spam", &serde_json::json!({ "ok": ok, "codes": codes }))?;
    Ok(())
}

cachet_guest::post_login!(on_execute);
