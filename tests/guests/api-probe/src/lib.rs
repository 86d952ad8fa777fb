//! Test action: makes the raw `api` calls listed in `request.body.calls` (`[method, args]`
//! pairs, the arguments as JSON) and sets one ID-token claim, `https://probe/answers`, to what
//! the host answered each: `{"ok": value}` or `{"error": message}`. Lets tests check the
//! host's argument checks exactly as a raw caller sees them (`tests/js/api-probe.js` does the
//! same through the JavaScript SDK).

use cachet_guest::raw::api;
use cachet_guest::{Error, PostLoginApi, PostLoginEvent};
use serde_json::{Value, json};

fn on_execute(event: &PostLoginEvent, probe: &PostLoginApi) -> Result<(), Error> {
    let calls = event
        .request
        .body
        .get("calls")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let mut answers = Vec::new();
    for call in &calls {
        let method = call[0].as_str().unwrap_or_default();
        let answer = match api::call(method, &call[1].to_string()) {
            Ok(value) => json!({ "ok": serde_json::from_str::<Value>(&value)? }),
            Err(message) => json!({ "error": message }),
        };
        answers.push(answer);
    }
    probe
        .id_token()
        .set_custom_claim("https://probe/answers", &answers)?;
    Ok(())
}

cachet_guest::post_login!(on_execute);
