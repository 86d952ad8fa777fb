//! What the deployment tests share: replicas of the service in-process on real sockets,
//! configured with five tokens of different roles and tenants, and calls to upload, deploy,
//! bind and execute.

#![allow(clippy::unwrap_used)] // a panic is how a test fails
#![allow(dead_code)] // each test binary uses its own part

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use cachet_server::{Config, Server, ServerError};
use cachet_tests::http::{Reply, request, send};
use cachet_tests::scratch::Scratch;
use serde_json::{Value, json};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// Every role on every tenant.
pub const OPS: &str = "ops-token-0123456789abcdef";
/// `deploy` on acme.
pub const ACME_DEPLOY: &str = "acme-deploy-0123456789abcdef";
/// `read` on acme.
pub const ACME_READ: &str = "acme-read-0123456789abcdef";
/// `execute` on acme.
pub const ACME_EXECUTE: &str = "acme-execute-0123456789abcdef";
/// Every role on globex.
pub const GLOBEX_ADMIN: &str = "globex-admin-0123456789abcdef";

pub fn env(name: &str) -> Option<String> {
    Some(
        match name {
            "OPS" => OPS,
            "ACME_DEPLOY" => ACME_DEPLOY,
            "ACME_READ" => ACME_READ,
            "ACME_EXECUTE" => ACME_EXECUTE,
            "GLOBEX_ADMIN" => GLOBEX_ADMIN,
            "ACME_SECRET" => "acme-secret-value",
            _ => return None,
        }
        .to_owned(),
    )
}

/// A config with the five tokens, the given store, and `extra` appended (actions, tables).
pub fn config(store: &str, extra: &str) -> String {
    config_with(store, "", extra)
}

/// Replicas sharing one store share this directory of compiled components too, as the
/// README advises: a replica then loads a version another compiled from disk.
/// Returns the directory (removed when dropped: keep it for the test) and the config line.
pub fn shared_compiled_dir(test: &str) -> (Scratch, String) {
    let dir = Scratch::dir(&format!("deploy-{test}-compiled"));
    let line = format!("compiled_cache_dir = {:?}\n", dir.display().to_string());
    (dir, line)
}

/// [`config`] with `top` top-level settings.
pub fn config_with(store: &str, top: &str, extra: &str) -> String {
    let token = |name: &str, var: &str, roles: &str, tenants: &str| {
        format!(
            "[[auth.tokens]]\nname = \"{name}\"\nenv = \"{var}\"\nroles = {roles}\ntenants = {tenants}\n"
        )
    };
    format!(
        "listen = \"127.0.0.1:0\"\nstore = \"{store}\"\n{top}\n[deploy]\npoll_ms = 100\n\
         [deploy.tenants.acme]\nsecrets = {{ KEY = \"env:ACME_SECRET\" }}\n\n{}{}{}{}{}\n{extra}",
        token("ops", "OPS", "[\"admin\"]", "[\"*\"]"),
        token("acme-deploy", "ACME_DEPLOY", "[\"deploy\"]", "[\"acme\"]"),
        token("acme-read", "ACME_READ", "[\"read\"]", "[\"acme\"]"),
        token(
            "acme-execute",
            "ACME_EXECUTE",
            "[\"execute\"]",
            "[\"acme\"]"
        ),
        token(
            "globex-admin",
            "GLOBEX_ADMIN",
            "[\"admin\"]",
            "[\"globex\"]"
        ),
    )
}

pub struct Replica {
    pub addr: SocketAddr,
    dir: PathBuf,
    /// Leave the directory when dropped (a restart reads it again).
    pub keep_dir: bool,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<Result<(), ServerError>>>,
}

pub fn test_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("cachet-deploy-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

pub async fn start_in(dir: PathBuf, config: &str) -> Replica {
    let path = dir.join("cachet.toml");
    std::fs::write(&path, config).unwrap();
    let config = Config::load_with_env(&path, &env).unwrap();
    let listener = tokio::net::TcpListener::bind(config.listen).await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = Server::start_with_env(config, Arc::new(env)).await.unwrap();
    let (tx, rx) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        server
            .serve(listener, async move {
                let _ = rx.await;
            })
            .await
    });
    Replica {
        addr,
        dir,
        keep_dir: false,
        stop: Some(tx),
        task: Some(task),
    }
}

pub async fn start(name: &str, config: &str) -> Replica {
    start_in(test_dir(name), config).await
}

impl Replica {
    pub async fn call(&self, token: &str, method: &str, path: &str, body: Option<&Value>) -> Reply {
        let body = body.map(Value::to_string);
        request(self.addr, method, path, Some(token), body.as_deref())
            .await
            .unwrap()
    }

    /// Uploads `wasm` as `acme`'s `action` for `trigger` with `query` appended.
    pub async fn upload(&self, token: &str, action: &str, wasm: &str, query: &str) -> Reply {
        let bytes = std::fs::read(wasm).unwrap();
        let path = format!("/v1/tenants/acme/actions/{action}?trigger=post-login{query}");
        send(
            self.addr,
            "PUT",
            &path,
            Some(token),
            Some(("application/wasm", bytes)),
        )
        .await
        .unwrap()
    }

    /// Uploads, deploys and binds `acme`'s post-login `action`; returns the version.
    pub async fn ship(&self, action: &str, wasm: &str) -> String {
        let reply = self.upload(ACME_DEPLOY, action, wasm, "").await;
        assert!(matches!(reply.status, 200 | 201), "{}", reply.body);
        let version = reply.json()["version"]["version"]
            .as_str()
            .unwrap()
            .to_owned();
        self.deploy(action, &version).await;
        let bind = self
            .call(
                ACME_DEPLOY,
                "PUT",
                "/v1/tenants/acme/triggers/post-login/bindings",
                Some(&json!({ "actions": [action] })),
            )
            .await;
        assert_eq!(bind.status, 200, "{}", bind.body);
        version
    }

    pub async fn deploy(&self, action: &str, version: &str) -> Reply {
        let reply = self
            .call(
                ACME_DEPLOY,
                "POST",
                &format!("/v1/tenants/acme/actions/{action}/deploy"),
                Some(&json!({ "version": version })),
            )
            .await;
        assert_eq!(reply.status, 200, "{}", reply.body);
        reply
    }

    pub async fn execute(&self) -> Reply {
        self.call(
            OPS,
            "POST",
            "/v1/tenants/acme/triggers/post-login/execute",
            Some(&json!({ "user": { "user_id": "auth0|1" } })),
        )
        .await
    }

    /// Waits (at most 2 s) until an execution's commands name `claim`; fails the test
    /// otherwise with the last answer.
    pub async fn serves(&self, claim: &str) {
        let started = Instant::now();
        loop {
            let reply = self.execute().await;
            if reply.status == 200 && reply.body.contains(claim) {
                return;
            }
            assert!(
                started.elapsed() < Duration::from_secs(2),
                "no execution naming {claim} within 2 s: {} {}",
                reply.status,
                reply.body
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    pub async fn shutdown(mut self) {
        let _ = self.stop.take().unwrap().send(());
        self.task.take().unwrap().await.unwrap().unwrap();
    }
}

impl Drop for Replica {
    fn drop(&mut self) {
        if !self.keep_dir {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

/// A claim only `claims` sets, and one only `counter` sets.
pub const CLAIMS_CLAIM: &str = "entitlements";
pub const COUNTER_CLAIM: &str = "\"count\"";

impl Replica {
    pub async fn deploy_raw(&self, action: &str, version: &str) -> Reply {
        self.call(
            ACME_DEPLOY,
            "POST",
            &format!("/v1/tenants/acme/actions/{action}/deploy"),
            Some(&json!({ "version": version })),
        )
        .await
    }
}
