//! Host memory stays bounded whatever an action does, measured where it matters: the peak
//! resident memory of a real `cachet run` process on each attack of the `abuse` test action
//! (an 8 MB claim JSON, an 8 MB token, an 8 MB request body, a header flood, 10 000 outbound
//! requests, JWKS URL churn) stays under 150 MB. Before the limits, the 8 MB claim alone
//! raised it from 25 MB to 180 MB. Each run's own peak is read from the kernel when it is
//! reaped (`wait4`), so other processes (the nested cargo that builds the action) do not count,
//! and after one unmeasured run, so compiling the component into a cold cache does not either.

#![allow(clippy::unwrap_used)] // a panic is how a test fails

use std::process::Command;

use cachet_dev_idp::{DevIdp, DevIdpConfig};

const LIMIT_KB: i64 = 150 * 1024;

/// What a finished `cachet run` left: exit code, stdout, stderr, and its peak resident set.
struct Measured {
    code: Option<i32>,
    stdout: Vec<u8>,
    stderr: String,
    peak_rss_kb: i64,
}

/// Runs `command` to the end and reaps it with `wait4`, which reports that child's own usage.
// The child is reaped by `wait4` below, not by `Child::wait`: clippy cannot see it.
#[allow(unsafe_code, clippy::zombie_processes)]
fn run_measured(mut command: Command) -> Measured {
    use std::io::Read;
    use std::os::unix::process::ExitStatusExt;
    let mut child = command
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let out = std::thread::spawn(move || {
        let mut buf = Vec::new();
        stdout.read_to_end(&mut buf).unwrap();
        buf
    });
    let err = std::thread::spawn(move || {
        let mut buf = String::new();
        stderr.read_to_string(&mut buf).unwrap();
        buf
    });
    let pid = libc::pid_t::try_from(child.id()).unwrap();
    let mut status = 0;
    // SAFETY: wait4 writes one status and one `rusage` into values we own, for a child of
    // ours that `Child` has not reaped (we never call its `wait`).
    let usage = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        assert_eq!(libc::wait4(pid, &mut status, 0, &mut usage), pid);
        usage
    };
    Measured {
        code: std::process::ExitStatus::from_raw(status).code(),
        stdout: out.join().unwrap(),
        stderr: err.join().unwrap(),
        peak_rss_kb: usage.ru_maxrss,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cachet_run_stays_under_150_mb_on_every_attack() {
    let root = cachet_build::workspace_root(env!("CARGO_MANIFEST_DIR"));
    let abuse = cachet_build::build(&root, &["abuse"]).remove(0);
    let idp = DevIdp::start(DevIdpConfig::default()).await.unwrap();
    let event_path = cachet_tests::scratch::Scratch::file("memory", "event.json");
    let attacks = [
        ("huge-claim", String::new()),
        ("huge-token", String::new()),
        (
            "body-flood",
            format!("http://{}/oauth/token", idp.host_port()),
        ),
        ("header-flood", format!("http://{}/stats", idp.host_port())),
        ("request-flood", format!("http://{}/stats", idp.host_port())),
        ("jwks-churn", idp.jwks_url()),
    ];
    // Compiling the component (once per content hash; later runs load it from the compiled
    // cache) costs what the component's size costs, whatever it does when it runs, and a cold
    // cache's first run pays it: one run first, unmeasured, so every measured run shows what
    // the attack itself makes the host hold.
    let mut warm = attacks
        .iter()
        .map(|(a, u)| (*a, u.clone()))
        .take(1)
        .collect::<Vec<_>>();
    warm.extend(attacks.iter().map(|(a, u)| (*a, u.clone())));
    for (n, (attack, url)) in warm.into_iter().enumerate() {
        let event = serde_json::json!({ "user": { "user_id": "auth0|1" },
            "request": { "body": { "attack": attack, "url": url } } });
        std::fs::write(&event_path, event.to_string()).unwrap();
        let mut command = Command::new(env!("CARGO_BIN_EXE_cachet"));
        command
            .args([
                "run",
                "--trigger",
                "post-login",
                "--allow-host",
                &idp.host_port(),
            ])
            .arg("--event")
            .arg(&event_path)
            .arg(&abuse);
        // The dev IdP runs on this test's tokio workers; the child is waited for off them.
        let out = tokio::task::spawn_blocking(move || run_measured(command))
            .await
            .unwrap();
        // The attack failed alone (exit 1: an action failed), with a result printed.
        assert_eq!(out.code, Some(1), "{attack}: {}", out.stderr);
        let result: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(result["outcome"], "failed", "{attack}");
        let peak = out.peak_rss_kb;
        if n == 0 {
            eprintln!(
                "{attack} (compiling the component first): peak RSS {} MiB",
                peak / 1024
            );
            continue;
        }
        assert!(
            peak < LIMIT_KB,
            "{attack}: peak RSS {peak} KiB (limit {LIMIT_KB} KiB)"
        );
        eprintln!("{attack}: peak RSS {} MiB", peak / 1024);
    }
    let _ = std::fs::remove_file(event_path);
}
