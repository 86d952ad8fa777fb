//! Scratch space for tests: a directory of its own under the system's temporary directory,
//! removed with everything in it when the [`Scratch`] drops, also when the test fails by
//! panicking. Runs of the suite leave nothing behind in `/tmp`, and concurrent tests (or two
//! runs at once) never share a path, since each directory's name is chosen by `tempfile`.
//!
//! ```
//! use cachet_tests::scratch::Scratch;
//!
//! let state = Scratch::file("doc", "state.json");
//! assert!(!state.exists(), "a file path starts out empty");
//! std::fs::write(&state, "{}").unwrap();
//! let dir = state.parent().unwrap().to_path_buf();
//! drop(state);
//! assert!(!dir.exists(), "dropping the scratch removes its directory");
//! ```

use std::ops::Deref;
use std::path::{Path, PathBuf};

/// A scratch directory, or a path in one; derefs to that path. Keep it alive for as long as
/// the test (or a server it started) uses the path.
#[derive(Debug)]
pub struct Scratch {
    /// Removed, with its contents, on drop.
    _dir: tempfile::TempDir,
    path: PathBuf,
}

impl Scratch {
    /// An empty directory whose name starts with `cachet-{what}-`.
    pub fn dir(what: &str) -> Self {
        let dir = Self::make(what);
        let path = dir.path().to_path_buf();
        Self { _dir: dir, path }
    }

    /// The path `name` in a fresh directory of its own (named as in [`Scratch::dir`]): nothing
    /// exists at it yet, and whatever the test puts there goes with the directory.
    pub fn file(what: &str, name: &str) -> Self {
        let dir = Self::make(what);
        let path = dir.path().join(name);
        Self { _dir: dir, path }
    }

    /// The directory, or the file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn make(what: &str) -> tempfile::TempDir {
        tempfile::Builder::new()
            .prefix(&format!("cachet-{what}-"))
            .tempdir()
            .unwrap_or_else(|e| panic!("cannot create a scratch directory for {what}: {e}"))
    }
}

impl Deref for Scratch {
    type Target = Path;

    fn deref(&self) -> &Path {
        &self.path
    }
}

impl AsRef<Path> for Scratch {
    fn as_ref(&self) -> &Path {
        &self.path
    }
}

/// For `Command::arg`, as a `PathBuf` is.
impl AsRef<std::ffi::OsStr> for Scratch {
    fn as_ref(&self) -> &std::ffi::OsStr {
        self.path.as_os_str()
    }
}
