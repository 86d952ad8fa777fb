//! Test action: tries every way out of the sandbox and reports, as the claim `escape`, what
//! each attempt got: reading a file, listing the root directory, reading the environment,
//! opening a TCP socket, resolving a name, and verifying a token against a JWKS host that is not
//! on its allow-list. Every one must be refused; the test checks the report.

use std::net::ToSocketAddrs;

use cachet_guest::jwt::{self, VerifyOptions};
use cachet_guest::{PostLoginApi, PostLoginEvent};
use serde_json::json;

fn outcome<T, E: std::fmt::Display>(r: Result<T, E>, got: impl FnOnce(T) -> String) -> String {
    match r {
        Ok(v) => got(v),
        Err(e) => format!("refused: {e}"),
    }
}

fn on_execute(_: &PostLoginEvent, api: &PostLoginApi) -> Result<(), cachet_guest::Error> {
    let file = outcome(std::fs::read_to_string("/etc/passwd"), |t| {
        format!("read {} bytes", t.len())
    });
    let dir = outcome(std::fs::read_dir("/"), |d| {
        format!("listed {} entries", d.count())
    });
    let env = outcome(std::env::var("HOME"), |v| format!("read {v}"));
    let env_count = std::env::vars().count();
    let socket = outcome(std::net::TcpStream::connect(("93.184.216.34", 80)), |_| {
        "connected".to_owned()
    });
    let dns = outcome(("example.com", 443).to_socket_addrs(), |a| {
        format!("resolved {} addresses", a.count())
    });
    let jwks = outcome(
        jwt::verify(
            "eyJhbGciOiJSUzI1NiJ9.e30.c2ln",
            &VerifyOptions {
                jwks_url: "https://attacker.example/.well-known/jwks.json".into(),
                issuer: None,
                audience: None,
                leeway_secs: 0,
            },
        ),
        |claims| format!("verified {claims}"),
    );
    api.id_token().set_custom_claim(
        "escape",
        &json!({
            "file": file,
            "dir": dir,
            "env": env,
            "env_count": env_count,
            "socket": socket,
            "dns": dns,
            "jwks": jwks,
        }),
    )?;
    Ok(())
}

cachet_guest::post_login!(on_execute);
