//! `cachet serve` as a process: the example config starts, SIGHUP reloads, SIGTERM drains and
//! exits 0, a bad config exits 2 naming the file and line, and two replicas on one Redis
//! share one Management-API token among 200 concurrent logins.

#![allow(clippy::unwrap_used)] // a panic is how a test fails

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use cachet_dev_idp::{DevIdp, DevIdpConfig};
use cachet_tests::http::request;
use cachet_tests::redis_server::RedisServer;
use cachet_tests::scratch::Scratch;
use serde_json::{Value, json};

const TOKEN: &str = "serve-test-token-0123456789";

fn root() -> PathBuf {
    cachet_build::workspace_root(env!("CARGO_MANIFEST_DIR"))
}

/// The `mgmt-token` example, built from source once per test binary.
fn mgmt_token() -> PathBuf {
    static BUILT: std::sync::OnceLock<()> = std::sync::OnceLock::new();
    BUILT.get_or_init(|| {
        cachet_build::build(&root(), &["mgmt-token"]);
    });
    cachet_build::component_path(&root(), "mgmt-token")
}

/// A scratch directory for the test `name`, removed when the test is done with it.
fn temp_dir(name: &str) -> Scratch {
    Scratch::dir(&format!("cli-serve-{name}"))
}

/// A `cachet serve` process, its log lines (JSON) forwarded to a channel.
struct Serve {
    child: Child,
    lines: mpsc::Receiver<Value>,
    /// Every line read so far, as text.
    seen: std::cell::RefCell<Vec<String>>,
}

impl Serve {
    fn spawn(config: &Path) -> Self {
        Self::spawn_with(config, &[])
    }

    /// Starts `cachet serve --config config` with the API token and `env` in its environment.
    fn spawn_with(config: &Path, env: &[(&str, &str)]) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_cachet"))
            .args(["serve", "--log-format", "json", "--config"])
            .arg(config)
            .env("CACHET_TEST_API_TOKENS", TOKEN)
            .envs(env.iter().copied())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = child.stderr.take().unwrap();
        let (tx, lines) = mpsc::channel();
        // Drains the pipe for the process's whole life, so it never blocks on logging.
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let value = serde_json::from_str(&line).unwrap_or(json!({ "raw": line }));
                if tx.send(value).is_err() {
                    break;
                }
            }
        });
        Self {
            child,
            lines,
            seen: std::cell::RefCell::default(),
        }
    }

    /// Waits for a log line whose message is `message`, returning it.
    fn wait_for(&self, message: &str) -> Value {
        loop {
            let line = self
                .lines
                .recv_timeout(Duration::from_secs(120))
                .unwrap_or_else(|_| panic!("no `{message}` log line"));
            self.seen.borrow_mut().push(line.to_string());
            if line["fields"]["message"] == message {
                return line;
            }
            assert!(
                line["level"] != "ERROR" && line.get("raw").is_none(),
                "while waiting for `{message}`: {line}"
            );
        }
    }

    /// Waits until the service is ready; its address.
    fn ready(&self) -> SocketAddr {
        let line = self.wait_for("cachet serve is ready");
        line["fields"]["listen"].as_str().unwrap().parse().unwrap()
    }

    fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .args([&format!("-{name}"), &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    }

    /// SIGTERM, then the exit status and every log line of the process.
    fn stop(mut self) -> (std::process::ExitStatus, Vec<String>) {
        self.signal("TERM");
        let status = self.child.wait().unwrap();
        // The reader thread ends when the pipe closes, which ends this iteration.
        let (_, empty) = mpsc::channel();
        let lines = std::mem::replace(&mut self.lines, empty);
        let mut all = self.seen.take();
        all.extend(lines.iter().map(|l| l.to_string()));
        (status, all)
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn mgmt_token_action(idp: &DevIdp, tenant: &str) -> String {
    format!(
        "[[actions]]\ntenant = \"{tenant}\"\ntrigger = \"post-login\"\nname = \"mgmt-token\"\n\
         path = {:?}\nallow_hosts = [\"{}\"]\nsecrets = {{ token_url = \"{}\", client_id = \
         \"{}\", client_secret = \"env:CACHET_TEST_CLIENT_SECRET\", audience = \"{}\" }}\n",
        mgmt_token().display().to_string(),
        idp.host_port(),
        idp.token_url(),
        idp.client_id(),
        idp.audience()
    )
}

#[test]
fn the_printed_example_config_starts_and_sigterm_exits_0() {
    let out = Command::new(env!("CARGO_BIN_EXE_cachet"))
        .args(["serve", "--print-example-config"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let example = String::from_utf8(out.stdout).unwrap();
    assert!(example.contains("listen = \"127.0.0.1:8787\""));
    // Only the port changes, so parallel test runs cannot collide on it.
    let config = example.replace("127.0.0.1:8787", "127.0.0.1:0");
    let dir = temp_dir("example");
    std::fs::write(dir.join("cachet.toml"), config).unwrap();
    let serve = Serve::spawn(&dir.join("cachet.toml"));
    serve.ready();
    let (status, _) = serve.stop();
    assert!(status.success(), "{status:?}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_bad_config_exits_2_naming_the_file_and_line() {
    let dir = temp_dir("bad");
    let path = dir.join("cachet.toml");
    std::fs::write(&path, "listen = \"127.0.0.1:0\"\n\nmax_inflite = 3\n").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_cachet"))
        .args(["serve", "--config"])
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!("{}:3:1", path.display())) && stderr.contains("max_inflight"),
        "{stderr}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_reloads_the_config_file() {
    let idp = DevIdp::start(DevIdpConfig::default()).await.unwrap();
    let dir = temp_dir("sighup");
    let path = dir.join("cachet.toml");
    let head = "listen = \"127.0.0.1:0\"\n[auth]\ntokens_env = \"CACHET_TEST_API_TOKENS\"\n";
    std::fs::write(&path, format!("{head}{}", mgmt_token_action(&idp, "acme"))).unwrap();
    let serve = Serve::spawn_with(&path, &[("CACHET_TEST_CLIENT_SECRET", idp.client_secret())]);
    let addr = serve.ready();
    let execute = |tenant: &'static str| async move {
        let path = format!("/v1/tenants/{tenant}/triggers/post-login/execute");
        let event = json!({ "user": { "user_id": "auth0|1" } }).to_string();
        request(addr, "POST", &path, Some(TOKEN), Some(&event))
            .await
            .unwrap()
    };
    assert_eq!(execute("globex").await.status, 404);

    let both = format!(
        "{head}{}{}",
        mgmt_token_action(&idp, "acme"),
        mgmt_token_action(&idp, "globex")
    );
    std::fs::write(&path, both).unwrap();
    serve.signal("HUP");
    let reloaded = serve.wait_for("reloaded");
    assert_eq!(reloaded["fields"]["flows"], 2, "{reloaded}");
    let reply = execute("globex").await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.json()["outcome"], "success", "{}", reply.body);

    // A broken file is refused and logged; the flows stay.
    std::fs::write(&path, "listen = [").unwrap();
    serve.signal("HUP");
    let refused = serve.wait_for("reload refused; the current flows stay");
    assert!(
        refused["fields"]["error"]
            .as_str()
            .unwrap()
            .contains("cachet.toml:1:"),
        "{refused}"
    );
    assert_eq!(execute("globex").await.status, 200);

    let (status, _) = serve.stop();
    assert!(status.success(), "{status:?}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_serve_processes_on_one_redis_fetch_one_token_for_200_concurrent_logins() {
    let redis = RedisServer::start("cli-serve-two");
    let idp = DevIdp::start(DevIdpConfig::default()).await.unwrap();
    let dir = temp_dir("two");
    let path = dir.join("cachet.toml");
    // A generous store timeout: two services, Redis and 200 clients share this machine; the
    // test is about sharing, not timeouts.
    let config = format!(
        "listen = \"127.0.0.1:0\"\nstore = \"{}\"\nstore_timeout_ms = 5000\n\
         compiled_cache_dir = \"compiled\"\n[auth]\ntokens_env = \"CACHET_TEST_API_TOKENS\"\n{}",
        redis.url(),
        mgmt_token_action(&idp, "acme")
    );
    std::fs::write(&path, config).unwrap();
    let spawn = || {
        let serve = Serve::spawn_with(&path, &[("CACHET_TEST_CLIENT_SECRET", idp.client_secret())]);
        let addr = serve.ready();
        (serve, addr)
    };
    let (first, a) = spawn();
    let (second, b) = spawn();

    let mut logins = Vec::new();
    for i in 0..200 {
        let addr = if i % 2 == 0 { a } else { b };
        logins.push(tokio::spawn(async move {
            let event = json!({ "user": { "user_id": format!("auth0|user-{i}") } }).to_string();
            let path = "/v1/tenants/acme/triggers/post-login/execute";
            request(addr, "POST", path, Some(TOKEN), Some(&event)).await
        }));
    }
    for login in logins {
        let reply = login.await.unwrap().unwrap();
        assert_eq!(reply.status, 200, "{}", reply.body);
        assert_eq!(reply.json()["outcome"], "success", "{}", reply.body);
    }
    let stats = idp.stats();
    assert_eq!(stats.token_requests, 1, "{stats:?}");
    assert_eq!(stats.management_requests, 200, "{stats:?}");

    for serve in [first, second] {
        let (status, lines) = serve.stop();
        assert!(status.success(), "{status:?}");
        assert!(
            lines.iter().any(|l| l.contains("shutting down")),
            "{lines:?}"
        );
        // Logs carry no API token, secret, token, user or event.
        for line in &lines {
            for secret in [TOKEN, idp.client_secret(), "auth0|user-", "eyJ"] {
                assert!(!line.contains(secret), "`{secret}` in the log: {line}");
            }
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cachet_deploy_builds_a_javascript_action_uploads_deploys_and_binds_it() {
    const DEPLOY_TOKEN: &str = "deploy-test-token-0123456789";
    let dir = temp_dir("deploy");
    let path = dir.join("cachet.toml");
    let config = "listen = \"127.0.0.1:0\"\n[auth]\ntokens_env = \"CACHET_TEST_API_TOKENS\"\n\
                  [[auth.tokens]]\nname = \"acme-ci\"\nenv = \"CACHET_TEST_DEPLOY\"\n\
                  roles = [\"deploy\", \"read\"]\ntenants = [\"acme\"]\n";
    std::fs::write(&path, config).unwrap();
    let serve = Serve::spawn_with(&path, &[("CACHET_TEST_DEPLOY", DEPLOY_TOKEN)]);
    let addr = serve.ready();
    let out = tokio::task::spawn_blocking(move || deploy_claims(addr, "acme", DEPLOY_TOKEN))
        .await
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("deployed version") && stderr.contains("post-login now runs claims"),
        "{stderr}"
    );
    let printed: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(printed["action"], "claims");

    let event = json!({ "user": { "user_id": "auth0|1" } }).to_string();
    let path = "/v1/tenants/acme/triggers/post-login/execute";
    let reply = request(addr, "POST", path, Some(TOKEN), Some(&event))
        .await
        .unwrap();
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert!(
        reply.body.contains("https://cachet.example/entitlements"),
        "{}",
        reply.body
    );

    // The same token on another tenant: refused, and the command says so (exit 2).
    let out = tokio::task::spawn_blocking(move || deploy_claims(addr, "globex", DEPLOY_TOKEN))
        .await
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("403") && stderr.contains("globex"),
        "{stderr}"
    );
    let (status, lines) = serve.stop();
    assert!(status.success(), "{status:?}");
    assert!(
        lines
            .iter()
            .any(|l| l.contains("action deployed") && l.contains("acme-ci")),
        "the deploy is logged with the token's name"
    );
    assert!(
        !lines.iter().any(|l| l.contains(DEPLOY_TOKEN)),
        "never the token itself"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// `cachet deploy tests/js/claims.js --name claims --bind` to `addr` for `tenant` with `token`.
fn deploy_claims(addr: SocketAddr, tenant: &str, token: &str) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_cachet"))
        .arg("deploy")
        .arg(root().join("tests/js/claims.js"))
        .args(["--server", &format!("http://{addr}"), "--tenant", tenant])
        .args(["--trigger", "post-login", "--name", "claims", "--bind"])
        .env("CACHET_TOKEN", token)
        .env("CACHET_CACHE_DIR", cachet_build::js_cache_dir(&root()))
        .output()
        .unwrap()
}
