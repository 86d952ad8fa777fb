//! The web console in a real browser: headless Chromium driven over WebDriver (`chromedriver`)
//! against the service on 127.0.0.1. Logs in with the token, reads the overview, runs a test
//! that hits `CacheKeySizeExceeded`, and purges a partition; screenshots go to
//! `target/console-screenshots/` as test artifacts.
//!
//! Needs Debian's `chromium` and `chromium-driver`. Like the Redis tests, a missing browser
//! fails the test with the one line that installs it (`./test` does): a test that could not
//! run its assertions is never reported as passed.

#![allow(clippy::unwrap_used)] // a panic is how a test fails

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use cachet_server::{Config, Server};
use cachet_tests::guests;
use cachet_tests::http::request;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};

const TOKEN: &str = "console-test-token-0123456789";

fn env(name: &str) -> Option<String> {
    (name == "CACHET_CONSOLE_TOKENS").then(|| TOKEN.to_owned())
}

fn find_program(names: &[&str]) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .flat_map(|dir| names.iter().map(move |n| dir.join(n)))
        .find(|p| p.is_file())
}

/// `chromedriver` and the browser, or why the test cannot run.
fn browser() -> Result<(PathBuf, PathBuf), String> {
    let driver = find_program(&["chromedriver"]).ok_or("chromedriver is not on PATH")?;
    let chromium = find_program(&["chromium", "chromium-browser", "google-chrome"])
        .ok_or("chromium is not on PATH")?;
    Ok((driver, chromium))
}

struct Driver(Child);

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Starts `chromedriver`; it and the browser keep their temporary files in `tmp` (which the
/// test removes), not in `/tmp`.
async fn start_driver(driver: &Path, tmp: &Path) -> (Driver, String) {
    let port = free_port();
    let child = Command::new(driver)
        .arg(format!("--port={port}"))
        .env("TMPDIR", tmp)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let guard = Driver(child);
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    for _ in 0..200 {
        if let Ok(reply) = request(addr, "GET", "/status", None, None).await
            && reply.status == 200
        {
            return (guard, format!("http://{addr}"));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("chromedriver did not answer on {addr}");
}

async fn connect(webdriver: &str, chromium: &Path) -> Client {
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        json!({
            "binary": chromium,
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1280,1000"],
        }),
    );
    let connector = hyper_util::client::legacy::connect::HttpConnector::new();
    ClientBuilder::new(connector)
        .capabilities(caps)
        .connect(webdriver)
        .await
        .unwrap()
}

/// The service with one flow (`claims` then `cache-ops`) on tenant `acme`.
async fn start_service(dir: &Path) -> (Server, SocketAddr, tokio::sync::oneshot::Sender<()>) {
    let config = format!(
        "listen = \"127.0.0.1:0\"\n[auth]\ntokens_env = \"CACHET_CONSOLE_TOKENS\"\n\
         [[actions]]\ntenant = \"acme\"\ntrigger = \"post-login\"\nname = \"claims\"\npath = {:?}\n\
         [[actions]]\ntenant = \"acme\"\ntrigger = \"post-login\"\nname = \"cache-ops\"\npath = {:?}\n",
        guests::CLAIMS,
        guests::CACHE_OPS
    );
    let path = dir.join("cachet.toml");
    std::fs::write(&path, config).unwrap();
    let config = Config::load_with_env(&path, &env).unwrap();
    let listener = tokio::net::TcpListener::bind(config.listen).await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = Server::start_with_env(config, Arc::new(env)).await.unwrap();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let serving = server.clone();
    tokio::spawn(async move {
        serving
            .serve(listener, async move {
                let _ = rx.await;
            })
            .await
    });
    (server, addr, tx)
}

fn screenshots() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/console-screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

async fn wait_for(client: &Client, css: &str) -> fantoccini::elements::Element {
    client
        .wait()
        .at_most(Duration::from_secs(20))
        .for_element(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("{css} never appeared: {e}"))
}

/// Clicks the element `css` names, finding it again if the page re-rendered it in between
/// (a stale element), for up to 20 s.
async fn click(client: &Client, css: &str) {
    let mut last = None;
    for _ in 0..400 {
        match client.find(Locator::Css(css)).await {
            Ok(element) => match element.click().await {
                Ok(()) => return,
                Err(e) => last = Some(e.to_string()),
            },
            Err(e) => last = Some(e.to_string()),
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("could not click {css}: {last:?}");
}

/// Waits until the element's text contains `needle`, and returns the text.
async fn wait_for_text(client: &Client, css: &str, needle: &str) -> String {
    let mut last = String::new();
    for _ in 0..400 {
        if let Ok(element) = client.find(Locator::Css(css)).await
            && let Ok(text) = element.text().await
        {
            if text.contains(needle) {
                return text;
            }
            last = text;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{css} never contained {needle:?}; last text: {last:?}");
}

async fn partition_entries(addr: SocketAddr) -> usize {
    let reply = request(
        addr,
        "GET",
        "/v1/tenants/acme/triggers/post-login/cache",
        Some(TOKEN),
        None,
    )
    .await
    .unwrap();
    let report: Value = serde_json::from_str(&reply.body).unwrap();
    report["usage"]["entries"].as_u64().unwrap() as usize
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_logs_in_shows_the_overview_runs_a_test_and_purges_a_partition() {
    let (driver_bin, chromium) = browser().unwrap_or_else(|why| {
        panic!(
            "{why}: run `./test` (it installs what the tests need), or \
             `apt-get install chromium chromium-driver`"
        )
    });
    let dir = cachet_tests::scratch::Scratch::dir("console");
    let (_server, addr, stop) = start_service(&dir).await;
    // One real login, so the partition holds the claims action's entry.
    let login = json!({ "user": { "user_id": "auth0|7", "app_metadata": { "plan": "pro" } } });
    let reply = request(
        addr,
        "POST",
        "/v1/tenants/acme/triggers/post-login/execute",
        Some(TOKEN),
        Some(&login.to_string()),
    )
    .await
    .unwrap();
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(partition_entries(addr).await, 1);

    let (_driver, webdriver) = start_driver(&driver_bin, &dir).await;
    let client = connect(&webdriver, &chromium).await;
    let shots = screenshots();
    let base = format!("http://{addr}");

    // Log in: the page asks for the token.
    client.goto(&format!("{base}/ui")).await.unwrap();
    let token = wait_for(&client, "#token").await;
    token.send_keys(TOKEN).await.unwrap();
    click(&client, "#login-button").await;

    // The overview: the flow, its actions, the quota meters.
    let card = wait_for(
        &client,
        "article.partition[data-partition='acme / post-login']",
    )
    .await;
    let text = card.text().await.unwrap();
    for expected in ["claims", "cache-ops", "wasm", "fresh", "1 / 20", "Entries"] {
        assert!(
            text.contains(expected),
            "{expected:?} not in the overview: {text}"
        );
    }
    let meters = client
        .find_all(Locator::Css("article.partition meter"))
        .await
        .unwrap();
    assert_eq!(meters.len(), 2, "entries and bytes");
    assert_eq!(meters[0].attr("value").await.unwrap().as_deref(), Some("1"));
    std::fs::write(
        shots.join("overview.png"),
        client.screenshot().await.unwrap(),
    )
    .unwrap();

    // The test runner: a write whose key is 65 bytes, refused with Auth0's code.
    click(&client, "#tab-test").await;
    let event = json!({
        "user": { "user_id": "auth0|7", "app_metadata": { "plan": "pro" } },
        "request": { "body": { "ops": [ { "op": "set", "key": "k".repeat(65), "value": "v" } ] } }
    });
    client
        .execute(
            "document.getElementById('test-event').value = arguments[0];",
            vec![json!(serde_json::to_string_pretty(&event).unwrap())],
        )
        .await
        .unwrap();
    click(&client, "#test-run").await;
    let refused = wait_for_text(&client, "#test-refused", "CacheKeySizeExceeded").await;
    assert!(refused.contains("set CacheKeySizeExceeded"), "{refused}");
    let outcome = wait_for_text(&client, "#test-outcome", "success").await;
    assert_eq!(outcome, "success");
    let logs = client
        .find_all(Locator::Css("#test-actions .action-result"))
        .await
        .unwrap();
    assert_eq!(logs.len(), 2, "each action's result is shown");
    client
        .execute(
            "document.getElementById('test-result').scrollIntoView();",
            vec![],
        )
        .await
        .unwrap();
    std::fs::write(
        shots.join("test-run.png"),
        client.screenshot().await.unwrap(),
    )
    .unwrap();
    // A dry run: the live partition still holds exactly the one entry.
    assert_eq!(partition_entries(addr).await, 1);

    // The partition view, then a purge with its confirmation.
    click(&client, "#tab-overview").await;
    click(&client, "button.open-partition").await;
    let rows = wait_for_text(&client, "#entries tbody", "claims:auth0|7").await;
    assert!(rows.contains("sha256"), "values are redacted: {rows}");
    std::fs::write(
        shots.join("partition.png"),
        client.screenshot().await.unwrap(),
    )
    .unwrap();
    click(&client, "#purge").await;
    wait_for_text(&client, "#confirm-text", "Purge every entry").await;
    click(&client, "#confirm-yes").await;
    wait_for_text(&client, "#entries tbody", "No live entries").await;
    assert_eq!(partition_entries(addr).await, 0, "purged in the store");

    client.close().await.unwrap();
    let _ = stop.send(());
}
