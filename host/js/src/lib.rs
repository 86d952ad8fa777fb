//! Builds JavaScript (and TypeScript) actions into Cachet components.
//!
//! An action is written as for Auth0 (`exports.onExecutePostLogin = async (event, api) => {…}`
//! or `export const onExecutePostLogin = …`). Building it takes two steps, both run by Node.js
//! with tooling pinned by `guest/js/package-lock.json`:
//!
//! 1. **bundle**: esbuild puts the action, the npm packages it imports and Cachet's JS SDK
//!    (`guest/js/src`, Auth0's `api` over `wit/action.wit`) into one ES module;
//! 2. **componentize**: `@bytecodealliance/componentize-js` embeds that module in the
//!    SpiderMonkey engine and produces a component for the trigger's world (~12 MB; 4–20 s).
//!
//! Componentizing is slow, so components are cached by content hash: the key covers the bundle
//! (hence the action *and* its dependencies), the trigger, the SDK and the tooling. The SDK and
//! the lock file are compiled into this crate and written to the cache directory, where the
//! tooling is installed once with `npm ci` (under a file lock, so concurrent builds share it).
//!
//! ```no_run
//! use cachet_js::{JsBuilder, World};
//!
//! let builder = JsBuilder::new(JsBuilder::default_cache_dir())
//!     .on_progress(|message| eprintln!("{message}"));
//! let world = World::from_name("post-login").expect("a trigger world");
//! let built = builder.build("action.js".as_ref(), world)?;
//! let wasm = std::fs::read(&built.path)?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::ffi::OsStr;
use std::fmt;
use std::fs::{self, File};
use std::io;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

/// The SDK and build script, as files relative to the SDK directory: `build.mjs`, every file
/// of `guest/js/src/` (listed by `build.rs`), `wit/action.wit`, and each trigger's example event
/// as `events/TRIGGER.json`.
const SDK_FILES: &[(&str, &str)] = include!(concat!(env!("OUT_DIR"), "/sdk_files.rs"));

/// The WIT package every world is in.
const WIT: &str = include_str!("../../../wit/action.wit");

/// The pinned tooling: installed with `npm ci` into the tooling directory.
const TOOLING_FILES: &[(&str, &str)] = &[
    (
        "package.json",
        include_str!("../../../guest/js/package.json"),
    ),
    (
        "package-lock.json",
        include_str!("../../../guest/js/package-lock.json"),
    ),
];

/// The oldest Node.js major version the tooling runs on.
const MIN_NODE_MAJOR: u32 = 18;

/// Bumped when the layout of the cache or of the build changes, so old entries are not reused.
const CACHE_FORMAT: &str = "cachet-js-1";

/// File extensions built as JavaScript or TypeScript actions.
const SOURCE_EXTENSIONS: &[&str] = &["js", "mjs", "cjs", "ts", "mts", "cts"];

/// Whether `path` names a JavaScript or TypeScript action source (by extension), as opposed to a
/// component.
pub fn is_source(path: &Path) -> bool {
    path.extension()
        .and_then(OsStr::to_str)
        .is_some_and(|ext| SOURCE_EXTENSIONS.contains(&ext.to_ascii_lowercase().as_str()))
}

/// A trigger world a component is built for: a world of `wit/action.wit` that has an SDK file
/// (`guest/js/src/<world>.js`, which exports the trigger's `onExecute…` function). Its name is
/// the trigger's; the runtime's trigger table names the world of each trigger, so nothing
/// here lists triggers.
///
/// ```
/// use cachet_js::World;
/// let world = World::from_name("post-login").unwrap();
/// assert_eq!(world.name(), "post-login");
/// assert!(World::all().any(|w| w == world));
/// assert_eq!(World::from_name("no-such-trigger"), None);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct World(&'static str);

impl World {
    /// The world's name in `wit/action.wit`, which is also the trigger's name.
    pub fn name(self) -> &'static str {
        self.0
    }

    /// The world named `name`, if the WIT declares it and the SDK has its file.
    pub fn from_name(name: &str) -> Option<World> {
        Self::all().find(|w| w.0 == name)
    }

    /// Every world the SDK can build for, in file-name order.
    pub fn all() -> impl Iterator<Item = World> {
        SDK_FILES.iter().filter_map(|(path, _)| {
            let name = path.strip_prefix("src/")?.strip_suffix(".js")?;
            WIT.contains(&format!("world {name} {{"))
                .then_some(World(name))
        })
    }
}

impl fmt::Display for World {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Why a JavaScript action could not be built. Every message says what to do.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum JsBuildError {
    /// The action file does not exist or cannot be read.
    #[error("cannot read the JavaScript action {}: {source}", path.display())]
    Source {
        /// The action.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// `node` (or `npm`) cannot be run.
    #[error(
        "cannot run `{program}` ({source}): JavaScript actions are built with Node.js {MIN_NODE_MAJOR} or \
         newer and npm; install them (Debian: `apt-get install nodejs npm`) or put them on PATH"
    )]
    ToolMissing {
        /// The program.
        program: String,
        /// Why it could not be started.
        source: io::Error,
    },
    /// Node.js is older than the tooling supports.
    #[error(
        "Node.js {version} is too old to build JavaScript actions: install Node.js {MIN_NODE_MAJOR} or newer"
    )]
    NodeTooOld {
        /// What `node --version` printed.
        version: String,
    },
    /// `npm ci` failed (installing the pinned tooling, or an action's own dependencies).
    #[error(
        "`npm ci` in {} failed ({status}): {stderr}\nCheck that \
         the npm registry is reachable (proxy settings come from npm's usual configuration), then build again",
        dir.display()
    )]
    Install {
        /// Where it ran.
        dir: PathBuf,
        /// npm's exit status.
        status: String,
        /// The end of npm's error output.
        stderr: String,
    },
    /// esbuild could not bundle the action (a syntax error, an import that does not resolve,
    /// a Node built-in).
    #[error("cannot bundle {}:\n{message}", path.display())]
    Bundle {
        /// The action.
        path: PathBuf,
        /// esbuild's messages, with file:line:column.
        message: String,
    },
    /// componentize-js could not build the component (including an error thrown while the
    /// action module was evaluated, such as a missing `onExecute…` export).
    #[error("cannot build a component from {}:\n{message}", path.display())]
    Componentize {
        /// The action.
        path: PathBuf,
        /// What componentize-js reported.
        message: String,
    },
    /// A file in the cache directory could not be written or read.
    #[error("JavaScript build cache {}: {source}; check that the directory is writable (set it with CACHET_CACHE_DIR)", path.display())]
    Cache {
        /// The file or directory.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
}

/// What went into a bundle: the npm packages, the parts of Node's standard library the Node
/// compatibility layer supplied, and the size of each part. Written by the build script.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct BuildReport {
    /// The bundle's size in bytes.
    pub bundle_bytes: u64,
    /// The bundle's bytes by where they came from.
    pub bytes: BundleBytes,
    /// Node built-ins replaced by a polyfill (`buffer`, `crypto`, …), with who imported them.
    pub polyfills: Vec<LayerModule>,
    /// Node built-ins a sandbox cannot have (`fs`, `net`, …): they import, and throw a clear
    /// error when used.
    pub sandboxed: Vec<LayerModule>,
    /// The npm packages in the bundle.
    pub packages: Vec<Package>,
}

/// A bundle's bytes by origin.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Deserialize)]
#[non_exhaustive]
pub struct BundleBytes {
    /// The action's own files.
    pub action: u64,
    /// Its npm packages.
    pub packages: u64,
    /// Cachet's SDK (Auth0's `api` over the WIT).
    pub sdk: u64,
    /// The Node compatibility layer (polyfills and shims).
    pub node: u64,
}

/// A Node built-in the compatibility layer supplied.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Deserialize)]
#[non_exhaustive]
pub struct LayerModule {
    /// The module's name (`crypto`, `fs/promises`).
    pub module: String,
    /// The npm packages (or `the action`) that imported it; empty when only other polyfills
    /// or one of Node's globals (`Buffer`, `process`) did.
    pub by: Vec<String>,
}

/// An npm package in a bundle.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Deserialize)]
#[non_exhaustive]
pub struct Package {
    /// Its name.
    pub name: String,
    /// Its version, from its `package.json`.
    pub version: Option<String>,
    /// Its bytes in the bundle.
    pub bytes: u64,
}

/// A built component.
#[derive(Debug, Clone)]
pub struct Built {
    /// Where the component is (in the cache directory; do not modify it).
    pub path: PathBuf,
    /// Its content key (hex SHA-256 of what went into it).
    pub key: String,
    /// Whether it was taken from the cache (false: componentized by this call).
    pub cached: bool,
    /// How long the call took.
    pub elapsed: Duration,
    /// What went into the bundle the component was built from.
    pub report: BuildReport,
    /// The component's size in bytes.
    pub component_bytes: u64,
}

type Progress = Arc<dyn Fn(&str) + Send + Sync>;

/// Builds JavaScript actions into components, caching the results in a directory.
///
/// Cheap to clone; one builder may be used from several threads (and several processes may
/// share one cache directory).
#[derive(Clone)]
pub struct JsBuilder {
    cache_dir: PathBuf,
    node: PathBuf,
    npm: PathBuf,
    progress: Option<Progress>,
}

impl fmt::Debug for JsBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JsBuilder")
            .field("cache_dir", &self.cache_dir)
            .field("node", &self.node)
            .field("npm", &self.npm)
            .finish_non_exhaustive()
    }
}

impl JsBuilder {
    /// A builder caching in `cache_dir` (made absolute; created when first needed), running `node` and `npm`
    /// from PATH.
    pub fn new(cache_dir: impl Into<PathBuf>) -> JsBuilder {
        let cache_dir = cache_dir.into();
        JsBuilder {
            // Absolute: the build script runs with the SDK directory as its working directory.
            cache_dir: std::path::absolute(&cache_dir).unwrap_or(cache_dir),
            node: PathBuf::from("node"),
            npm: PathBuf::from("npm"),
            progress: None,
        }
    }

    /// The default cache directory: `$CACHET_CACHE_DIR`, else `$XDG_CACHE_HOME/cachet`, else
    /// `~/.cache/cachet`, else `cachet-cache` in the system's temporary directory.
    pub fn default_cache_dir() -> PathBuf {
        let var = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty());
        if let Some(dir) = var("CACHET_CACHE_DIR") {
            return PathBuf::from(dir);
        }
        if let Some(dir) = var("XDG_CACHE_HOME") {
            return PathBuf::from(dir).join("cachet");
        }
        if let Some(home) = var("HOME") {
            return PathBuf::from(home).join(".cache").join("cachet");
        }
        std::env::temp_dir().join("cachet-cache")
    }

    /// The directory this builder caches in.
    pub fn cache_dir(&self) -> &Path {
        &self.cache_dir
    }

    /// Runs `program` instead of `node` from PATH.
    pub fn node(mut self, program: impl Into<PathBuf>) -> JsBuilder {
        self.node = program.into();
        self
    }

    /// Runs `program` instead of `npm` from PATH.
    pub fn npm(mut self, program: impl Into<PathBuf>) -> JsBuilder {
        self.npm = program.into();
        self
    }

    /// Calls `report` with a line of progress before each slow step (installing the tooling,
    /// componentizing) and after it.
    pub fn on_progress(mut self, report: impl Fn(&str) + Send + Sync + 'static) -> JsBuilder {
        self.progress = Some(Arc::new(report));
        self
    }

    fn report(&self, message: &str) {
        if let Some(report) = &self.progress {
            report(message);
        }
    }

    /// Builds the action at `action` for `world`, or returns the cached component built from
    /// the same bundle. Blocks for as long as the build takes (seconds when not cached; from
    /// async code call it inside `spawn_blocking`).
    pub fn build(&self, action: &Path, world: World) -> Result<Built, JsBuildError> {
        let started = Instant::now();
        let action = fs::canonicalize(action).map_err(|source| JsBuildError::Source {
            path: action.to_path_buf(),
            source,
        })?;
        if !action.is_file() {
            return Err(JsBuildError::Source {
                path: action,
                source: io::Error::other("not a file"),
            });
        }
        self.check_node()?;
        let sdk = self.sdk_dir()?;
        let tmp = self.cache_dir.join("js").join("tmp");
        mkdir(&tmp)?;

        let bundle_path = tmp.join(unique_name("bundle", "js"));
        let out = self.node_script(
            &sdk,
            &[
                OsStr::new("bundle"),
                action.as_os_str(),
                OsStr::new(world.name()),
                bundle_path.as_os_str(),
            ],
        )?;
        let bundle = fs::read(&bundle_path);
        let report_path = bundle_path.with_extension("js.report.json");
        let report = fs::read(&report_path);
        let _ = fs::remove_file(&bundle_path);
        let _ = fs::remove_file(&report_path);
        if !out.status.success() {
            return Err(JsBuildError::Bundle {
                path: action,
                message: stderr_of(&out),
            });
        }
        let bundle = bundle.map_err(|source| JsBuildError::Cache {
            path: bundle_path.clone(),
            source,
        })?;
        // The report describes the build; a build without one (unreadable) still works.
        let report: BuildReport = report
            .ok()
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
            .unwrap_or_default();

        let key = {
            let mut hash = Sha256::new();
            hash.update(CACHE_FORMAT);
            hash.update([0]);
            hash.update(sdk_hash());
            hash.update([0]);
            hash.update(world.name());
            hash.update([0]);
            hash.update(&bundle);
            hex::encode(hash.finalize())
        };
        let components = self.cache_dir.join("js").join("components");
        mkdir(&components)?;
        let path = components.join(format!("{key}.wasm"));
        if let Ok(meta) = fs::metadata(&path)
            && meta.is_file()
        {
            return Ok(Built {
                path,
                key,
                cached: true,
                elapsed: started.elapsed(),
                report,
                component_bytes: meta.len(),
            });
        }

        let shown = display_name(&action);
        self.report(&format!(
            "building {shown} for {world} with componentize-js (takes about 10 s; cached afterwards)…"
        ));
        let bundle_path = tmp.join(unique_name("bundle", "js"));
        write(&bundle_path, &bundle)?;
        let wasm_tmp = tmp.join(unique_name("component", "wasm"));
        let out = self.node_script(
            &sdk,
            &[
                OsStr::new("componentize"),
                bundle_path.as_os_str(),
                OsStr::new(world.name()),
                sdk.join("wit").as_os_str(),
                wasm_tmp.as_os_str(),
            ],
        );
        let _ = fs::remove_file(&bundle_path);
        let out = out?;
        if !out.status.success() {
            let _ = fs::remove_file(&wasm_tmp);
            return Err(JsBuildError::Componentize {
                path: action,
                message: stderr_of(&out),
            });
        }
        // Atomic: a concurrent build of the same key writes the same bytes.
        fs::rename(&wasm_tmp, &path).map_err(|source| JsBuildError::Cache {
            path: path.clone(),
            source,
        })?;
        let elapsed = started.elapsed();
        self.report(&format!("built {shown} in {:.1} s", elapsed.as_secs_f64()));
        let component_bytes = fs::metadata(&path).map_or(0, |m| m.len());
        Ok(Built {
            path,
            key,
            cached: false,
            elapsed,
            report,
            component_bytes,
        })
    }

    /// Checks that `node` runs and is recent enough.
    fn check_node(&self) -> Result<(), JsBuildError> {
        let out = Command::new(&self.node)
            .arg("--version")
            .output()
            .map_err(|source| JsBuildError::ToolMissing {
                program: self.node.display().to_string(),
                source,
            })?;
        let version = String::from_utf8_lossy(&out.stdout).trim().to_string();
        let major = version
            .trim_start_matches('v')
            .split('.')
            .next()
            .and_then(|m| m.parse::<u32>().ok());
        match major {
            Some(major) if major >= MIN_NODE_MAJOR => Ok(()),
            _ => Err(JsBuildError::NodeTooOld { version }),
        }
    }

    /// The SDK directory inside the installed tooling directory, installing both if needed.
    fn sdk_dir(&self) -> Result<PathBuf, JsBuildError> {
        let tooling = self
            .cache_dir
            .join("js")
            .join(format!("tooling-{}", &tooling_hash()[..16]));
        let ready = tooling.join("node_modules").join(".cachet-installed");
        if !ready.is_file() {
            self.install(&tooling, &ready)?;
        }
        // Node resolves esbuild and componentize-js from the build script's ancestors, so the
        // SDK lives inside the tooling directory.
        let sdk = tooling.join(format!("sdk-{}", &sdk_hash()[..16]));
        if !sdk.join(".complete").is_file() {
            let staging = tooling.join(unique_name("sdk", "tmp"));
            for (name, text) in SDK_FILES {
                let path = staging.join(name);
                if let Some(parent) = path.parent() {
                    mkdir(parent)?;
                }
                write(&path, text.as_bytes())?;
            }
            write(&staging.join(".complete"), b"")?;
            if fs::rename(&staging, &sdk).is_err() {
                // Another build put the same SDK there first.
                let _ = fs::remove_dir_all(&staging);
            }
        }
        Ok(sdk)
    }

    /// Installs the pinned tooling with `npm ci`, once: under a file lock, so concurrent builds
    /// (test binaries, replicas) wait for one installation instead of racing.
    fn install(&self, tooling: &Path, ready: &Path) -> Result<(), JsBuildError> {
        mkdir(tooling)?;
        let lock_path = tooling.with_extension("lock");
        let lock = File::create(&lock_path).map_err(|source| JsBuildError::Cache {
            path: lock_path.clone(),
            source,
        })?;
        lock.lock().map_err(|source| JsBuildError::Cache {
            path: lock_path.clone(),
            source,
        })?;
        if ready.is_file() {
            return Ok(());
        }
        for (name, text) in TOOLING_FILES {
            write(&tooling.join(name), text.as_bytes())?;
        }
        self.report(&format!(
            "installing the JavaScript tooling (componentize-js, esbuild; about 230 MB) with `npm ci` into {}, once…",
            tooling.display()
        ));
        self.npm_ci(tooling)?;
        write(ready, b"")?;
        self.report("installed the JavaScript tooling");
        Ok(())
    }

    /// Runs `npm ci` in `dir`: installs exactly what its `package-lock.json` pins (for the
    /// tooling, or an action's own npm dependencies). Install scripts are not run: nothing
    /// here needs them (esbuild's binary comes as an optional package), and an action's
    /// dependencies are bundled, never executed on the host.
    pub fn npm_ci(&self, dir: &Path) -> Result<(), JsBuildError> {
        let out = Command::new(&self.npm)
            .current_dir(dir)
            .args([
                "ci",
                "--ignore-scripts",
                "--no-audit",
                "--no-fund",
                "--loglevel=error",
            ])
            .output()
            .map_err(|source| JsBuildError::ToolMissing {
                program: self.npm.display().to_string(),
                source,
            })?;
        if !out.status.success() {
            return Err(JsBuildError::Install {
                dir: dir.to_path_buf(),
                status: out.status.to_string(),
                stderr: tail(&stderr_of(&out), 2000),
            });
        }
        Ok(())
    }

    fn node_script(&self, sdk: &Path, args: &[&OsStr]) -> Result<Output, JsBuildError> {
        Command::new(&self.node)
            .current_dir(sdk)
            .arg(sdk.join("build.mjs"))
            .args(args)
            .output()
            .map_err(|source| JsBuildError::ToolMissing {
                program: self.node.display().to_string(),
                source,
            })
    }
}

fn hash_files(files: &[(&str, &str)]) -> String {
    let mut hash = Sha256::new();
    for (name, text) in files {
        hash.update(name.as_bytes());
        hash.update([0]);
        hash.update(text.as_bytes());
        hash.update([0]);
    }
    hex::encode(hash.finalize())
}

/// Identifies the pinned tooling (package.json and its lock).
fn tooling_hash() -> String {
    hash_files(TOOLING_FILES)
}

/// Identifies the SDK, the build script, the WIT and the tooling together.
fn sdk_hash() -> String {
    let mut all = TOOLING_FILES.to_vec();
    all.extend_from_slice(SDK_FILES);
    hash_files(&all)
}

/// A name no other build (thread or process) uses at the same time.
fn unique_name(stem: &str, ext: &str) -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    format!(
        "{stem}-{}-{}.{ext}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

fn display_name(path: &Path) -> String {
    std::env::current_dir()
        .ok()
        .and_then(|cwd| path.strip_prefix(cwd).ok().map(Path::to_path_buf))
        .unwrap_or_else(|| path.to_path_buf())
        .display()
        .to_string()
}

fn mkdir(dir: &Path) -> Result<(), JsBuildError> {
    fs::create_dir_all(dir).map_err(|source| JsBuildError::Cache {
        path: dir.to_path_buf(),
        source,
    })
}

fn write(path: &Path, bytes: &[u8]) -> Result<(), JsBuildError> {
    fs::write(path, bytes).map_err(|source| JsBuildError::Cache {
        path: path.to_path_buf(),
        source,
    })
}

fn stderr_of(out: &Output) -> String {
    let text = String::from_utf8_lossy(&out.stderr).trim().to_string();
    if text.is_empty() {
        format!("(no message; the process ended with {})", out.status)
    } else {
        text
    }
}

/// The last `max` bytes of `text`, on a character boundary.
fn tail(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_string();
    }
    let mut start = text.len() - max;
    while !text.is_char_boundary(start) {
        start += 1;
    }
    format!("…{}", &text[start..])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn javascript_and_typescript_sources_are_recognised_by_extension() {
        for yes in ["a.js", "a.mjs", "a.cjs", "a.ts", "dir/A.JS"] {
            assert!(is_source(Path::new(yes)), "{yes}");
        }
        for no in ["a.wasm", "a", "a.json", "js"] {
            assert!(!is_source(Path::new(no)), "{no}");
        }
    }

    fn post_login() -> World {
        World::from_name("post-login").unwrap()
    }

    #[test]
    fn worlds_are_named_as_in_the_wit() {
        let worlds: Vec<World> = World::all().collect();
        let names: Vec<&str> = worlds.iter().map(|w| w.name()).collect();
        assert!(
            names.contains(&"post-login") && names.contains(&"credentials-exchange"),
            "{names:?}"
        );
        for world in worlds {
            assert_eq!(World::from_name(world.name()), Some(world));
            assert!(WIT.contains(&format!("world {} {{", world.name())));
        }
        // common.js is a file of the SDK, not a world.
        assert_eq!(World::from_name("common"), None);
        assert_eq!(World::from_name("pre-login"), None);
    }

    #[test]
    fn a_missing_node_is_an_error_that_says_what_to_install() {
        let dir = tempfile::tempdir().unwrap();
        let action = dir.path().join("a.js");
        fs::write(&action, "exports.onExecutePostLogin = async () => {};").unwrap();
        let err = JsBuilder::new(dir.path().join("cache"))
            .node("/nonexistent/node")
            .build(&action, post_login())
            .unwrap_err();
        let message = err.to_string();
        assert!(matches!(err, JsBuildError::ToolMissing { .. }), "{message}");
        assert!(message.contains("install them"), "{message}");
    }

    #[test]
    fn a_relative_cache_directory_is_made_absolute() {
        // The build script runs in the SDK directory: a relative path would point elsewhere.
        assert!(JsBuilder::new("relative/cache").cache_dir().is_absolute());
    }

    #[test]
    fn a_missing_action_file_is_named_in_the_error() {
        let dir = tempfile::tempdir().unwrap();
        let err = JsBuilder::new(dir.path())
            .build(&dir.path().join("nope.js"), post_login())
            .unwrap_err();
        assert!(err.to_string().contains("nope.js"), "{err}");
    }

    #[test]
    fn the_tail_of_a_long_message_keeps_its_end_on_a_char_boundary() {
        let text = format!("{}é end", "x".repeat(100));
        let t = tail(&text, 6);
        assert!(t.ends_with(" end"), "{t}");
        assert_eq!(tail("short", 10), "short");
    }
}
