//! The service in-process on a real socket (127.0.0.1:0): every endpoint and every error
//! status, metrics moving as executions run, reload with a good and a broken config, and
//! graceful shutdown with an execution in flight.

#![allow(clippy::unwrap_used)] // a panic is how a test fails

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use cachet_dev_idp::{DevIdp, DevIdpConfig, TokenMode};
use cachet_server::{Config, Server, ServerError};
use cachet_tests::guests;
use cachet_tests::http::{Reply, request};
use serde_json::{Value, json};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

const TOKEN: &str = "test-token-0123456789abcdef";

/// A running service with its config file in a directory of its own.
struct Running {
    addr: SocketAddr,
    server: Server,
    dir: PathBuf,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<Result<(), ServerError>>>,
}

fn env(name: &str) -> Option<String> {
    match name {
        "CACHET_TEST_TOKENS" => Some(TOKEN.to_owned()),
        "CACHET_TEST_SECRET" => Some("from-the-environment".to_owned()),
        _ => None,
    }
}

fn test_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("cachet-server-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// An `[[actions]]` entry.
fn action(tenant: &str, trigger: &str, name: &str, path: &str, extra: &str) -> String {
    format!(
        "[[actions]]\ntenant = \"{tenant}\"\ntrigger = \"{trigger}\"\nname = \"{name}\"\n\
         path = {path:?}\n{extra}\n"
    )
}

/// The head of every test config: auth on, loopback, an ephemeral port, `extra` top-level
/// settings. Tables (`[execution_limits]`, `[[actions]]`) may follow it.
fn head(extra: &str) -> String {
    format!("listen = \"127.0.0.1:0\"\n{extra}\n[auth]\ntokens_env = \"CACHET_TEST_TOKENS\"\n")
}

async fn start(name: &str, config: &str) -> Running {
    let dir = test_dir(name);
    let path = dir.join("cachet.toml");
    std::fs::write(&path, config).unwrap();
    let config = Config::load_with_env(&path, &env).unwrap();
    let listener = tokio::net::TcpListener::bind(config.listen).await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = Server::start_with_env(config, Arc::new(env)).await.unwrap();
    let (tx, rx) = oneshot::channel::<()>();
    let serving = server.clone();
    let task = tokio::spawn(async move {
        serving
            .serve(listener, async move {
                let _ = rx.await;
            })
            .await
    });
    Running {
        addr,
        server,
        dir,
        stop: Some(tx),
        task: Some(task),
    }
}

impl Running {
    async fn call(&self, method: &str, path: &str, body: Option<&str>) -> Reply {
        request(self.addr, method, path, Some(TOKEN), body)
            .await
            .unwrap()
    }

    async fn execute(&self, tenant: &str, event: &Value) -> Reply {
        let path = format!("/v1/tenants/{tenant}/triggers/post-login/execute");
        self.call("POST", &path, Some(&event.to_string())).await
    }

    async fn metrics(&self) -> String {
        let reply = self.call("GET", "/metrics", None).await;
        assert_eq!(reply.status, 200, "{}", reply.body);
        reply.body
    }

    /// Rewrites the config file (a reload reads it again).
    fn rewrite(&self, config: &str) {
        std::fs::write(self.dir.join("cachet.toml"), config).unwrap();
    }

    /// Starts shutdown and waits for `serve` to return.
    async fn shutdown(mut self) -> Result<(), ServerError> {
        let _ = self.stop.take().unwrap().send(());
        self.task.take().unwrap().await.unwrap()
    }

    /// Waits until `metric` (a full sample line prefix) reads `value`.
    async fn wait_for_metric(&self, sample: &str) {
        for _ in 0..2_000 {
            if self.server.metrics().encode().lines().any(|l| l == sample) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        panic!(
            "{sample} never appeared:\n{}",
            self.server.metrics().encode()
        );
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The value of the sample `line` in Prometheus text; a missing sample fails the test.
fn sample(metrics: &str, line: &str) -> f64 {
    metrics
        .lines()
        .find_map(|l| l.strip_prefix(line)?.trim().parse().ok())
        .unwrap_or_else(|| panic!("no sample `{line}` in:\n{metrics}"))
}

fn user(id: &str) -> Value {
    json!({ "user": { "user_id": id, "email": "ada@example.com" } })
}

fn cache_ops(ops: Value) -> Value {
    json!({ "user": { "user_id": "auth0|1" }, "request": { "body": { "ops": ops } } })
}

#[tokio::test]
async fn execute_returns_the_flow_result_as_cachet_run_prints_it() {
    let config = head("") + &action("acme", "post-login", "claims", guests::CLAIMS, "");
    let running = start("execute", &config).await;
    let reply = running.execute("acme", &user("auth0|42")).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let body = reply.json();
    assert_eq!(body["outcome"], "success");
    assert_eq!(body["actions"][0]["name"], "claims");
    assert!(!body["commands"].as_array().unwrap().is_empty(), "{body}");
    assert!(body["cache"]["entries"].is_number() && body["duration_us"].is_number());
    // Exactly the fields of `cachet run`'s output.
    let fields: Vec<_> = body.as_object().unwrap().keys().cloned().collect();
    assert_eq!(
        fields,
        ["actions", "cache", "commands", "duration_us", "outcome"]
    );
    running.shutdown().await.unwrap();
}

/// What the consent page of `consent-gate` sends back: its own HS256 token (secret `shared`)
/// naming the login's state, saying the user accepted.
fn page_answer(state: &str) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &json!({ "state": state, "exp": now + 300, "accepted": true }),
        &jsonwebtoken::EncodingKey::from_secret(b"shared"),
    )
    .unwrap()
}

#[tokio::test]
async fn a_redirect_answers_its_url_and_state_and_continue_runs_the_rest_of_the_flow_once() {
    let consent = action(
        "acme",
        "post-login",
        "consent",
        guests::CONSENT_GATE,
        "secrets = { CONSENT_SECRET = \"shared\" }",
    );
    let config = head("") + &consent + &action("acme", "post-login", "claims", guests::CLAIMS, "");
    let running = start("redirect", &config).await;
    let reply = running.execute("acme", &user("auth0|42")).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let body = reply.json();
    assert_eq!(body["outcome"], "redirect", "{body}");
    let url = body["redirect"]["url"].as_str().unwrap().to_owned();
    let state = body["redirect"]["state"].as_str().unwrap().to_owned();
    assert!(
        url.starts_with("https://consent.example.com/terms?session_token="),
        "{url}"
    );
    assert!(url.ends_with(&format!("&state={state}")), "{url}");
    assert_eq!(
        body["actions"].as_array().unwrap().len(),
        1,
        "paused after the redirect"
    );

    // The page answers with a token of its own: the user's answer, naming the state.
    let token = page_answer(&state);
    let path = "/v1/tenants/acme/triggers/post-login/continue";
    let request = json!({ "state": state, "query": { "session_token": token } });
    let done = running.call("POST", path, Some(&request.to_string())).await;
    assert_eq!(done.status, 200, "{}", done.body);
    let done = done.json();
    assert_eq!(done["outcome"], "success", "{done}");
    let names: Vec<_> = done["actions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["name"].clone())
        .collect();
    assert_eq!(names, [json!("consent"), json!("claims")]);
    assert!(done.get("redirect").is_none());

    // Used once: the same state again, an unknown one and a malformed request run nothing.
    let again = running.call("POST", path, Some(&request.to_string())).await;
    assert_eq!(again.status, 404, "{}", again.body);
    assert_eq!(again.json()["error"]["code"], "unknown_state");
    let unknown = json!({ "state": "made-up" }).to_string();
    let unknown = running.call("POST", path, Some(&unknown)).await;
    assert_eq!(unknown.json()["error"]["code"], "unknown_state");
    let bad = running.call("POST", path, Some(r#"{"query":{}}"#)).await;
    assert_eq!(bad.status, 400, "{}", bad.body);
    assert_eq!(bad.json()["error"]["code"], "continue_request_invalid");

    let metrics = running.metrics().await;
    let line = r#"cachet_executions_total{tenant="acme",trigger="post-login",outcome="redirect"}"#;
    assert_eq!(sample(&metrics, line), 1.0);
    assert_eq!(
        sample(
            &metrics,
            r#"cachet_continuations_total{outcome="continued"}"#
        ),
        1.0
    );
    assert_eq!(
        sample(
            &metrics,
            r#"cachet_continuations_total{outcome="unknown-state"}"#
        ),
        2.0
    );
    assert_eq!(
        sample(&metrics, r#"cachet_continuations_total{outcome="refused"}"#),
        1.0
    );
    running.shutdown().await.unwrap();
}

#[tokio::test]
async fn the_consoles_test_runner_shows_a_live_redirect_and_continues_it() {
    let consent = action(
        "acme",
        "post-login",
        "consent",
        guests::CONSENT_GATE,
        "secrets = { CONSENT_SECRET = \"shared\" }",
    );
    let running = start("console-redirect", &(head("") + &consent)).await;
    let path = "/v1/tenants/acme/triggers/post-login/test";
    let live = json!({ "event": user("auth0|9"), "dry_run": false }).to_string();
    let first = running.call("POST", path, Some(&live)).await;
    assert_eq!(first.status, 200, "{}", first.body);
    let redirect = first.json()["result"]["redirect"].clone();
    let token = page_answer(redirect["state"].as_str().unwrap());
    let resume = json!({
        "continue": { "state": redirect["state"], "query": { "session_token": token } },
        "dry_run": false,
    })
    .to_string();
    let done = running.call("POST", path, Some(&resume)).await;
    assert_eq!(done.status, 200, "{}", done.body);
    assert_eq!(done.json()["result"]["outcome"], "success", "{}", done.body);
    // Once only; and a dry run's redirect cannot be continued (its scratch cache is gone).
    let again = running.call("POST", path, Some(&resume)).await;
    assert_eq!(
        again.json()["error"]["code"],
        "unknown_state",
        "{}",
        again.body
    );
    let dry = json!({ "continue": { "state": "s" }, "dry_run": true }).to_string();
    let dry = running.call("POST", path, Some(&dry)).await;
    assert_eq!(
        dry.json()["error"]["code"],
        "continue_needs_live_run",
        "{}",
        dry.body
    );
    running.shutdown().await.unwrap();
}

#[tokio::test]
async fn every_endpoint_but_health_and_readiness_needs_a_valid_bearer_token() {
    let config = head("") + &action("acme", "post-login", "claims", guests::CLAIMS, "");
    let running = start("auth", &config).await;
    let partition = "/v1/tenants/acme/triggers/post-login";
    let guarded = [
        ("POST", format!("{partition}/execute")),
        ("POST", format!("{partition}/continue")),
        ("GET", format!("{partition}/cache")),
        ("DELETE", format!("{partition}/cache")),
        ("DELETE", format!("{partition}/cache/k")),
        ("GET", "/v1/flows".to_owned()),
        ("POST", "/v1/admin/reload".to_owned()),
        ("GET", "/metrics".to_owned()),
    ];
    for (method, path) in &guarded {
        for token in [None, Some("wrong-token-0123456789"), Some("")] {
            let reply = request(running.addr, method, path, token, Some("{}"))
                .await
                .unwrap();
            assert_eq!(reply.status, 401, "{method} {path} with {token:?}");
            assert_eq!(
                reply.header("www-authenticate"),
                Some("Bearer realm=\"cachet\"")
            );
            assert_eq!(reply.json()["error"]["code"], "unauthorized");
        }
    }
    for path in ["/healthz", "/readyz"] {
        let reply = request(running.addr, "GET", path, None, None)
            .await
            .unwrap();
        assert_eq!(reply.status, 200, "{path}: {}", reply.body);
    }
    let ready = request(running.addr, "GET", "/readyz", None, None)
        .await
        .unwrap()
        .json();
    assert_eq!(
        ready,
        json!({ "status": "ready", "flows": 1, "actions": 1 })
    );
    let flows = running.call("GET", "/v1/flows", None).await.json();
    assert_eq!(flows["flows"][0]["tenant"], "acme");
    assert_eq!(flows["flows"][0]["actions"][0]["name"], "claims");
    // Nothing ran for the refused requests.
    let metrics = running.metrics().await;
    assert_eq!(
        sample(
            &metrics,
            "cachet_rejected_requests_total{reason=\"unauthorized\"}"
        ),
        3.0
    );
    for outcome in ["success", "denied", "failed"] {
        let line = format!(
            "cachet_executions_total{{tenant=\"acme\",trigger=\"post-login\",outcome=\"{outcome}\"}}"
        );
        assert!(
            metrics.contains(&format!("{line} 0")),
            "{line} at 0:\n{metrics}"
        );
    }
    running.shutdown().await.unwrap();
}

#[tokio::test]
async fn bad_events_unknown_partitions_and_oversized_bodies_get_400_404_and_413() {
    let config = head("")
        + "[execution_limits]\nmax_event_bytes = 1024\n"
        + &action("acme", "post-login", "claims", guests::CLAIMS, "");
    let running = start("errors", &config).await;
    let execute = "/v1/tenants/acme/triggers/post-login/execute";

    let reply = running.call("POST", execute, Some("{\"user\": ")).await;
    assert_eq!(reply.status, 400);
    assert_eq!(reply.json()["error"]["code"], "event_not_json");
    assert!(
        reply.json()["error"]["message"]
            .as_str()
            .unwrap()
            .contains("EOF while parsing"),
        "the parser's message: {}",
        reply.body
    );
    let reply = running.call("POST", execute, Some("[1, 2]")).await;
    assert_eq!(
        (reply.status, reply.json()["error"]["code"].clone()),
        (400, json!("event_not_object"))
    );

    for path in [
        "/v1/tenants/globex/triggers/post-login/execute",
        "/v1/tenants/acme/triggers/credentials-exchange/execute",
        "/v1/tenants/acme/triggers/pre-login/execute",
        "/v1/tenants/acme/triggers/pre-login/cache",
        "/v1/nothing",
    ] {
        let method = if path.ends_with("cache") {
            "GET"
        } else {
            "POST"
        };
        let reply = running.call(method, path, Some("{}")).await;
        assert_eq!(reply.status, 404, "{path}: {}", reply.body);
        assert!(reply.json()["error"]["message"].is_string());
    }

    let big = json!({ "user": { "user_id": "u", "name": "x".repeat(2000) } }).to_string();
    let reply = running.call("POST", execute, Some(&big)).await;
    assert_eq!(reply.status, 413, "{}", reply.body);
    assert_eq!(reply.json()["error"]["code"], "event_too_large");

    let metrics = running.metrics().await;
    for (reason, n) in [("bad-request", 2.0), ("not-found", 3.0), ("too-large", 1.0)] {
        let line = format!("cachet_rejected_requests_total{{reason=\"{reason}\"}}");
        assert_eq!(sample(&metrics, &line), n, "{reason}:\n{metrics}");
    }
    running.shutdown().await.unwrap();
}

#[tokio::test]
async fn beyond_max_inflight_requests_get_503_with_retry_after_and_nothing_queues() {
    let idp = DevIdp::start(DevIdpConfig::default()).await.unwrap();
    idp.set_mode(TokenMode::Slow(Duration::from_millis(1500)));
    let config = head("max_inflight = 1\nretry_after_secs = 2") + &mgmt_token_action(&idp, "acme");
    let running = Arc::new(start("overload", &config).await);
    let first = {
        let running = running.clone();
        tokio::spawn(async move { running.execute("acme", &user("auth0|1")).await })
    };
    running
        .wait_for_metric("cachet_inflight_executions 1")
        .await;
    let reply = running.execute("acme", &user("auth0|2")).await;
    assert_eq!(reply.status, 503, "{}", reply.body);
    assert_eq!(reply.header("retry-after"), Some("2"));
    assert_eq!(reply.json()["error"]["code"], "overloaded");

    let first = first.await.unwrap();
    assert_eq!(first.status, 200, "{}", first.body);
    assert_eq!(first.json()["outcome"], "success", "{}", first.body);
    // The slot is free again.
    let again = running.execute("acme", &user("auth0|3")).await;
    assert_eq!(again.status, 200, "{}", again.body);
    let metrics = running.metrics().await;
    assert_eq!(
        sample(
            &metrics,
            "cachet_rejected_requests_total{reason=\"overloaded\"}"
        ),
        1.0
    );
    assert_eq!(sample(&metrics, "cachet_inflight_executions"), 0.0);
    let running = Arc::into_inner(running).unwrap();
    running.shutdown().await.unwrap();
}

fn mgmt_token_action(idp: &DevIdp, tenant: &str) -> String {
    let extra = format!(
        "allow_hosts = [\"{}\"]\nsecrets = {{ token_url = \"{}\", client_id = \"{}\", \
         client_secret = \"{}\", audience = \"{}\" }}",
        idp.host_port(),
        idp.token_url(),
        idp.client_id(),
        idp.client_secret(),
        idp.audience()
    );
    action(
        tenant,
        "post-login",
        "mgmt-token",
        guests::MGMT_TOKEN,
        &extra,
    )
}

#[tokio::test]
async fn the_cache_endpoints_show_redacted_entries_delete_one_and_purge() {
    let config = head("") + &action("acme", "post-login", "cache-ops", guests::CACHE_OPS, "");
    let running = start("cache", &config).await;
    let ops = json!([
        { "op": "set", "key": "a", "value": "secret-value-a" },
        { "op": "set", "key": "b", "value": "secret-value-b", "ttl": 60000 },
    ]);
    let reply = running.execute("acme", &cache_ops(ops)).await;
    assert_eq!(reply.json()["outcome"], "success", "{}", reply.body);

    let cache = "/v1/tenants/acme/triggers/post-login/cache";
    let shown = running.call("GET", cache, None).await;
    assert_eq!(shown.status, 200);
    assert!(
        !shown.body.contains("secret-value"),
        "values are redacted: {}",
        shown.body
    );
    let shown = shown.json();
    assert_eq!(shown["usage"]["entries"], 2);
    assert_eq!(shown["usage"]["max_entries"], 20);
    assert_eq!(shown["usage"]["max_bytes"], 8192);
    let keys: Vec<_> = shown["entries_lru_first"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["key"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(keys, ["a", "b"]);
    assert_eq!(shown["entries_lru_first"][0]["value"]["length"], 14);
    let left = shown["entries_lru_first"][1]["expires_in_ms"]
        .as_u64()
        .unwrap();
    assert!(left > 0 && left <= 60_000, "{left}");

    let deleted = running.call("DELETE", &format!("{cache}/a"), None).await;
    assert_eq!(deleted.status, 200, "{}", deleted.body);
    assert_eq!(deleted.json()["deleted"], "a");
    let again = running.call("DELETE", &format!("{cache}/a"), None).await;
    assert_eq!(again.status, 404);
    assert_eq!(again.json()["error"]["code"], "CacheKeyDoesNotExist");
    let long = "k".repeat(65);
    let too_long = running
        .call("DELETE", &format!("{cache}/{long}"), None)
        .await;
    assert_eq!(too_long.status, 404, "a key over the limit can never exist");

    let purged = running.call("DELETE", cache, None).await;
    assert_eq!(purged.status, 200);
    assert_eq!(purged.json()["cleared"], 1);
    let shown = running.call("GET", cache, None).await.json();
    assert_eq!(shown["usage"]["entries"], 0);
    let metrics = running.metrics().await;
    assert_eq!(
        sample(
            &metrics,
            "cachet_cache_entries{tenant=\"acme\",trigger=\"post-login\"}"
        ),
        0.0
    );
    running.shutdown().await.unwrap();
}

#[tokio::test]
async fn the_compiled_function_cache_stays_within_function_cache_mb_and_is_shown_on_metrics() {
    // Not the default size: this server's own cache, which only its own compilation filled.
    let ops = action("acme", "post-login", "cache-ops", guests::CACHE_OPS, "");
    // Two components whose functions take ~1.6 MB together: the oldest are let go.
    let both = ops.clone() + &action("globex", "post-login", "claims", guests::CLAIMS, "");
    let running = start("function-cache", &(head("function_cache_mb = 1") + &both)).await;
    let m = running.metrics().await;
    let entries = sample(&m, "cachet_function_cache_entries");
    let bytes = sample(&m, "cachet_function_cache_bytes");
    assert!(entries > 0.0 && bytes > 0.0, "{m}");
    assert!(bytes <= f64::from(1u32 << 20), "{m}");
    // Every function kept was first looked for and compiled, and some were let go.
    let misses = sample(&m, "cachet_function_cache_misses_total");
    assert!(
        misses > entries,
        "some were let go to stay within 1 MiB: {m}"
    );
    // Identical functions within a component are found again: a counter, whatever its value.
    assert!(
        m.contains("# TYPE cachet_function_cache_hits counter"),
        "{m}"
    );
    sample(&m, "cachet_function_cache_hits_total");
    running.shutdown().await.unwrap();

    // 0 keeps none: no series, and actions compile and run as before.
    let off = start(
        "function-cache-off",
        &(head("function_cache_mb = 0") + &ops),
    )
    .await;
    let m = off.metrics().await;
    assert!(!m.contains("function_cache"), "{m}");
    let reply = off
        .execute("acme", &cache_ops(json!([{ "op": "get", "key": "k" }])))
        .await;
    assert_eq!(reply.json()["outcome"], "success", "{}", reply.body);
    off.shutdown().await.unwrap();
}

#[tokio::test]
async fn metrics_move_as_executions_run() {
    let config = head("")
        + &action("acme", "post-login", "cache-ops", guests::CACHE_OPS, "")
        + &action("globex", "post-login", "panics", guests::PANICS, "");
    let running = start("metrics", &config).await;
    let before = running.metrics().await;
    assert!(before.contains("cachet_inflight_executions 0"), "{before}");
    assert_eq!(sample(&before, "cachet_store_errors_total"), 0.0);

    let ops = json!([
        { "op": "get", "key": "k" },
        { "op": "set", "key": "k", "value": "v" },
        { "op": "get", "key": "k" },
        { "op": "set", "key": "k".repeat(65), "value": "v" },
    ]);
    for _ in 0..3 {
        let reply = running.execute("acme", &cache_ops(ops.clone())).await;
        assert_eq!(reply.json()["outcome"], "success", "{}", reply.body);
    }
    let reply = running.execute("globex", &user("auth0|1")).await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.json()["outcome"], "failed");

    let m = running.metrics().await;
    let count = |line: &str| sample(&m, line);
    assert_eq!(
        count(
            "cachet_executions_total{tenant=\"acme\",trigger=\"post-login\",outcome=\"success\"}"
        ),
        3.0
    );
    assert_eq!(
        count(
            "cachet_executions_total{tenant=\"globex\",trigger=\"post-login\",outcome=\"failed\"}"
        ),
        1.0
    );
    assert_eq!(
        count("cachet_execution_duration_seconds_count{tenant=\"acme\",trigger=\"post-login\"}"),
        3.0
    );
    assert_eq!(
        count("cachet_action_failures_total{kind=\"trap\"}"),
        1.0,
        "{m}"
    );
    assert_eq!(
        count("cachet_cache_operations_total{op=\"get\",result=\"miss\"}"),
        1.0
    );
    assert_eq!(
        count("cachet_cache_operations_total{op=\"get\",result=\"hit\"}"),
        5.0
    );
    assert_eq!(
        count("cachet_cache_operations_total{op=\"set\",result=\"ok\"}"),
        3.0
    );
    assert_eq!(
        count("cachet_cache_operations_total{op=\"set\",result=\"CacheKeySizeExceeded\"}"),
        3.0
    );
    assert_eq!(
        count("cachet_cache_entries{tenant=\"acme\",trigger=\"post-login\"}"),
        1.0
    );
    assert_eq!(
        count("cachet_cache_bytes{tenant=\"acme\",trigger=\"post-login\"}"),
        2.0
    );
    assert!(m.ends_with("# EOF\n"));
    running.shutdown().await.unwrap();
}

#[tokio::test]
async fn egress_requests_are_counted_by_outcome() {
    let idp = DevIdp::start(DevIdpConfig::default()).await.unwrap();
    let config = head("") + &mgmt_token_action(&idp, "acme");
    let running = start("egress", &config).await;
    let reply = running.execute("acme", &user("auth0|1")).await;
    assert_eq!(reply.json()["outcome"], "success", "{}", reply.body);
    let m = running.metrics().await;
    // A token request and a management API call.
    assert_eq!(
        sample(&m, "cachet_egress_requests_total{outcome=\"completed\"}"),
        2.0,
        "{m}"
    );
    running.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_reload_swaps_the_flows_and_a_broken_config_keeps_the_old_ones() {
    let first = head("") + &action("acme", "post-login", "claims", guests::CLAIMS, "");
    let running = start("reload", &first).await;
    assert_eq!(running.execute("globex", &user("u")).await.status, 404);

    // A good config: a new tenant, and a secret from the environment.
    let second = first.clone()
        + &action(
            "globex",
            "post-login",
            "cache-ops",
            guests::CACHE_OPS,
            "secrets = { s = \"env:CACHET_TEST_SECRET\" }",
        );
    running.rewrite(&second);
    let config = Config::load_with_env(&running.dir.join("cachet.toml"), &env).unwrap();
    let report = running.server.reload_with(config).await.unwrap();
    assert_eq!((report.flows, report.actions), (2, 2));
    assert_eq!((report.compiled, report.reused), (1, 1), "claims is reused");
    let ops = cache_ops(json!([{ "op": "get", "key": "k" }]));
    let reply = running.execute("globex", &ops).await;
    assert_eq!(reply.status, 200, "{}", reply.body);

    // Broken configs: a syntax error, a missing action file, a restart-only change.
    let broken: [(String, &str); 3] = [
        (
            second.clone() + "this is not toml",
            &*format!("cachet.toml:{}:", second.lines().count() + 1),
        ),
        (
            second.clone() + &action("initech", "post-login", "x", "/nonexistent.wasm", ""),
            "/nonexistent.wasm",
        ),
        (
            second.replace("[auth]", "max_inflight = 3\n[auth]"),
            "max_inflight changed; that takes a restart",
        ),
    ];
    for (text, expected) in broken {
        running.rewrite(&text);
        let reply = running.call("POST", "/v1/admin/reload", None).await;
        assert_eq!(reply.status, 422, "{}", reply.body);
        let message = reply.json()["error"]["message"]
            .as_str()
            .unwrap()
            .to_owned();
        assert!(message.contains(expected), "{message}");
        assert_eq!(running.execute("globex", &ops).await.status, 200);
        assert_eq!(running.execute("acme", &user("u")).await.status, 200);
    }

    // Back to the first config through the HTTP endpoint: globex is gone.
    running.rewrite(&first);
    let reply = running.call("POST", "/v1/admin/reload", None).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.json()["reloaded"]["flows"], 1);
    assert_eq!(running.execute("globex", &ops).await.status, 404);
    let m = running.metrics().await;
    assert_eq!(sample(&m, "cachet_reloads_total{outcome=\"refused\"}"), 3.0);
    assert_eq!(sample(&m, "cachet_reloads_total{outcome=\"applied\"}"), 3.0);
    running.shutdown().await.unwrap();
}

/// A service with a snapshot-file store and `mgmt-token` against a dev IdP that answers after
/// a second, and one login to it in flight: the service, the login, the snapshot file, the
/// IdP (kept alive by the caller).
async fn slow_login_in_flight(
    name: &str,
) -> (Running, JoinHandle<std::io::Result<Reply>>, PathBuf, DevIdp) {
    let idp = DevIdp::start(DevIdpConfig::default()).await.unwrap();
    idp.set_mode(TokenMode::Slow(Duration::from_millis(1000)));
    let store = test_dir(&format!("{name}-store")).join("cache.json");
    let config =
        head(&format!("store = \"file:{}\"", store.display())) + &mgmt_token_action(&idp, "acme");
    let running = start(name, &config).await;
    let addr = running.addr;
    let login = tokio::spawn(async move {
        let event = user("auth0|1").to_string();
        let path = "/v1/tenants/acme/triggers/post-login/execute";
        request(addr, "POST", path, Some(TOKEN), Some(&event)).await
    });
    running
        .wait_for_metric("cachet_inflight_executions 1")
        .await;
    (running, login, store, idp)
}

#[tokio::test]
async fn shutdown_lets_an_execution_in_flight_finish_then_stops_accepting() {
    let (running, in_flight, store, _idp) = slow_login_in_flight("shutdown").await;
    let addr = running.addr;
    let server = running.server.clone();
    let stopped = running.shutdown().await;

    let reply = in_flight.await.unwrap().unwrap();
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.json()["outcome"], "success", "{}", reply.body);
    stopped.unwrap();
    assert!(
        request(addr, "GET", "/healthz", None, None).await.is_err(),
        "no longer accepting"
    );
    // The store was flushed: the token the execution cached is in the snapshot file.
    let saved = std::fs::read_to_string(&store).unwrap();
    assert!(saved.contains("\"acme\""), "{saved}");
    drop(server);
    let _ = std::fs::remove_dir_all(store.parent().unwrap());
}

#[tokio::test]
async fn a_streamed_body_over_the_limit_is_cut_off_with_413() {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let config = head("")
        + "[execution_limits]\nmax_event_bytes = 1024\n"
        + &action("acme", "post-login", "claims", guests::CLAIMS, "");
    let running = start("chunked", &config).await;
    // No Content-Length: the limit must hold while the body streams in.
    let mut stream = tokio::net::TcpStream::connect(running.addr).await.unwrap();
    let head = format!(
        "POST /v1/tenants/acme/triggers/post-login/execute HTTP/1.1\r\nHost: x\r\n\
         Authorization: Bearer {TOKEN}\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let chunk = format!("400\r\n{}\r\n", "x".repeat(0x400));
    for _ in 0..4 {
        if stream.write_all(chunk.as_bytes()).await.is_err() {
            break;
        }
    }
    let _ = stream.write_all(b"0\r\n\r\n").await;
    let mut reply = String::new();
    let _ = stream.read_to_string(&mut reply).await;
    assert!(reply.starts_with("HTTP/1.1 413"), "{reply}");
    assert!(reply.contains("event_too_large"), "{reply}");
    running.shutdown().await.unwrap();
}

#[tokio::test]
async fn shutdown_waits_for_an_execution_whose_caller_hung_up_before_saving_the_cache() {
    let (running, caller, store, _idp) = slow_login_in_flight("hangup").await;
    // The caller hangs up mid-execution; its connection closes at once.
    caller.abort();
    let _ = caller.await;
    let server = running.server.clone();
    running.shutdown().await.unwrap();
    // The execution ran to its end before the store was saved.
    let m = server.metrics().encode();
    assert_eq!(
        sample(
            &m,
            "cachet_executions_total{tenant=\"acme\",trigger=\"post-login\",outcome=\"success\"}"
        ),
        1.0
    );
    assert_eq!(sample(&m, "cachet_inflight_executions"), 0.0);
    let saved = std::fs::read_to_string(&store).unwrap();
    assert!(saved.contains("\"acme\""), "{saved}");
    let _ = std::fs::remove_dir_all(store.parent().unwrap());
}

#[tokio::test]
async fn readiness_fails_and_store_errors_are_counted_while_the_store_is_unreachable() {
    let mut redis = cachet_tests::redis_server::RedisServer::start("readiness");
    let config = head(&format!(
        "store = \"{}\"\nstore_timeout_ms = 500",
        redis.url()
    )) + &action("acme", "post-login", "claims", guests::CLAIMS, "");
    let running = start("readiness", &config).await;
    let ready = request(running.addr, "GET", "/readyz", None, None)
        .await
        .unwrap();
    assert_eq!(ready.status, 200, "{}", ready.body);
    redis.kill();
    let ready = request(running.addr, "GET", "/readyz", None, None)
        .await
        .unwrap();
    assert_eq!(ready.status, 503, "{}", ready.body);
    assert_eq!(ready.json()["error"]["code"], "store_unavailable");
    assert!(
        !ready.body.contains("127.0.0.1"),
        "no store address: {}",
        ready.body
    );
    let health = request(running.addr, "GET", "/healthz", None, None)
        .await
        .unwrap();
    assert_eq!(health.status, 200, "the process is still up");
    running.shutdown().await.unwrap();
}

#[tokio::test]
async fn an_action_configured_warm_reuses_its_instance_per_tenant() {
    let config = head("")
        + &action(
            "acme",
            "post-login",
            "counter",
            guests::COUNTER,
            "instance = \"warm\"",
        )
        + &action("globex", "post-login", "counter", guests::COUNTER, "");
    let running = start("warm", &config).await;
    let count = |reply: Reply| {
        let body = reply.json();
        assert_eq!(body["outcome"], "success", "{body}");
        body["commands"][0]["value"].as_u64().unwrap()
    };
    let mut acme = Vec::new();
    let mut globex = Vec::new();
    for _ in 0..3 {
        acme.push(count(running.execute("acme", &user("u")).await));
        globex.push(count(running.execute("globex", &user("u")).await));
    }
    assert_eq!(acme, [1, 2, 3], "warm: the instance's globals persist");
    assert_eq!(globex, [1, 1, 1], "fresh, the default");
    running.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_javascript_action_path_is_built_on_first_use_and_served_warm() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let target = root.join("target");
    // The test suite's JavaScript cache and compiled components: `tests/build.rs` has built
    // this action already, so the service finds it there.
    let config = head(&format!(
        "js_cache_dir = {:?}\ncompiled_cache_dir = {:?}\n",
        target.join("cachet-js"),
        target.join("cachet-compiled-tests")
    )) + &action(
        "acme",
        "post-login",
        "tour",
        &root.join("tests/js/api-tour.js").display().to_string(),
        "instance = \"warm\"",
    );
    let s = start("javascript", &config).await;
    let event = json!({
        "user": { "user_id": "auth0|5", "name": "Ada" },
        "tenant": { "id": "acme" },
        "request": { "ip": "203.0.113.7", "query": {} },
        "stats": { "logins_count": 1 }
    });
    for _ in 0..3 {
        let reply = s.execute("acme", &event).await;
        assert_eq!(reply.status, 200, "{}", reply.body);
        let body: Value = serde_json::from_str(&reply.body).unwrap();
        assert_eq!(body["outcome"], "success", "{body:#}");
        assert_eq!(body["commands"][0]["value"], "Ada", "{body:#}");
    }
    s.shutdown().await.unwrap();
}

#[tokio::test]
async fn the_console_overview_lists_flows_actions_usage_and_activity() {
    let config = head("") + &action("acme", "post-login", "claims", guests::CLAIMS, "");
    let s = start("console-overview", &config).await;
    let reply = s
        .execute("acme", &json!({ "user": { "user_id": "auth0|1" } }))
        .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let reply = s.call("GET", "/v1/console/overview", None).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let overview: Value = serde_json::from_str(&reply.body).unwrap();
    let partition = &overview["partitions"][0];
    assert_eq!(partition["tenant"], "acme");
    assert_eq!(partition["usage"]["entries"], 1);
    let claims = &partition["actions"][0];
    assert_eq!(claims["name"], "claims");
    assert_eq!(claims["language"], "wasm");
    assert_eq!(claims["instance"], "fresh");
    assert_eq!(claims["executions"], 1);
    assert_eq!(claims["failures"], 0);
    let recent = claims["recent"].as_array().unwrap();
    assert_eq!(recent.len(), 10, "ten minutes");
    assert_eq!(recent[9], json!([1, 0]), "this minute's execution");
    assert_eq!(overview["limits"]["max_entries"], 20);
    // The per-action counter behind it is on /metrics too.
    let metrics = s.metrics().await;
    assert!(
        metrics.contains(
            "cachet_action_executions_total{tenant=\"acme\",trigger=\"post-login\",action=\"claims\",outcome=\"success\"} 1"
        ),
        "{metrics}"
    );
    // The page itself needs no token and keeps to itself.
    let page = request(s.addr, "GET", "/ui", None, None).await.unwrap();
    assert_eq!(page.status, 200);
    assert!(page.body.contains("<title>Cachet console</title>"));
    s.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_console_dry_run_leaves_the_live_partition_alone_and_can_run_as_if_later() {
    let config = head("") + &action("acme", "post-login", "ops", guests::CACHE_OPS, "");
    let s = start("console-test", &config).await;
    let set = json!({ "request": { "body": { "ops": [
        { "op": "set", "key": "short", "value": "v", "ttl": 60_000 },
        { "op": "set", "key": "k".repeat(65), "value": "v" }
    ] } } });
    let path = "/v1/tenants/acme/triggers/post-login/test";
    let run = |body: Value| {
        let s = &s;
        async move {
            let reply = s.call("POST", path, Some(&body.to_string())).await;
            let json: Value = serde_json::from_str(&reply.body).unwrap_or(Value::Null);
            (reply.status, json)
        }
    };
    // A dry run: written in the scratch copy, refused codes reported, the live cache untouched.
    let (status, dry) = run(json!({ "event": set, "dry_run": true })).await;
    assert_eq!(status, 200, "{dry}");
    assert_eq!(dry["after"]["usage"]["entries"], 1);
    assert_eq!(
        dry["refused"],
        json!([{ "op": "set", "code": "CacheKeySizeExceeded", "count": 1 }])
    );
    let live = s
        .call("GET", "/v1/tenants/acme/triggers/post-login/cache", None)
        .await;
    assert!(live.body.contains("\"entries\":0"), "{}", live.body);

    // A live run writes the live cache.
    let (status, real) = run(json!({ "event": set })).await;
    assert_eq!(status, 200, "{real}");
    assert_eq!(real["before"]["usage"]["entries"], 0);
    assert_eq!(real["after"]["usage"]["entries"], 1);

    // As if 61 s later: the entry has expired in the scratch copy, and is still live.
    let get = json!({ "request": { "body": { "ops": [ { "op": "get", "key": "short" } ] } } });
    let (status, later) =
        run(json!({ "event": get, "dry_run": true, "clock_offset_secs": 61 })).await;
    assert_eq!(status, 200, "{later}");
    assert_eq!(later["before"]["usage"]["entries"], 0, "{later}");
    let (_, now) = run(json!({ "event": get, "dry_run": true })).await;
    assert_eq!(now["before"]["usage"]["entries"], 1, "{now}");

    // A clock offset on the live cache, and a malformed body, are refused with what to do.
    let (status, refused) = run(json!({ "event": get, "clock_offset_secs": 5 })).await;
    assert_eq!(status, 400);
    assert_eq!(refused["error"]["code"], "clock_offset_needs_dry_run");
    let (status, bad) = run(json!({ "evnt": {} })).await;
    assert_eq!(status, 400);
    assert!(
        bad["error"]["message"]
            .as_str()
            .unwrap()
            .contains("dry_run"),
        "{bad}"
    );
    s.shutdown().await.unwrap();
}

#[tokio::test]
async fn every_trigger_of_the_table_has_a_route_a_console_event_and_a_javascript_world() {
    let config = head("") + &action("acme", "post-login", "claims", guests::CLAIMS, "");
    let s = start("every-trigger", &config).await;
    let overview: Value =
        serde_json::from_str(&s.call("GET", "/v1/console/overview", None).await.body).unwrap();
    let listed = overview["triggers"].as_array().unwrap();
    assert_eq!(
        listed.len(),
        cachet_runtime::Trigger::ALL.len(),
        "{listed:?}"
    );
    for trigger in cachet_runtime::Trigger::ALL {
        let name = trigger.as_str();
        // A route: a tenant without a flow for it is `no_flow`, never `unknown_trigger`.
        let path = format!("/v1/tenants/nobody/triggers/{name}/execute");
        let reply = s.call("POST", &path, Some("{}")).await;
        assert_eq!(reply.status, 404, "{name}: {}", reply.body);
        assert!(reply.body.contains("no_flow"), "{name}: {}", reply.body);
        // The console's test runner has its default event.
        let entry = listed.iter().find(|t| t["name"] == name).unwrap();
        assert!(entry["default_event"].is_object(), "{name}: {entry}");
        // The JavaScript SDK builds actions for it.
        assert!(
            cachet_loader::ActionLoader::world(trigger).is_some(),
            "{name} has no JavaScript world"
        );
    }
    // A name that is no trigger's is refused with every trigger named.
    let reply = s
        .call(
            "POST",
            "/v1/tenants/acme/triggers/pre-login/execute",
            Some("{}"),
        )
        .await;
    assert_eq!(reply.status, 404);
    for trigger in cachet_runtime::Trigger::ALL {
        assert!(reply.body.contains(trigger.as_str()), "{}", reply.body);
    }
    s.shutdown().await.unwrap();
}
