//! A throwaway `redis-server` for tests: started from `PATH` on a free loopback port with
//! persistence off, stopped when dropped.
//!
//! Where `redis-server` is not installed, [`RedisServer::start`] says so loudly on stderr and
//! returns `None`, so the test returns early, unless `CACHET_REQUIRE_REDIS=1` (CI sets it after
//! installing Debian's `redis-server`), which makes a missing server a failure. A skipped
//! Redis test never passes silently.

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
    /// Starts a server for the test `test`, or returns `None` after printing why the test is
    /// skipped. Panics instead when `CACHET_REQUIRE_REDIS=1`.
    pub fn start(test: &str) -> Option<Self> {
        if !installed() {
            let why = "redis-server is not on PATH (install it: `apt-get install redis-server`)";
            if std::env::var("CACHET_REQUIRE_REDIS").as_deref() == Ok("1") {
                panic!("{test}: {why}, and CACHET_REQUIRE_REDIS=1 requires the Redis tests");
            }
            eprintln!(
                "\n*** SKIPPED {test}: {why}. Set CACHET_REQUIRE_REDIS=1 to make this a failure. ***\n"
            );
            return None;
        }
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
                return Some(server);
            }
        }
        panic!("{test}: redis-server did not start on any of 5 free ports");
    }

    /// The server's URL, `redis://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.port
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

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
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
