//! Test action: runs the cache operations listed in `event.request.body.ops` and returns each
//! result in the `results` ID-token claim, so tests can drive the cache through a real sandbox.
//!
//! An op is `{"op": "get" | "set" | "delete", "key": .., "value": .., "ttl": .., "expires_at":
//! .., "if_absent": ..}`; a result is `{"value": .., "expires_at": ..}`, `null` (a miss),
//! `"ok"`, or `{"error": CODE}`.

use cachet_guest::{PostLoginApi, PostLoginEvent, SetOptions};
use serde_json::{Value, json};

fn run(op: &Value, api: &PostLoginApi) -> Value {
    let cache = api.cache();
    let key = op["key"].as_str().unwrap_or_default();
    match op["op"].as_str() {
        Some("get") => cache.get(key).map_or(
            Value::Null,
            |r| json!({ "value": r.value, "expires_at": r.expires_at }),
        ),
        Some("set") => {
            let options = SetOptions {
                ttl_ms: op["ttl"].as_u64(),
                expires_at_ms: op["expires_at"].as_u64(),
                if_absent: op["if_absent"].as_bool().unwrap_or(false),
            };
            match cache.set(key, op["value"].as_str().unwrap_or_default(), options) {
                Ok(r) => json!({ "value": r.value, "expires_at": r.expires_at }),
                Err(e) => json!({ "error": e.code() }),
            }
        }
        Some("delete") => match cache.delete(key) {
            Ok(()) => json!("ok"),
            Err(e) => json!({ "error": e.code() }),
        },
        other => json!({ "error": format!("unknown op {other:?}") }),
    }
}

fn on_execute(event: &PostLoginEvent, api: &PostLoginApi) -> Result<(), cachet_guest::Error> {
    let ops = event
        .request
        .body
        .get("ops")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let results: Vec<Value> = ops.iter().map(|op| run(op, api)).collect();
    api.id_token().set_custom_claim("results", &results)?;
    Ok(())
}

cachet_guest::post_login!(on_execute);
