//! Builds action components (workspace crates) for `wasm32-wasip2` with a nested cargo, so
//! build scripts and benches get real components compiled from source, never checked-in
//! `.wasm`.
//!
//! The nested build uses its own target directory (`target/guests`), so it never waits on the
//! outer build's lock, and the `guest` profile (stripped, LTO). Flags and wrappers meant for
//! the host build are not passed on.

use std::path::{Path, PathBuf};
use std::process::Command;

/// Whether this build script runs under clippy (a check build: nothing will run, so there is
/// no need to build components).
pub fn under_clippy() -> bool {
    std::env::var_os("CLIPPY_ARGS").is_some()
        || std::env::var("RUSTC_WORKSPACE_WRAPPER").is_ok_and(|w| w.contains("clippy"))
}

/// The workspace root, from a member's `CARGO_MANIFEST_DIR`.
pub fn workspace_root(manifest_dir: &str) -> PathBuf {
    Path::new(manifest_dir)
        .parent()
        .expect("workspace members live one level below the root")
        .to_path_buf()
}

/// Where the component of `package` is after [`build`].
pub fn component_path(root: &Path, package: &str) -> PathBuf {
    root.join("target")
        .join("guests")
        .join("wasm32-wasip2")
        .join("guest")
        .join(format!("{}.wasm", package.replace('-', "_")))
}

/// Builds `packages` (workspace crates of one trigger: a component exports exactly one
/// trigger's entry point, and one invocation unifies the SDK's trigger features) and returns
/// their component paths, in order.
///
/// Panics with a message saying what to do if the build fails: this runs in build scripts and
/// benches, where a panic is how failure is reported.
pub fn build(root: &Path, packages: &[&str]) -> Vec<PathBuf> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(root)
        .args([
            "build",
            "--locked",
            "--target",
            "wasm32-wasip2",
            "--profile",
            "guest",
        ])
        .arg("--target-dir")
        .arg(root.join("target").join("guests"));
    for package in packages {
        cmd.args(["-p", package]);
    }
    for var in [
        "CARGO_ENCODED_RUSTFLAGS",
        "RUSTFLAGS",
        "CARGO_TARGET_DIR",
        "CARGO_BUILD_TARGET",
        "RUSTC_WORKSPACE_WRAPPER",
    ] {
        cmd.env_remove(var);
    }
    let status = cmd
        .status()
        .expect("cannot run cargo to build action components");
    assert!(
        status.success(),
        "building {packages:?} for wasm32-wasip2 failed ({status}); is the target installed? \
         (`rustup target add wasm32-wasip2`)"
    );
    packages
        .iter()
        .map(|p| {
            let path = component_path(root, p);
            assert!(
                path.exists(),
                "{p} was built but {} is missing",
                path.display()
            );
            path
        })
        .collect()
}
