//! Test action: meets every rule by which the host refuses an outbound request (the allow-list,
//! the address policy, the body size limit, the request budget), with and without a body, and
//! reports what each request got as the claim `refusals` (`{rule: {body: error}}`), then sets
//! `carried_on`: each refusal must be an `Err` naming its rule, never an abort.
//!
//! Secrets: `private` is a `HOST:PORT` on the allow-list (not marked private) whose name
//! resolves to loopback.

use cachet_guest::http::Request;
use cachet_guest::{PostLoginApi, PostLoginEvent};
use serde_json::{Map, Value, json};

/// What a request got: `ok STATUS` or the error's text.
fn attempt(url: &str, body: Option<Vec<u8>>) -> String {
    let request = match body {
        Some(body) => Request::post(url).body(body),
        None => Request::get(url),
    };
    match request.send() {
        Ok(response) => format!("ok {}", response.status),
        Err(e) => format!("error: {e}"),
    }
}

fn on_execute(event: &PostLoginEvent, api: &PostLoginApi) -> Result<(), cachet_guest::Error> {
    let private = event.secrets.get("private").unwrap_or("localhost:9");
    let denied = "https://denied.example/token";
    let loopback = format!("http://{private}/token");
    let small = || Some(b"grant_type=client_credentials".to_vec());
    let mut refusals = Map::new();
    let mut rule = |name: &str, cases: Vec<(&str, String)>| {
        let cases: Map<String, Value> = cases
            .into_iter()
            .map(|(body, got)| (body.to_string(), Value::String(got)))
            .collect();
        refusals.insert(name.to_string(), Value::Object(cases));
    };
    rule(
        "allow-list",
        vec![
            ("none", attempt(denied, None)),
            ("bytes", attempt(denied, small())),
        ],
    );
    rule(
        "address",
        vec![
            ("none", attempt(&loopback, None)),
            ("bytes", attempt(&loopback, small())),
        ],
    );
    rule(
        "size",
        vec![(
            "bytes",
            attempt(&loopback, Some(vec![b'x'; 1024 * 1024 + 1])),
        )],
    );
    // 5 requests so far: spend the rest of the 50-request budget, then meet it.
    for _ in 5..50 {
        attempt(denied, None);
    }
    rule(
        "budget",
        vec![
            ("none", attempt(denied, None)),
            ("bytes", attempt(denied, small())),
        ],
    );
    api.id_token()
        .set_custom_claim("refusals", &Value::Object(refusals))?;
    api.id_token()
        .set_custom_claim("carried_on", &json!(true))?;
    Ok(())
}

cachet_guest::post_login!(on_execute);
