//! Test action: counts the executions its instance has run in a module global and returns the
//! count in the `count` ID-token claim. A fresh instance always says 1; a warm one counts up.
//!
//! `event.request.body.mode` changes what it does after counting: `"trap"` panics (the host
//! must discard the instance), `"loop"` never returns (the deadline), and `"cache"` writes
//! `event.request.body.writes` cache entries (the per-execution write budget).

use std::sync::atomic::{AtomicU64, Ordering};

use cachet_guest::{PostLoginApi, PostLoginEvent, SetOptions};
use serde_json::{Value, json};

static EXECUTIONS: AtomicU64 = AtomicU64::new(0);

fn on_execute(event: &PostLoginEvent, api: &PostLoginApi) -> Result<(), cachet_guest::Error> {
    let count = EXECUTIONS.fetch_add(1, Ordering::Relaxed) + 1;
    // Logged each time: what an instance's log streams do across warm executions matters.
    println!("execution {count}");
    eprintln!("stderr {count}");
    let body = &event.request.body;
    match body.get("mode").and_then(Value::as_str) {
        Some("trap") => panic!("asked to trap at execution {count}"),
        Some("loop") => {
            let mut spins: u64 = 0;
            loop {
                spins = std::hint::black_box(spins.wrapping_add(1));
            }
        }
        Some("cache") => {
            let writes = body.get("writes").and_then(Value::as_u64).unwrap_or(0);
            let cache = api.cache();
            let mut refused = None;
            for i in 0..writes {
                if let Err(e) = cache.set(&format!("k{i}"), "v", SetOptions::default()) {
                    refused = Some(json!({ "at": i, "code": e.code() }));
                    break;
                }
            }
            api.id_token().set_custom_claim("refused", &refused)?;
        }
        _ => {}
    }
    api.id_token().set_custom_claim("count", &json!(count))?;
    Ok(())
}

cachet_guest::post_login!(on_execute);
