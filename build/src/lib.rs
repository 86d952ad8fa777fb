//! Builds action components from source, so build scripts and benches get real components,
//! never checked-in `.wasm`: Rust actions (workspace crates) for `wasm32-wasip2` with a nested
//! cargo ([`build`]), JavaScript actions with `cachet-js` ([`build_js`]).
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

/// The workspace root, from a member's `CARGO_MANIFEST_DIR`: the nearest ancestor whose
/// `Cargo.toml` declares `[workspace]` (members live at different depths, e.g. `tests/` and
/// `host/cli/`).
pub fn workspace_root(manifest_dir: &str) -> PathBuf {
    Path::new(manifest_dir)
        .ancestors()
        .skip(1)
        .find(|dir| {
            std::fs::read_to_string(dir.join("Cargo.toml"))
                .is_ok_and(|toml| toml.lines().any(|l| l.trim() == "[workspace]"))
        })
        .expect("a workspace member lives below a Cargo.toml with [workspace]")
        .to_path_buf()
}

/// The target every action is built for.
pub const TARGET: &str = "wasm32-wasip2";

/// Makes sure the toolchain can build for [`TARGET`]: when its standard library is missing and
/// rustup is present, runs `rustup target add wasm32-wasip2` (saying so on stderr), so a fresh
/// machine needs no extra step. `rust-toolchain.toml` lists the target, but not every rustup
/// installs listed targets on first use.
///
/// Fails, saying what to do, when the target is missing and cannot be added.
pub fn ensure_target(root: &Path) -> Result<(), TargetError> {
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let sysroot = Command::new(&rustc)
        .current_dir(root)
        .args(["--print", "sysroot"])
        .output()
        .map_err(|source| TargetError::Rustc {
            rustc: rustc.clone(),
            source,
        })?;
    let sysroot = PathBuf::from(String::from_utf8_lossy(&sysroot.stdout).trim());
    if sysroot
        .join("lib/rustlib")
        .join(TARGET)
        .join("lib")
        .is_dir()
    {
        return Ok(());
    }
    let note = format!(
        "the {TARGET} standard library is not installed in {}; running `rustup target add {TARGET}`",
        sysroot.display()
    );
    eprintln!("cachet-build: {note}");
    // In a build script, cargo hides stderr unless the build fails; a warning line it shows.
    if std::env::var_os("OUT_DIR").is_some() {
        println!("cargo:warning={note}");
    }
    // Inside a build script RUSTUP_TOOLCHAIN names the toolchain being used: add the target
    // to that one, whatever rustup's default is.
    let status = Command::new("rustup")
        .current_dir(root)
        .args(["target", "add", TARGET])
        .status();
    match status {
        Ok(s) if s.success() => Ok(()),
        Ok(status) => Err(TargetError::RustupFailed { status }),
        Err(source) => Err(TargetError::NoRustup { rustc, source }),
    }
}

/// Why [`TARGET`]'s standard library is missing and could not be added.
#[derive(Debug, thiserror::Error)]
pub enum TargetError {
    /// The compiler could not be asked for its sysroot.
    #[error("cannot run {rustc}: {source}")]
    Rustc {
        /// The compiler (`$RUSTC` or `rustc`).
        rustc: String,
        /// Why.
        source: std::io::Error,
    },
    /// `rustup target add` ran and failed.
    #[error("`rustup target add {TARGET}` failed ({status}); run it by hand, then build again")]
    RustupFailed {
        /// Its exit status.
        status: std::process::ExitStatus,
    },
    /// The target is missing and rustup is not there to add it.
    #[error(
        "the {TARGET} target is not installed and rustup cannot be run ({source}); install the \
         target for {rustc} (e.g. `rustup target add {TARGET}`), then build again"
    )]
    NoRustup {
        /// The compiler the target is missing from.
        rustc: String,
        /// Why rustup could not run.
        source: std::io::Error,
    },
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
    if let Err(why) = ensure_target(root) {
        panic!("cannot build action components: {why}");
    }
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(root)
        .args([
            "build",
            "--locked",
            "--target",
            TARGET,
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
        "building {packages:?} for {TARGET} failed ({status}); the compiler's messages are above"
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

/// Where [`build_js`] caches the JavaScript tooling and built components: inside the
/// workspace's target directory, so `cargo clean` removes them and nothing else shares them.
pub fn js_cache_dir(root: &Path) -> PathBuf {
    root.join("target").join("cachet-js")
}

/// Builds JavaScript actions (`(source, trigger world)` pairs) into components with
/// `cachet-js`, two at a time (componentize-js is single-threaded and the machines have two
/// cores), and returns their component paths, in order. Unchanged actions come from the
/// cache in milliseconds. An action directory with a `package-lock.json` but no
/// `node_modules` gets `npm ci` first, so its npm dependencies can be bundled.
///
/// Panics with the builder's message (which says what to install or fix) if a build fails.
pub fn build_js(root: &Path, actions: &[(PathBuf, cachet_js::World)]) -> Vec<PathBuf> {
    let builder = cachet_js::JsBuilder::new(js_cache_dir(root))
        .on_progress(|message| eprintln!("cachet-build: {message}"));
    for (source, _) in actions {
        let dir = source.parent().unwrap_or(root);
        if dir.join("package-lock.json").is_file() && !dir.join("node_modules").is_dir() {
            eprintln!("cachet-build: npm ci in {}", dir.display());
            if let Err(e) = builder.npm_ci(dir) {
                panic!(
                    "cannot install the npm dependencies of {}: {e}",
                    source.display()
                );
            }
        }
    }
    let build = |(source, world): &(PathBuf, cachet_js::World)| match builder.build(source, *world)
    {
        Ok(built) => built.path,
        Err(e) => panic!("cannot build {}: {e}", source.display()),
    };
    let Some((first, rest)) = actions.split_first() else {
        return Vec::new();
    };
    // The first build installs the tooling, once, before the parallel builds share it.
    let mut paths = vec![build(first)];
    std::thread::scope(|scope| {
        let handles: Vec<_> = rest
            .chunks(rest.len().div_ceil(2).max(1))
            .map(|half| scope.spawn(move || half.iter().map(build).collect::<Vec<_>>()))
            .collect();
        for handle in handles {
            paths.extend(handle.join().expect("a JavaScript build thread panicked"));
        }
    });
    paths
}
