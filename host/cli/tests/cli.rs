//! The `cachet run` contract: the JSON it prints, `--cache-state` carrying a partition across
//! runs, and its exit codes (0 success or denied, 1 an action failed, 2 bad usage or input).
//! The actions are the ones `build.rs` builds from source for the demo.

#![allow(clippy::unwrap_used)] // a panic is how a test fails

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use cachet_tests::scratch::Scratch;
use serde_json::Value;

fn root() -> PathBuf {
    cachet_build::workspace_root(env!("CARGO_MANIFEST_DIR"))
}

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_cachet"))
        .args(args)
        .output()
        .unwrap()
}

/// `cachet run --trigger post-login --event examples/events/post-login.json ARGS...`
fn run_post_login(args: &[&str]) -> Output {
    let event = event();
    let mut all = vec!["run", "--trigger", "post-login", "--event", event.as_str()];
    all.extend_from_slice(args);
    run(&all)
}

fn json(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}): {}",
            String::from_utf8_lossy(&out.stdout)
        )
    })
}

fn event() -> String {
    root()
        .join("examples/events/post-login.json")
        .display()
        .to_string()
}

fn action(name: &str) -> String {
    cachet_build::component_path(&root(), name)
        .display()
        .to_string()
}

/// The path `name` in a scratch directory of its own, removed when the test is done with it.
fn temp(name: &str) -> Scratch {
    Scratch::file("cli", name)
}

#[test]
fn run_prints_one_json_object_with_outcome_commands_actions_and_cache() {
    let out = run_post_login(&[
        "--now",
        "1700000000000",
        "--policy",
        "strict",
        &action("quota-probe"),
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v = json(&out);
    assert_eq!(v["outcome"], "success");
    assert_eq!(v["commands"][0]["type"], "set-id-token-claim");
    assert_eq!(
        v["commands"][0]["value"]["codes"]["fill"],
        "CacheSizeExceeded"
    );
    let a = &v["actions"][0];
    assert_eq!(
        (a["name"].as_str(), a["outcome"].as_str()),
        (Some("quota_probe"), Some("success"))
    );
    assert!(a["duration_us"].is_u64() && a["logs"].is_string() && a.get("error").is_none());
    assert_eq!(
        (v["cache"]["entries"].as_u64(), v["cache"]["bytes"].as_u64()),
        (Some(18), Some(8157))
    );
}

#[test]
fn cache_state_is_loaded_before_the_run_and_saved_after_it() {
    let state = temp("state.json");
    // A partition another login left behind: 16 entries of 508 bytes (8128 of 8192 bytes).
    let entries: Vec<Value> = (0..16)
        .map(|i| serde_json::json!({ "key": format!("other:{i:02}"), "value": "o".repeat(500), "expires_at": 1_800_000_000_000u64 }))
        .collect();
    let file = serde_json::json!({
        "version": 2,
        "saved_at_ms": 0,
        "partitions": [{ "tenant": "default", "trigger": "post-login", "entries": entries }],
    });
    std::fs::write(&state, file.to_string()).unwrap();

    let out = run_post_login(&[
        "--now",
        "1700000000000",
        "--policy",
        "strict",
        "--cache-state",
        &state.display().to_string(),
        &action("quota-probe"),
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Loaded: the probe's very first 508-byte write no longer fits.
    assert_eq!(
        json(&out)["commands"][0]["value"]["written_before_overflow"],
        0
    );

    // Saved: the old entries plus what the probe could still write, with the run's time.
    let saved: Value = serde_json::from_str(&std::fs::read_to_string(&state).unwrap()).unwrap();
    assert_eq!(saved["version"], 2);
    assert_eq!(saved["saved_at_ms"], 1_700_000_000_000u64);
    let keys: Vec<&str> = saved["partitions"][0]["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["key"].as_str().unwrap())
        .collect();
    assert!(
        keys.contains(&"other:00") && keys.contains(&"other:15"),
        "{keys:?}"
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&state).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "the state file may hold tokens");
    }

    // A state file of another schema is not misread: it is moved aside, kept byte for byte,
    // and the run starts with an empty cache.
    let future = r#"{"version": 99, "saved_at_ms": 0, "partitions": []}"#;
    std::fs::write(&state, future).unwrap();
    let out = run_post_login(&[
        "--now",
        "1700000000000",
        "--policy",
        "strict",
        "--cache-state",
        &state.display().to_string(),
        &action("quota-probe"),
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains("schema version 99") && stderr.contains("moved it"),
        "{stderr}"
    );
    let aside = PathBuf::from(format!("{}.corrupt-1700000000", state.display()));
    assert_eq!(std::fs::read_to_string(&aside).unwrap(), future);
    assert_eq!(
        json(&out)["commands"][0]["value"]["written_before_overflow"],
        16,
        "the run started empty"
    );
    std::fs::remove_file(&state).unwrap();
    std::fs::remove_file(&aside).unwrap();
}

#[test]
fn a_failed_action_exits_1_and_still_prints_the_result() {
    // mgmt-token without its secrets fails inside the action.
    let out = run_post_login(&[&action("mgmt-token")]);
    assert_eq!(out.status.code(), Some(1));
    let v = json(&out);
    assert_eq!(v["outcome"], "failed");
    assert_eq!(v["actions"][0]["error"]["kind"], "action-error");
    assert!(
        v["actions"][0]["error"]["message"]
            .as_str()
            .unwrap()
            .contains("secret `token_url`")
    );
}

#[test]
fn bad_input_exits_2_with_a_message_and_no_json() {
    let not_wasm = temp("not.wasm");
    std::fs::write(&not_wasm, "hello").unwrap();
    let out = run_post_login(&[&not_wasm.display().to_string()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("is not a WebAssembly file"));
    assert!(out.stdout.is_empty());

    let wrong_trigger = run(&[
        "run",
        "--trigger",
        "credentials-exchange",
        "--event",
        &event(),
        &action("quota-probe"),
    ]);
    assert_eq!(wrong_trigger.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&wrong_trigger.stderr).contains("is a post-login action"));

    let missing_event = run(&[
        "run",
        "--trigger",
        "post-login",
        "--event",
        "/nonexistent.json",
        &action("quota-probe"),
    ]);
    assert_eq!(missing_event.status.code(), Some(2));

    let usage = run(&["run", &action("quota-probe")]);
    assert_eq!(
        usage.status.code(),
        Some(2),
        "clap reports missing --trigger"
    );
    std::fs::remove_file(&not_wasm).unwrap();
}

/// Test actions the CLI's own build does not embed, built from source once per test binary.
fn test_action(name: &str) -> String {
    static BUILT: std::sync::OnceLock<()> = std::sync::OnceLock::new();
    BUILT.get_or_init(|| {
        cachet_build::build(&root(), &["cache-ops"]);
    });
    action(name)
}

/// An event file `name` in `dir` whose `request.body.ops` the `cache-ops` action runs.
fn ops_event(dir: &Path, name: &str, ops: serde_json::Value) -> PathBuf {
    let path = dir.join(name);
    let event = serde_json::json!({ "user": { "user_id": "auth0|1" }, "request": { "body": { "ops": ops } } });
    std::fs::write(&path, event.to_string()).unwrap();
    path
}

/// `cachet run` of the `cache-ops` action setting `key`, with `--cache-state state` (its
/// event file written beside `state`).
fn set_key_with_state(key: &str, state: &Path) -> Command {
    let event = ops_event(
        state.parent().unwrap(),
        &format!("set-{key}.json"),
        serde_json::json!([{ "op": "set", "key": key, "value": "v" }]),
    );
    let mut command = Command::new(env!("CARGO_BIN_EXE_cachet"));
    command
        .args(["run", "--trigger", "post-login", "--event"])
        .arg(&event)
        .arg("--cache-state")
        .arg(state)
        .arg(test_action("cache-ops"));
    command
}

#[test]
fn concurrent_runs_on_one_state_file_lose_no_write() {
    let state = temp("concurrent-state.json");
    let runs: Vec<_> = (0..10)
        .map(|i| {
            set_key_with_state(&format!("k{i}"), &state)
                .spawn()
                .unwrap()
        })
        .collect();
    for mut child in runs {
        assert!(child.wait().unwrap().success());
    }
    let saved: Value = serde_json::from_str(&std::fs::read_to_string(&state).unwrap()).unwrap();
    let mut keys: Vec<&str> = saved["partitions"][0]["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["key"].as_str().unwrap())
        .collect();
    keys.sort_unstable();
    let expected: Vec<String> = (0..10).map(|i| format!("k{i}")).collect();
    assert_eq!(
        keys,
        expected.iter().map(String::as_str).collect::<Vec<_>>()
    );
}

#[test]
fn a_failed_save_exits_1_with_the_result_printed_and_the_file_named() {
    // A 240-byte file name: loading finds no file and the lock file fits, but the save's
    // temporary file (the name plus a random suffix) is longer than a file name may be, so
    // the save fails, whoever runs the test (root ignores permissions, not name lengths).
    let scratch = temp("unsavable-state");
    let long = format!(
        "{}{}",
        scratch.file_name().unwrap().to_string_lossy(),
        "x".repeat(240)
    );
    let state = scratch.with_file_name(&long[..240]);
    let out = set_key_with_state("unsavable", &state).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert_eq!(json(&out)["outcome"], "success");
    assert!(
        stderr.contains("was not saved") && stderr.contains("unsavable-state"),
        "{stderr}"
    );
    assert!(!state.exists());
}

/// A post-login action by name, built from source once per test binary (the CLI's own build
/// embeds only the demo's actions).
fn built(name: &str) -> String {
    static BUILT: std::sync::OnceLock<()> = std::sync::OnceLock::new();
    BUILT.get_or_init(|| {
        cachet_build::build(&root(), &["claims", "api-tour"]);
    });
    action(name)
}

fn event_file(name: &str, event: &Value) -> Scratch {
    let path = temp(name);
    std::fs::write(&path, event.to_string()).unwrap();
    path
}

fn stdout_of(out: &Output) -> Value {
    assert!(
        out.status.success(),
        "exit {:?}: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
    json(out)
}

#[test]
fn a_second_run_on_the_same_state_file_is_served_from_the_cache_per_tenant_and_time() {
    let state = temp("second-run.json");
    let state_arg = state.display().to_string();
    let claims = built("claims");
    let run_as = |tenant: &str, now: &str| {
        stdout_of(&run_post_login(&[
            "--cache-state",
            &state_arg,
            "--tenant",
            tenant,
            "--now",
            now,
            &claims,
        ]))["actions"][0]["cache_writes"]
            .as_u64()
            .unwrap()
    };
    assert_eq!(
        run_as("acme", "1700000000000"),
        1,
        "the first login computes and caches"
    );
    assert_eq!(
        run_as("acme", "1700000001000"),
        0,
        "the second is served from the file"
    );
    // Another tenant has a partition of its own in the same file.
    assert_eq!(run_as("globex", "1700000001000"), 1);
    let saved: Value = serde_json::from_str(&std::fs::read_to_string(&state).unwrap()).unwrap();
    let tenants: Vec<&str> = saved["partitions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["tenant"].as_str().unwrap())
        .collect();
    assert_eq!(tenants, ["acme", "globex"]);
    // --now past the entry's ten-minute lifetime: computed again.
    assert_eq!(run_as("acme", "1700000700000"), 1);
    std::fs::remove_file(&state).unwrap();
}

#[test]
fn a_denied_login_exits_0_and_secrets_reach_the_action_by_name() {
    let secrets = temp("secrets.json");
    std::fs::write(&secrets, r#"{"API_KEY": "k-123", "OTHER": "o"}"#).unwrap();
    let event = event_file(
        "deny-event.json",
        &serde_json::json!({ "user": { "user_id": "auth0|1" }, "request": { "query": { "deny": true } } }),
    );
    let out = run(&[
        "run",
        "--trigger",
        "post-login",
        "--event",
        &event.display().to_string(),
        "--secrets",
        &secrets.display().to_string(),
        &built("api-tour"),
    ]);
    let v = stdout_of(&out);
    assert_eq!(v["outcome"], "denied");
    let names = v["commands"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "https://tour/secret-names")
        .unwrap()["value"]
        .clone();
    assert_eq!(names, serde_json::json!(["API_KEY", "OTHER"]));
    assert!(!String::from_utf8_lossy(&out.stdout).contains("k-123"));
    std::fs::remove_file(&secrets).unwrap();
}

#[test]
fn allow_host_is_what_lets_an_action_reach_a_host() {
    // A token endpoint that accepts connections and never answers, held for the whole test.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let host = silent.local_addr().unwrap().to_string();
    let secrets = temp("allow-secrets.json");
    let s = serde_json::json!({
        "token_url": format!("http://{host}/oauth/token"),
        "client_id": "c", "client_secret": "s",
        "audience": format!("http://{host}/api/v2/"),
        "token_timeout_ms": "300",
    });
    std::fs::write(&secrets, s.to_string()).unwrap();
    let secrets_arg = secrets.display().to_string();
    let mgmt = action("mgmt-token");
    let message = |extra: &[&str]| {
        let mut args = vec!["--secrets", secrets_arg.as_str()];
        args.extend_from_slice(extra);
        args.push(&mgmt);
        let out = run_post_login(&args);
        assert_eq!(out.status.code(), Some(1));
        json(&out)["actions"][0]["error"]["message"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let without = message(&[]);
    assert!(without.contains("allow-list"), "{without}");
    let with = message(&["--allow-host", &host]);
    assert!(!with.contains("allow-list"), "{with}");
    assert!(with.contains("token endpoint"), "{with}");
    drop(silent);
    std::fs::remove_file(&secrets).unwrap();
}

#[test]
fn the_demo_reports_the_token_requests_of_every_phase_and_the_quota_codes() {
    let out = run(&["demo", "--json", "--logins", "40", "--burst", "10"]);
    let v = stdout_of(&out);
    let phases = v["phases"].as_array().unwrap();
    let counts: Vec<(&str, u64)> = phases
        .iter()
        .map(|p| {
            (
                p["name"].as_str().unwrap(),
                p["token_requests"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        counts,
        [
            ("first-login", 1),
            ("reuse", 1),
            ("expiry", 2),
            ("revocation", 3),
            ("quota", 3)
        ]
    );
    assert_eq!(phases[1]["logins"], 40);
    assert_eq!(phases[3]["detail"]["management_401s"], 1);
    let strict = &phases[4]["detail"]["strict"]["report"];
    assert_eq!(strict["written_before_overflow"], 16);
    assert_eq!(strict["codes"]["fill"], "CacheSizeExceeded");
    assert_eq!(strict["codes"]["budget"], "MaxSideEffectsExceeded");
    let evict = &phases[4]["detail"]["evict"]["report"];
    assert_eq!(evict["first_key_evicted"], true);
    assert_eq!(evict["written_before_overflow"], 40);
}

#[test]
fn every_trigger_of_the_table_is_a_value_of_every_trigger_option_and_others_are_refused() {
    for command in [&["run"][..], &["build"], &["cache", "show"]] {
        let help = run(&[command, &["--help"]].concat());
        let text = String::from_utf8_lossy(&help.stdout);
        for trigger in cachet_runtime::Trigger::ALL {
            assert!(text.contains(trigger.as_str()), "{command:?}: {text}");
        }
    }
    let out = run(&[
        "run",
        "--trigger",
        "pre-login",
        "--event",
        "e.json",
        "a.wasm",
    ]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    for trigger in cachet_runtime::Trigger::ALL {
        assert!(err.contains(trigger.as_str()), "{err}");
    }
}
