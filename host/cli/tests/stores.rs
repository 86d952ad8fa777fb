//! `cachet run --store URL` and `cachet cache show|clear|delete`: store URLs with their errors,
//! inspection that never prints a value, and two processes sharing one Redis.

#![allow(clippy::unwrap_used)] // a panic is how a test fails

use std::path::PathBuf;
use std::process::{Command, Output};

use cachet_tests::redis_server::RedisServer;
use cachet_tests::scratch::Scratch;
use serde_json::{Value, json};

const NOW: &str = "1700000000000";

fn root() -> PathBuf {
    cachet_build::workspace_root(env!("CARGO_MANIFEST_DIR"))
}

/// The `cache-ops` test action, built from source once per test binary.
fn cache_ops() -> String {
    static BUILT: std::sync::OnceLock<()> = std::sync::OnceLock::new();
    BUILT.get_or_init(|| {
        cachet_build::build(&root(), &["cache-ops"]);
    });
    cachet_build::component_path(&root(), "cache-ops")
        .display()
        .to_string()
}

/// The path `name` in a scratch directory of its own, removed when the test is done with it.
fn temp(name: &str) -> Scratch {
    Scratch::file("cli-stores", name)
}

fn cachet(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_cachet"))
        .args(args)
        .output()
        .unwrap()
}

/// `cachet run` of `cache-ops` with these ops, as `tenant`, on `store`.
fn run_ops(store: &str, tenant: &str, policy: &str, ops: Value, event_name: &str) -> Output {
    let event = temp(event_name);
    let body = json!({ "user": { "user_id": "auth0|1" }, "request": { "body": { "ops": ops } } });
    std::fs::write(&event, body.to_string()).unwrap();
    let out = cachet(&[
        "run",
        "--trigger",
        "post-login",
        "--event",
        &event.display().to_string(),
        "--store",
        store,
        "--tenant",
        tenant,
        "--policy",
        policy,
        "--now",
        NOW,
        // Generous: two processes and Redis share this loaded machine; the test is about
        // quotas and claims, not about timeouts.
        "--store-timeout-ms",
        "5000",
        &cache_ops(),
    ]);
    let _ = std::fs::remove_file(&event);
    out
}

fn stdout_json(out: &Output) -> Value {
    assert!(
        out.status.success(),
        "exit {:?}: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// The `results` claim of a `cache-ops` run.
fn results(out: &Output) -> Vec<Value> {
    let v = stdout_json(out);
    let claim = v["commands"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "results")
        .unwrap_or_else(|| panic!("no results claim in {v}"));
    claim["value"].as_array().unwrap().clone()
}

fn cache_cmd(verb: &str, store: &str, tenant: &str, extra: &[&str]) -> Output {
    let mut args = vec![
        "cache",
        verb,
        "--store",
        store,
        "--tenant",
        tenant,
        "--trigger",
        "post-login",
        "--now",
        NOW,
    ];
    args.extend_from_slice(extra);
    cachet(&args)
}

#[test]
fn cache_show_clear_and_delete_edit_one_partition_and_never_print_a_value() {
    let path = temp("inspect.json");
    let store = format!("file:{}", path.display());
    let secret = "eyJhbGciOiJSUzI1NiJ9.very-secret-token";
    let ops = json!([
        { "op": "set", "key": "token", "value": secret },
        { "op": "set", "key": "other", "value": "x" },
    ]);
    results(&run_ops(&store, "acme", "evict", ops, "inspect-event.json"));

    let show = cache_cmd("show", &store, "acme", &[]);
    let text = String::from_utf8_lossy(&show.stdout).into_owned();
    assert!(!text.contains("very-secret"), "{text}");
    let v = stdout_json(&show);
    assert_eq!(v["usage"]["entries"], 2);
    assert_eq!(v["usage"]["max_entries"], 20);
    assert_eq!(v["usage"]["max_bytes"], 8192);
    let entries = v["entries_lru_first"].as_array().unwrap();
    assert_eq!(entries[0]["key"], "token");
    assert_eq!(entries[0]["value"]["length"], secret.len());
    assert_eq!(entries[0]["bytes"], "token".len() + secret.len());
    assert_eq!(
        entries[0]["expires_in_ms"], 900_000u64,
        "the 15 min default lifetime"
    );
    assert_eq!(
        entries[0]["value"]["sha256_prefix"].as_str().unwrap().len(),
        8
    );
    // Another tenant's partition of the same store is empty.
    assert_eq!(
        stdout_json(&cache_cmd("show", &store, "other", &[]))["usage"]["entries"],
        0
    );

    let deleted = stdout_json(&cache_cmd("delete", &store, "acme", &["token"]));
    assert_eq!(deleted["deleted"], "token");
    let again = cache_cmd("delete", &store, "acme", &["token"]);
    assert_eq!(again.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&again.stderr).contains("CacheKeyDoesNotExist"));

    assert_eq!(
        stdout_json(&cache_cmd("clear", &store, "acme", &[]))["cleared"],
        1
    );
    assert_eq!(
        stdout_json(&cache_cmd("show", &store, "acme", &[]))["usage"]["entries"],
        0
    );
    std::fs::remove_file(&path).unwrap();
}

#[test]
fn a_malformed_or_unreachable_store_exits_2_naming_the_url_without_its_password() {
    for store in ["redis://cachet:hunter2@", "ftp://cachet:hunter2@host"] {
        let out = run_ops(store, "acme", "evict", json!([]), "bad-url.json");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{stderr}");
        assert!(stderr.contains("invalid store URL"), "{stderr}");
        assert!(stderr.contains("cachet:***@"), "{stderr}");
        assert!(!stderr.contains("hunter2"), "{stderr}");
        assert!(out.stdout.is_empty());
    }
    // A listener that never answers, held for the whole test (so no other test can take the
    // port): the connection opens, and Redis's handshake never gets a reply.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = silent.local_addr().unwrap().port();
    let store = format!("redis://cachet:hunter2@127.0.0.1:{port}");
    for out in [
        run_ops(&store, "acme", "evict", json!([]), "unreachable.json"),
        cache_cmd("show", &store, "acme", &[]),
    ] {
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{stderr}");
        assert!(
            stderr.contains(&format!(
                "cannot reach the Redis store at redis://cachet:***@127.0.0.1:{port}"
            )),
            "{stderr}"
        );
        assert!(!stderr.contains("hunter2"), "{stderr}");
    }
    drop(silent);
}

#[test]
fn two_processes_looping_on_one_redis_never_exceed_a_quota_and_lose_no_claim() {
    let server = RedisServer::start("two_processes_looping_on_one_redis");
    let store = server.url();
    const ROUNDS: usize = 10;
    // Each process, each round: a run filling tenant `fill` past its quota (evict), and a run
    // racing the other process for the round's claim in tenant `claims`.
    let loops: Vec<_> = (0..2)
        .map(|proc| {
            let store = store.clone();
            std::thread::spawn(move || {
                let mut won = Vec::new();
                for round in 0..ROUNDS {
                    let fill: Vec<Value> = (0..3)
                        .map(|i| json!({ "op": "set", "key": format!("p{proc}-r{round}-{i}"), "value": "f".repeat(1000) }))
                        .collect();
                    let out = run_ops(&store, "fill", "evict", json!(fill), &format!("fill-{proc}-{round}.json"));
                    let v = stdout_json(&out);
                    let (entries, bytes) = (v["cache"]["entries"].as_u64().unwrap(), v["cache"]["bytes"].as_u64().unwrap());
                    assert!(entries <= 20 && bytes <= 8192, "over quota: {entries} entries, {bytes} bytes");
                    let claim = json!([{ "op": "set", "key": format!("claim-{round}"), "value": format!("p{proc}"), "if_absent": true }]);
                    let r = results(&run_ops(&store, "claims", "strict", claim, &format!("claim-{proc}-{round}.json")));
                    match r[0].get("error").and_then(Value::as_str) {
                        None => won.push(round),
                        Some("CacheKeyExists") => {}
                        Some(other) => panic!("claim {round}: {other}"),
                    }
                }
                won
            })
        })
        .collect();
    let won: Vec<Vec<usize>> = loops.into_iter().map(|h| h.join().unwrap()).collect();
    for round in 0..ROUNDS {
        let winners = won.iter().filter(|w| w.contains(&round)).count();
        assert_eq!(winners, 1, "claim {round} had {winners} winners: {won:?}");
    }
    let fill = stdout_json(&cache_cmd("show", &store, "fill", &[]));
    let (entries, bytes) = (
        fill["usage"]["entries"].as_u64().unwrap(),
        fill["usage"]["bytes"].as_u64().unwrap(),
    );
    assert!(entries <= 20 && bytes <= 8192, "{fill}");
    // 60 writes of 1 000+ bytes went through a partition that holds 8 of them.
    assert_eq!(entries, 8, "{fill}");
    let claims = stdout_json(&cache_cmd("show", &store, "claims", &[]));
    assert_eq!(claims["usage"]["entries"], ROUNDS);
}
