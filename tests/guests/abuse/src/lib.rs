//! Hostile test action: one attack on the host's memory per mode, chosen by the event's
//! `request.body.attack` (`request.body.url` is the allow-listed server to aim at). Each attack
//! must fail alone with a typed error the action sees, while the host's memory stays bounded.
//! The action returns that error (so the result names it), or succeeds if the host let the
//! attack through, which the tests treat as a failure.

use cachet_guest::http::Request;
use cachet_guest::raw::{api, jwt};
use cachet_guest::{Error, PostLoginApi, PostLoginEvent};

const MB: usize = 1024 * 1024;

fn on_execute(event: &PostLoginEvent, _: &PostLoginApi) -> Result<(), Error> {
    let body = &event.request.body;
    let attack = body.get("attack").and_then(|v| v.as_str()).unwrap_or("");
    let url = body.get("url").and_then(|v| v.as_str()).unwrap_or("");
    match attack {
        // An 8 MB JSON array: the host must refuse it by size, before parsing.
        "huge-claim" => {
            let json = format!("[{}0]", "0,".repeat(4 * MB));
            api::call("idToken.setCustomClaim", &format!("[\"claim\",{json}]"))
                .map(drop)
                .map_err(Error::msg)
        }
        // An 8 MB "token".
        "huge-token" => {
            let token = format!("{}.{}.sig", "e".repeat(4 * MB), "e".repeat(4 * MB));
            jwt::decode(&token)
                .map(drop)
                .map_err(|e| Error::msg(format!("{e:?}")))
        }
        // An 8 MB request body to an allowed host.
        "body-flood" => Request::post(url)
            .body(vec![b'x'; 8 * MB])
            .send()
            .map(drop)
            .map_err(|e| Error::msg(e.to_string())),
        // 4 000 headers of 1 KB each on one request.
        "header-flood" => {
            let mut request = Request::get(url);
            let value = "v".repeat(1024);
            for i in 0..4_000 {
                request = request.header(&format!("x-flood-{i}"), &value);
            }
            request
                .send()
                .map(drop)
                .map_err(|e| Error::msg(e.to_string()))
        }
        // 10 000 requests, one after another; stops at the first refusal.
        "request-flood" => {
            for i in 0..10_000 {
                if let Err(e) = Request::get(url).send() {
                    return Err(Error::msg(format!("request {i}: {e}")));
                }
            }
            Ok(())
        }
        // A new JWKS URL for every verification: `?n=0`, `?n=1`, ...
        "jwks-churn" => {
            // A well-formed RS256 header naming a key; the signature never gets checked.
            let token = "eyJhbGciOiJSUzI1NiIsImtpZCI6ImsifQ.e30.c2ln";
            for i in 0..1_000 {
                let options = jwt::VerifyOptions {
                    jwks_url: format!("{url}?n={i}"),
                    issuer: None,
                    audience: None,
                    leeway_secs: 0,
                };
                match jwt::verify(token, &options) {
                    Err(jwt::JwtError::KeysUnavailable(why)) if why.contains("outbound") => {
                        return Err(Error::msg(format!("verification {i}: {why}")));
                    }
                    _ => {}
                }
            }
            Ok(())
        }
        // Not an attack: verifies `request.body.token` against the JWKS at `url` once, for the
        // tests of what `verify` may see (the allow-list before the cache).
        "verify" => {
            let token = body.get("token").and_then(|v| v.as_str()).unwrap_or("");
            let options = jwt::VerifyOptions {
                jwks_url: url.to_string(),
                issuer: None,
                audience: None,
                leeway_secs: 0,
            };
            jwt::verify(token, &options)
                .map(drop)
                .map_err(|e| Error::msg(format!("{e:?}")))
        }
        // `request.body.n` claims of 2–5 bytes each: the command-count cap at its boundary.
        "command-flood" => {
            let n = body.get("n").and_then(|v| v.as_u64()).unwrap_or(0);
            for i in 0..n {
                api::call("idToken.setCustomClaim", &format!("[\"c{i}\",1]"))
                    .map_err(|e| Error::msg(format!("call {i}: {e}")))?;
            }
            Ok(())
        }
        // One claim whose name is `request.body.len` bytes: the name cap at its boundary.
        "long-name" => {
            let len = body.get("len").and_then(|v| v.as_u64()).unwrap_or(0);
            let name = "n".repeat(usize::try_from(len).unwrap_or(0));
            api::call("idToken.setCustomClaim", &format!("[\"{name}\",1]"))
                .map(drop)
                .map_err(Error::msg)
        }
        // 16 claims of exactly 64 KiB of payload each (a string argument counts its bytes, the
        // name 3 and the value the rest), filling the 1 MiB payload budget to the byte, then
        // one more claim of 4 bytes (name `p16`, value `1`), which must be refused.
        "payload-fill" => {
            for i in 0..16 {
                let name = format!("p{i:02}");
                let value = "x".repeat(65_536 - name.len());
                api::call(
                    "idToken.setCustomClaim",
                    &format!("[\"{name}\",\"{value}\"]"),
                )
                .map_err(|e| Error::msg(format!("claim {i}: {e}")))?;
            }
            api::call("idToken.setCustomClaim", "[\"p16\",1]")
                .map(drop)
                .map_err(|e| Error::msg(format!("claim 16: {e}")))
        }
        other => Err(Error::msg(format!("unknown attack `{other}`"))),
    }
}

cachet_guest::post_login!(on_execute);
