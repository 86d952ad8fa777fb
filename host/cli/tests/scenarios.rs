//! `cachet test`: the example scenarios pass; a failing expectation is reported with its first
//! difference as a diff (exit 1); JUnit XML; `--filter`; `--update` rewriting expected
//! commands; and a scenario that cannot be used named by file, line and field (exit 1, with
//! the other scenarios still run).

#![allow(clippy::unwrap_used)] // a panic is how a test fails

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use cachet_tests::scratch::Scratch;

fn root() -> PathBuf {
    cachet_build::workspace_root(env!("CARGO_MANIFEST_DIR"))
}

fn cachet_test(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_cachet"))
        .arg("test")
        .args(args)
        .env("CACHET_CACHE_DIR", cachet_build::js_cache_dir(&root()))
        .output()
        .unwrap()
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A scratch directory for this test's files, removed when the test is done with it.
fn scratch(name: &str) -> Scratch {
    Scratch::dir(&format!("scenarios-{name}"))
}

fn component(name: &str) -> String {
    cachet_build::component_path(&root(), name)
        .display()
        .to_string()
}

/// A scenario running the cache-ops test action once on `ops`, expecting `commands`.
fn ops_scenario(dir: &Path, file: &str, name: &str, commands: &str) -> PathBuf {
    let text = format!(
        "name = {name:?}\ntrigger = \"post-login\"\nactions = [{:?}]\n\n[[steps]]\n\
         [steps.run]\nset = {{ \"request.body.ops\" = [{{ op = \"set\", key = \"a\", value = \"1\" }}] }}\n\
         [steps.expect]\noutcome = \"success\"\ncommands = {commands}\n",
        component("cache-ops")
    );
    let path = dir.join(file);
    std::fs::write(&path, text).unwrap();
    path
}

/// What cache-ops answers for that set: the record, expiring 15 min (the default lifetime)
/// after the scenario's start.
const RIGHT: &str = r#"[{ type = "set-id-token-claim", name = "results", value = [{ value = "1", expires_at = 1700000900000 }] }]"#;

#[test]
fn every_example_scenario_passes() {
    let out = cachet_test(&[&root().join("examples/scenarios").display().to_string()]);
    let report = stdout(&out);
    assert!(
        out.status.success(),
        "{report}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(report.contains("0 failed, 0 could not be read"), "{report}");
    for name in [
        "claims",
        "quota probe, strict",
        "quota probe, evict",
        "mgmt-token: token",
        "mgmt-token-js",
        "mgmt-token-kb-js",
        "m2m-claims",
    ] {
        assert!(
            report.contains(&format!("ok    {name}")),
            "{name} missing from:\n{report}"
        );
    }
}

#[test]
fn a_failing_expectation_shows_the_first_difference_as_a_diff_and_exits_1() {
    let dir = scratch("diff");
    let wrong = r#"[{ type = "set-id-token-claim", name = "results", value = [{ ok = false }] }]"#;
    ops_scenario(&dir, "wrong.toml", "wrong commands", wrong);
    let out = cachet_test(&[&dir.display().to_string()]);
    let report = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{report}");
    assert!(report.contains("FAIL  wrong commands"), "{report}");
    assert!(report.contains("step 1 (run): commands differ"), "{report}");
    assert!(
        report.contains("--- expected") && report.contains("+++ actual"),
        "{report}"
    );
    let line = |sign: &str, text: &str| {
        report
            .lines()
            .any(|l| l.trim_start().starts_with(sign) && l.contains(text))
    };
    assert!(line("- ", "\"ok\": false"), "{report}");
    assert!(line("+ ", "\"value\": \"1\""), "{report}");
}

#[test]
fn junit_output_has_one_case_per_scenario_and_a_failure_for_each_failing_one() {
    let dir = scratch("junit");
    ops_scenario(&dir, "good.toml", "good", RIGHT);
    ops_scenario(&dir, "bad.toml", "bad", "[]");
    let out = cachet_test(&["--format", "junit", &dir.display().to_string()]);
    let xml = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{xml}");
    assert!(xml.starts_with("<?xml"), "{xml}");
    assert!(xml.contains("tests=\"2\" failures=\"1\""), "{xml}");
    assert!(xml.contains("name=\"good\""), "{xml}");
    assert!(
        xml.contains("name=\"bad\"")
            && xml.contains("<failure message=\"step 1 (run): commands differ:\""),
        "{xml}"
    );
}

#[test]
fn filter_runs_only_the_scenarios_it_names() {
    let dir = scratch("filter");
    ops_scenario(&dir, "good.toml", "good", RIGHT);
    ops_scenario(&dir, "bad.toml", "bad", "[]");
    let out = cachet_test(&["--filter", "good", &dir.display().to_string()]);
    let report = stdout(&out);
    assert!(out.status.success(), "{report}");
    assert!(report.contains("1 scenario(s): 1 passed"), "{report}");
}

#[test]
fn update_rewrites_the_expected_commands_from_the_actual_ones_and_says_what_changed() {
    let dir = scratch("update");
    let path = ops_scenario(&dir, "stale.toml", "stale", "[]");
    std::fs::write(
        &path,
        format!(
            "# a comment that stays\n{}",
            std::fs::read_to_string(&path).unwrap()
        ),
    )
    .unwrap();
    let out = cachet_test(&["--update", &dir.display().to_string()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "this run still failed");
    assert!(
        stderr.contains("updated") && stderr.contains("+ "),
        "{stderr}"
    );
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.starts_with("# a comment that stays"), "{text}");
    assert!(text.contains("set-id-token-claim"), "{text}");
    let again = cachet_test(&[&dir.display().to_string()]);
    assert!(again.status.success(), "{}", stdout(&again));
}

#[test]
fn a_scenario_that_cannot_be_used_is_named_by_file_line_and_field_and_the_rest_still_run() {
    let dir = scratch("broken");
    ops_scenario(&dir, "good.toml", "good", RIGHT);
    std::fs::write(
        dir.join("typo.toml"),
        "trigger = \"post-login\"\nactions = []\n\n[[steps]]\nrun = {}\nexpcet = {}\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("missing.toml"),
        "trigger = \"post-login\"\nactions = [\"nowhere.wasm\"]\n[[steps]]\nrun = {}\n",
    )
    .unwrap();
    let out = cachet_test(&[&dir.display().to_string()]);
    let report = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{report}");
    assert!(
        report.contains("typo.toml:6: unknown field `expcet`"),
        "{report}"
    );
    assert!(
        report.contains("missing.toml:2: actions:")
            && report.contains("nowhere.wasm does not exist"),
        "{report}"
    );
    assert!(report.contains("ok    good"), "{report}");
}

#[test]
fn a_json_scenario_runs_like_a_toml_one_and_a_wrong_count_is_reported() {
    let dir = scratch("json");
    let scenario = serde_json::json!({
        "name": "json",
        "trigger": "post-login",
        "actions": [component("cache-ops")],
        "steps": [
            { "run": { "set": { "request.body.ops": [ { "op": "set", "key": "k".repeat(65), "value": "v" } ] } },
              "expect": { "outcome": "success", "codes": ["CacheKeySizeExceeded"], "cache": { "entries": 1 } } }
        ]
    });
    std::fs::write(dir.join("s.json"), scenario.to_string()).unwrap();
    let out = cachet_test(&[&dir.display().to_string()]);
    let report = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{report}");
    // The refused write is seen; the cache expectation (1 entry) is the first that fails.
    assert!(
        report.contains("cache entries: expected 1, got 0"),
        "{report}"
    );
}
