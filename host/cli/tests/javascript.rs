//! `cachet build` and `.js` actions in `cachet run`: a JavaScript action written as for Auth0
//! becomes a component, and every way a build can fail is an error that says where and what to
//! do (exit 2). The builds share the test suite's cache (`target/cachet-js`), so an action the
//! test build already componentized is not built again.

#![allow(clippy::unwrap_used)] // a panic is how a test fails

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use cachet_tests::scratch::Scratch;

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

/// A scratch directory for this test's files, removed when the test is done with it.
fn scratch(name: &str) -> Scratch {
    Scratch::dir(&format!("js-{name}"))
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

/// An npm package `name` in `dir/node_modules` with `package.json` and `index.js`.
fn package(dir: &Path, name: &str, manifest: &str, index: &str) {
    let package = dir.join("node_modules").join(name);
    std::fs::create_dir_all(&package).unwrap();
    write(&package, "package.json", manifest);
    write(&package, "index.js", index);
}

/// `cachet run` of `action` (post-login) on a minimal login event written into `dir`: the
/// result JSON.
fn run_login(dir: &Path, action: &str) -> Value {
    let event = write(dir, "event.json", r#"{ "user": { "user_id": "auth0|1" } }"#);
    let out = cachet(&["run", "--trigger", "post-login", "--event", &event, action]);
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", stderr(&out)))
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
fn a_node_module_with_no_replacement_is_refused_naming_the_package_that_imported_it() {
    let dir = scratch("no-replacement");
    package(
        &dir,
        "needs-node-test",
        r#"{ "name": "needs-node-test", "main": "index.js" }"#,
        "const test = require('node:test');\nmodule.exports = test;\n",
    );
    let action = write(
        &dir,
        "action.js",
        "require('needs-node-test');\nexports.onExecutePostLogin = async () => {};\n",
    );
    let out = cachet(&["build", &action, "--trigger", "post-login"]);
    let message = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{message}");
    for part in [
        "node_modules/needs-node-test/index.js:1:",
        "\"node:test\" is a Node.js built-in module Cachet has no replacement for",
        "imported by the npm package \"needs-node-test\"",
    ] {
        assert!(message.contains(part), "{part:?} not in: {message}");
    }
}

#[test]
fn a_package_calling_what_the_sandbox_lacks_fails_naming_the_package_and_the_call() {
    let dir = scratch("sandboxed-call");
    package(
        &dir,
        "reads-files",
        r#"{ "name": "reads-files", "main": "index.js" }"#,
        "const fs = require('fs');\nexports.load = (p) => fs.readFileSync(p, 'utf8');\n",
    );
    let action = write(
        &dir,
        "action.js",
        "const { load } = require('reads-files');\n\
         exports.onExecutePostLogin = async () => { load('/etc/passwd'); };\n",
    );
    let result = run_login(&dir, &action);
    assert_eq!(result["outcome"], "failed", "{result:#}");
    let message = result["actions"][0]["error"]["message"].as_str().unwrap();
    assert!(
        message.contains(
            "fs.readFileSync (used by the npm package \"reads-files\"): actions have no filesystem"
        ),
        "{message}"
    );
}

#[test]
fn a_packages_browser_field_mapping_a_builtin_to_false_wins_even_when_a_package_of_that_name_is_installed()
 {
    let dir = scratch("browser-false");
    package(
        &dir,
        "maps-buffer-away",
        r#"{ "name": "maps-buffer-away", "main": "index.js", "browser": { "buffer": false } }"#,
        "module.exports = require('buffer');\n",
    );
    package(
        &dir,
        "buffer",
        r#"{ "name": "buffer", "main": "index.js" }"#,
        "module.exports = { installed: true };\n",
    );
    let action = write(
        &dir,
        "action.js",
        "const mapped = require('maps-buffer-away');\n\
         exports.onExecutePostLogin = async (event, api) => {\n\
           api.idToken.setCustomClaim('keys', Object.keys(mapped));\n\
         };\n",
    );
    let result = run_login(&dir, &action);
    assert_eq!(result["outcome"], "success", "{result:#}");
    // The package's `false`: an empty module, not the installed package.
    assert_eq!(result["commands"][0]["value"], json!([]), "{result:#}");
}

#[test]
fn build_says_which_node_polyfills_and_packages_went_in_and_how_large_it_is() {
    let dir = scratch("report");
    let out_path = dir.join("builtins.wasm").display().to_string();
    let action = root()
        .join("tests/js/npm/node-builtins.js")
        .display()
        .to_string();
    let out = cachet(&["build", &action, "--trigger", "post-login", "-o", &out_path]);
    let message = stderr(&out);
    assert!(out.status.success(), "{message}");
    for part in [
        "cachet: bundle ",
        "Node polyfills: ",
        "crypto (by the action)",
        "buffer (by the action)",
        "sandboxed Node modules (they import; a call throws, naming itself): child_process (by the action); fs (by the action)",
        "MB, post-login trigger",
    ] {
        assert!(message.contains(part), "{part:?} not in: {message}");
    }

    // An action that uses no Node API carries none of the layer.
    let plain = root().join("tests/js/claims.js").display().to_string();
    let out_path = dir.join("claims.wasm").display().to_string();
    let out = cachet(&["build", &plain, "--trigger", "post-login", "-o", &out_path]);
    let message = stderr(&out);
    assert!(out.status.success(), "{message}");
    assert!(message.contains("Node compatibility 0 B"), "{message}");
    assert!(!message.contains("Node polyfills"), "{message}");
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
