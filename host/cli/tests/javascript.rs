//! `cachet build` and `.js` actions in `cachet run`: a JavaScript action written as for Auth0
//! becomes a component, and every way a build can fail is an error that says where and what to
//! do (exit 2). The builds share the test suite's cache (`target/cachet-js`), so an action the
//! test build already componentized is not built again.

#![allow(clippy::unwrap_used)] // a panic is how a test fails

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::{Value, json};

fn root() -> PathBuf {
    cachet_build::workspace_root(env!("CARGO_MANIFEST_DIR"))
}

fn cachet(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_cachet"))
        .args(args)
        .env("CACHET_CACHE_DIR", cachet_build::js_cache_dir(&root()))
        .output()
        .unwrap()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// A fresh directory for this test's files.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("cachet-js-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

/// Runs `cachet build FILE --trigger post-login` on `source` and expects exit 2 with every one
/// of `expected` in its message.
fn refused(name: &str, source: &str, expected: &[&str]) {
    let dir = scratch(name);
    let action = write(&dir, "action.js", source);
    let out = cachet(&["build", &action, "--trigger", "post-login"]);
    let message = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{message}");
    for part in expected {
        assert!(message.contains(part), "{part:?} not in: {message}");
    }
    assert!(!dir.join("action.wasm").exists(), "no component written");
}

#[test]
fn build_writes_a_component_that_run_executes_and_run_takes_the_js_file_itself() {
    let dir = scratch("tour");
    let out_path = dir.join("tour.wasm").display().to_string();
    let tour = root().join("tests/js/api-tour.js").display().to_string();
    let out = cachet(&["build", &tour, "--trigger", "post-login", "-o", &out_path]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("wrote"), "{}", stderr(&out));
    let wasm = std::fs::read(&out_path).unwrap();
    assert_eq!(&wasm[..4], b"\0asm", "a WebAssembly component");

    let event = write(
        &dir,
        "event.json",
        &json!({
            "user": { "user_id": "auth0|7", "name": "Grace" },
            "tenant": { "id": "acme" },
            "request": { "ip": "198.51.100.1", "query": {} },
            "stats": { "logins_count": 1 }
        })
        .to_string(),
    );
    for action in [&out_path, &tour] {
        let out = cachet(&["run", "--trigger", "post-login", "--event", &event, action]);
        assert!(out.status.success(), "{}", stderr(&out));
        let result: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(result["outcome"], "success", "{result:#}");
        assert_eq!(result["commands"][0]["value"], "Grace", "{result:#}");
        assert_eq!(result["actions"][0]["logs"], "tour for auth0|7\n");
    }
}

#[test]
fn a_syntax_error_is_refused_with_the_file_line_and_column() {
    refused(
        "syntax",
        "exports.onExecutePostLogin = async (event, api) => {\n  let x = ;\n};\n",
        &["cannot bundle", "action.js:2:11"],
    );
}

#[test]
fn a_node_builtin_module_is_refused_with_what_to_use_instead() {
    refused(
        "builtin",
        "const fs = require('fs');\nexports.onExecutePostLogin = async () => fs.readFileSync('/etc/passwd');\n",
        &[
            "\"fs\" is a Node.js built-in module",
            "fetch, crypto.subtle",
        ],
    );
}

#[test]
fn a_package_that_is_not_installed_is_refused_saying_where_to_install_it() {
    refused(
        "missing-package",
        "const pad = require('left-pad-not-installed');\nexports.onExecutePostLogin = async () => {};\n",
        &["left-pad-not-installed", "npm install"],
    );
}

#[test]
fn an_action_without_the_trigger_handler_is_refused_naming_the_export() {
    refused(
        "no-handler",
        "exports.onExecutePreLogin = async (event, api) => {};\n",
        &["exports no onExecutePostLogin function"],
    );
}

#[test]
fn building_without_node_is_an_error_that_says_what_to_install() {
    let dir = scratch("no-node");
    let action = write(
        &dir,
        "action.js",
        "exports.onExecutePostLogin = async () => {};\n",
    );
    let out = Command::new(env!("CARGO_BIN_EXE_cachet"))
        .args(["build", &action, "--trigger", "post-login"])
        .env("CACHET_CACHE_DIR", dir.join("cache"))
        .env("PATH", dir.join("empty"))
        .output()
        .unwrap();
    let message = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{message}");
    assert!(message.contains("cannot run `node`"), "{message}");
    assert!(message.contains("install them"), "{message}");
}

#[test]
fn build_refuses_a_file_that_is_not_javascript() {
    let out = cachet(&[
        "build",
        &root().join("README.md").display().to_string(),
        "--trigger",
        "post-login",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("not a JavaScript or TypeScript file"),
        "{}",
        stderr(&out)
    );
}
