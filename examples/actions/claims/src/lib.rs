//! Example post-login action: adds the user's plan and entitlements as token claims.
//!
//! Entitlements are derived from `app_metadata` (a stand-in for work worth caching, such as a
//! lookup in another system) and cached per user for ten minutes, so repeated logins reuse
//! them. Caching is an optimisation here: if the cache refuses the write (quota, store down),
//! the login still succeeds.

use cachet_guest::{PostLoginApi, PostLoginEvent, SetOptions};
use serde_json::{Value, json};

/// Claims namespace, as Auth0 requires for custom claims.
const NS: &str = "https://cachet.example/";

/// How long computed entitlements are reused.
const TTL_MS: u64 = 10 * 60 * 1000;

/// Derives the claims to cache from the user's metadata.
pub fn compute_claims(event: &PostLoginEvent) -> Value {
    let meta = &event.user.app_metadata;
    let plan = meta.get("plan").and_then(Value::as_str).unwrap_or("free");
    let mut entitlements: Vec<&str> = match plan {
        "enterprise" => vec![
            "sso",
            "audit-log",
            "support:priority",
            "api:write",
            "api:read",
        ],
        "pro" => vec!["api:write", "api:read"],
        _ => vec!["api:read"],
    };
    if let Some(extra) = meta.get("entitlements").and_then(Value::as_array) {
        entitlements.extend(extra.iter().filter_map(Value::as_str));
    }
    entitlements.sort_unstable();
    entitlements.dedup();
    json!({ "plan": plan, "entitlements": entitlements })
}

/// The cache key of a user's claims: within the 64-byte key limit whatever the user id.
pub fn cache_key(user_id: &str) -> String {
    let mut key = String::from("claims:");
    for c in user_id.chars() {
        if key.len() + c.len_utf8() > 64 {
            break;
        }
        key.push(c);
    }
    key
}

fn on_execute(event: &PostLoginEvent, api: &PostLoginApi) -> Result<(), cachet_guest::Error> {
    let cache = api.cache();
    let key = cache_key(&event.user.user_id);
    let claims: Value = match cache.get(&key) {
        Some(hit) => serde_json::from_str(&hit.value)?,
        None => {
            let computed = compute_claims(event);
            if let Err(e) = cache.set(&key, &computed.to_string(), SetOptions::ttl(TTL_MS)) {
                eprintln!("claims: not cached ({})", e.code());
            }
            computed
        }
    };
    api.id_token()
        .set_custom_claim(&format!("{NS}plan"), &claims["plan"])?;
    api.access_token()
        .set_custom_claim(&format!("{NS}entitlements"), &claims["entitlements"])?;
    Ok(())
}

cachet_guest::post_login!(on_execute);
