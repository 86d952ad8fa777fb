//! Builds every action the tests run, from source, once per test build, and writes their paths
//! to `$OUT_DIR/guests.rs` (a constant per action, e.g. `CLAIMS`).
//!
//! The guests are workspace members built for `wasm32-wasip2` by `cachet-build` (a nested cargo
//! into `target/guests`). Actions of each trigger are built in an invocation of their own: a
//! component exports exactly one trigger's entry point, and one invocation would unify the SDK's
//! trigger features.
//!
//! Under clippy (a check build: nothing runs) the guests are not built; the paths are still
//! written so the tests type-check.

use std::fmt::Write as _;
use std::path::PathBuf;

/// Post-login actions: examples first, then test guests.
const POST_LOGIN: &[&str] = &[
    "claims",
    "quota-probe",
    "api-tour",
    "cache-ops",
    "loop-forever",
    "memory-bomb",
    "deep-recursion",
    "panics",
    "log-flood",
    "cache-spam",
    "bad-claim-json",
    "mgmt-token",
    "token-only",
    "abuse",
    "escape",
    "extra-import",
    "counter",
    "refused-http",
    "memory-marker",
    "login-tour",
    "api-probe",
    "consent-gate",
];

/// Credentials-exchange actions.
const CREDENTIALS_EXCHANGE: &[&str] = &["m2m-claims", "cx-deny"];

/// The Rust actions, one cargo invocation per trigger.
const RUST: &[&[&str]] = &[
    POST_LOGIN,
    CREDENTIALS_EXCHANGE,
    &["signup-gate"],
    &["signup-welcome"],
    &["password-notice"],
    &["sms-sender"],
    &["mail-relay"],
    &["phone-relay"],
    &["token-swap"],
    &["stream-sink"],
    &["reset-gate"],
];

/// JavaScript actions (source relative to the workspace root, trigger), each built with
/// componentize-js into the constant `JS_<FILE STEM>`.
const JAVASCRIPT: &[(&str, &str)] = &[
    ("examples/actions/mgmt-token-js/action.js", "post-login"),
    ("examples/actions/mgmt-token-kb-js/action.js", "post-login"),
    ("examples/actions/consent-js/action.js", "post-login"),
    (
        "examples/actions/password-reset-post-challenge-js/action.js",
        "password-reset-post-challenge",
    ),
    ("tests/js/api-tour.js", "post-login"),
    ("tests/js/quota-probe.mjs", "post-login"),
    ("tests/js/hostile.js", "post-login"),
    ("tests/js/counter.js", "post-login"),
    ("tests/js/api-shared.js", "post-login"),
    ("tests/js/text.js", "post-login"),
    ("tests/js/claims.js", "post-login"),
    ("tests/js/claims-node.js", "post-login"),
    ("tests/js/sign-node.js", "post-login"),
    ("tests/js/m2m.js", "credentials-exchange"),
    ("tests/js/refused-fetch.js", "post-login"),
    ("tests/js/login-tour.js", "post-login"),
    ("tests/js/api-probe.js", "post-login"),
    // npm packages and Node built-ins through the Node compatibility layer
    // (tests/js/npm: its own package.json and lock).
    ("tests/js/npm/node-builtins.js", "post-login"),
    ("tests/js/npm/npm-packages.js", "post-login"),
    ("tests/js/npm/auth0-clients.js", "post-login"),
    ("tests/js/npm/jwt-rs256.js", "post-login"),
    // One module with a handler per trigger, built for each (`JS_SIGNUP_TOUR_<TRIGGER>`).
    ("tests/js/signup-tour.js", "pre-user-registration"),
    ("tests/js/signup-tour.js", "post-user-registration"),
    ("tests/js/signup-tour.js", "post-change-password"),
    ("tests/js/signup-tour.js", "send-phone-message"),
    ("tests/js/provider-tour.js", "custom-email-provider"),
    ("tests/js/provider-tour.js", "custom-phone-provider"),
    ("tests/js/provider-tour.js", "custom-token-exchange"),
    ("tests/js/provider-tour.js", "event-stream"),
    // Every trigger's `api` by Auth0's names (`JS_API_NAMES_<TRIGGER>`).
    ("tests/js/api-names.js", "post-login"),
    ("tests/js/api-names.js", "credentials-exchange"),
    ("tests/js/api-names.js", "pre-user-registration"),
    ("tests/js/api-names.js", "post-user-registration"),
    ("tests/js/api-names.js", "post-change-password"),
    ("tests/js/api-names.js", "send-phone-message"),
    ("tests/js/api-names.js", "custom-email-provider"),
    ("tests/js/api-names.js", "custom-phone-provider"),
    ("tests/js/api-names.js", "custom-token-exchange"),
    ("tests/js/api-names.js", "event-stream"),
    ("tests/js/api-names.js", "password-reset-post-challenge"),
];

fn main() {
    let root = cachet_build::workspace_root(env!("CARGO_MANIFEST_DIR"));
    for dir in [
        "guest",
        "wit",
        "examples/actions",
        "tests/guests",
        "tests/js",
        "Cargo.lock",
    ] {
        println!("cargo:rerun-if-changed={}", root.join(dir).display());
    }
    let js: Vec<_> = JAVASCRIPT
        .iter()
        .map(|(source, world)| {
            let world = cachet_js::World::from_name(world).expect("a trigger world");
            (root.join(source), world)
        })
        .collect();
    let mut js_paths = vec![PathBuf::new(); js.len()];
    if !cachet_build::under_clippy() {
        for packages in RUST {
            cachet_build::build(&root, packages);
        }
        js_paths = cachet_build::build_js(&root, &js);
    }
    let mut out = String::from("// Generated by tests/build.rs: paths of the action components.\n");
    for name in RUST.iter().copied().flatten() {
        writeln!(
            out,
            "/// The `{name}` action component.\npub const {}: &str = {:?};",
            name.replace('-', "_").to_uppercase(),
            cachet_build::component_path(&root, name)
                .display()
                .to_string()
        )
        .expect("writing to a String cannot fail");
    }
    for ((source, world), path) in JAVASCRIPT.iter().zip(&js_paths) {
        let stem = std::path::Path::new(source)
            .file_stem()
            .and_then(|s| s.to_str())
            .expect("a file name");
        // `action.js` files are named by their directory (examples/actions/NAME/action.js).
        let name = if stem == "action" {
            std::path::Path::new(source)
                .parent()
                .and_then(|d| d.file_name())
                .and_then(|d| d.to_str())
                .expect("a directory")
        } else {
            stem
        };
        // A module built for several worlds gets one constant per world.
        let worlds = JAVASCRIPT.iter().filter(|(s, _)| s == source).count();
        let name = if worlds > 1 {
            format!("{name}_{world}")
        } else {
            name.to_string()
        };
        writeln!(
            out,
            "/// The `{source}` JavaScript action, built into a component.\npub const JS_{}: &str = {:?};",
            name.replace('-', "_").to_uppercase(),
            path.display().to_string()
        )
        .expect("writing to a String cannot fail");
    }
    let out_dir = PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
    std::fs::write(out_dir.join("guests.rs"), out).expect("cannot write guests.rs");
}
