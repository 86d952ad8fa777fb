//! A throwaway `redis-server` for tests: started from `PATH` on a free loopback port with
//! persistence off, stopped when dropped.
//!
//! Where `redis-server` is not installed, [`RedisServer::start`] fails the test with a one-line
//! hint (`./test` installs it; or `apt-get install redis-server`): a test that could not run
//! its assertions must never be reported as passed, and cargo cannot mark a test ignored at
//! run time. Benches, which measure rather than assert, use [`RedisServer::try_start`] and
//! leave the Redis rows out.

// A panic is how a harness failure fails the test that uses it.
#![allow(clippy::unwrap_used)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running `redis-server` owned by one test.
#[derive(Debug)]
pub struct RedisServer {
    child: Option<Child>,
    port: u16,
    dir: PathBuf,
}

impl RedisServer {
    /// Starts a server for the test `test`; fails the test with the install hint when
    /// `redis-server` is not installed.
    pub fn start(test: &str) -> Self {
        require(test);
        let dir = std::env::temp_dir().join(format!(
            "cachet-redis-{}-{}",
            std::process::id(),
            test.replace(|c: char| !c.is_ascii_alphanumeric(), "-")
        ));
        std::fs::create_dir_all(&dir).unwrap();
        // A port can be taken between choosing it and the server binding it: try a few.
        for _ in 0..5 {
            let port = free_port();
            let mut server = Self {
                child: None,
                port,
                dir: dir.clone(),
            };
            if server.spawn() {
                return server;
            }
        }
        panic!("{test}: redis-server did not start on any of 5 free ports");
    }

    /// Starts a server for a bench, or returns `None` (saying so on stderr) when `redis-server`
    /// is not installed.
    pub fn try_start(bench: &str) -> Option<Self> {
        if installed() {
            Some(Self::start(bench))
        } else {
            eprintln!("{bench}: {MISSING}; the Redis figures are left out");
            None
        }
    }

    /// The server's URL, `redis://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The server's process id while it runs (for benches that read its CPU time).
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Kills the server (`SIGKILL`) and waits for it to exit: an outage.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the server again on the same port (after [`RedisServer::kill`]), empty.
    pub fn restart(&mut self) {
        self.kill();
        // The port was ours a moment ago; wait out a late TIME_WAIT or a slow exit.
        let deadline = Instant::now() + Duration::from_secs(10);
        while !self.spawn() {
            assert!(
                Instant::now() < deadline,
                "redis-server did not restart on port {}",
                self.port
            );
        }
    }

    /// Spawns the server and waits until it answers `PING`; false if it exited instead.
    fn spawn(&mut self) -> bool {
        let mut child = Command::new("redis-server")
            .args(["--bind", "127.0.0.1", "--port"])
            .arg(self.port.to_string())
            .args([
                "--save",
                "",
                "--appendonly",
                "no",
                "--protected-mode",
                "yes",
            ])
            .arg("--dir")
            .arg(&self.dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = child.try_wait() {
                return false; // exited: most likely the port was taken
            }
            if ping(self.port) {
                self.child = Some(child);
                return true;
            }
            // Waiting for another process to come up: there is nothing to drive by hand here.
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = child.kill();
        let _ = child.wait();
        false
    }
}

/// A throwaway three-node Redis Cluster (no replicas), made with `redis-cli --cluster create`:
/// the slots are spread over the three nodes, so partitions land on different nodes.
#[derive(Debug)]
pub struct RedisCluster {
    nodes: Vec<Child>,
    ports: Vec<u16>,
    dir: PathBuf,
}

impl RedisCluster {
    /// Starts the cluster for the test `test`; fails the test with the install hint when
    /// `redis-server` is not installed, like [`RedisServer::start`].
    pub fn start(test: &str) -> Self {
        require(test);
        let dir = std::env::temp_dir().join(format!(
            "cachet-redis-cluster-{}-{}",
            std::process::id(),
            test.replace(|c: char| !c.is_ascii_alphanumeric(), "-")
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let mut cluster = Self {
            nodes: Vec::new(),
            ports: Vec::new(),
            dir,
        };
        for _ in 0..3 {
            let port = free_port();
            let child = Command::new("redis-server")
                .args(["--bind", "127.0.0.1", "--port"])
                .arg(port.to_string())
                .args([
                    "--save",
                    "",
                    "--appendonly",
                    "no",
                    "--cluster-enabled",
                    "yes",
                ])
                .arg("--cluster-config-file")
                .arg(format!("nodes-{port}.conf"))
                .arg("--dir")
                .arg(&cluster.dir)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap();
            cluster.nodes.push(child);
            cluster.ports.push(port);
        }
        let deadline = Instant::now() + Duration::from_secs(20);
        while !cluster.ports.iter().all(|p| ping(*p)) {
            assert!(
                Instant::now() < deadline,
                "{test}: cluster nodes did not start"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        let nodes: Vec<String> = cluster
            .ports
            .iter()
            .map(|p| format!("127.0.0.1:{p}"))
            .collect();
        let created = Command::new("redis-cli")
            .args(["--cluster", "create"])
            .args(&nodes)
            .args(["--cluster-replicas", "0", "--cluster-yes"])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .output()
            .unwrap_or_else(|e| panic!("{test}: redis-cli (from redis-tools) is needed: {e}"));
        assert!(
            created.status.success(),
            "{test}: redis-cli --cluster create failed: {}",
            String::from_utf8_lossy(&created.stderr)
        );
        // Every node must agree the cluster is up before clients use it.
        while !cluster.ports.iter().all(|p| cluster_ok(*p)) {
            assert!(
                Instant::now() < deadline,
                "{test}: the cluster never reached state ok"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        cluster
    }

    /// A `redis-cluster://` URL through the first node.
    pub fn url(&self) -> String {
        format!("redis-cluster://127.0.0.1:{}", self.ports[0])
    }

    /// The nodes' ports.
    pub fn ports(&self) -> &[u16] {
        &self.ports
    }
}

impl Drop for RedisCluster {
    fn drop(&mut self) {
        for child in &mut self.nodes {
            let _ = child.kill();
            let _ = child.wait();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Whether the node on `port` reports `cluster_state:ok`.
fn cluster_ok(port: u16) -> bool {
    Command::new("redis-cli")
        .args(["-p", &port.to_string(), "cluster", "info"])
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains("cluster_state:ok"))
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// What is missing, and the one line that installs it.
const MISSING: &str = "redis-server is not installed: run `./test` (it installs what the tests \
                       need), or `apt-get install redis-server`";

/// Fails `test` with [`MISSING`] unless `redis-server` is installed.
fn require(test: &str) {
    assert!(installed(), "{test}: {MISSING}");
}

fn installed() -> bool {
    Command::new("redis-server")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn ping(port: u16) -> bool {
    let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(1)));
    let mut reply = [0u8; 7];
    s.write_all(b"PING\r\n").is_ok() && s.read_exact(&mut reply).is_ok() && &reply == b"+PONG\r\n"
}
