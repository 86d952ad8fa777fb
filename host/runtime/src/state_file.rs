//! A partition saved to a JSON file, so successive `cachet run` invocations behave like
//! successive logins.
//!
//! The file holds tokens, so it is written with mode 0600, atomically (an exclusively created
//! temporary file in the same directory, synced, renamed, the directory synced), and its
//! schema is versioned so a future format is refused rather than misread. [`lock`] serialises
//! processes that share one file.

use std::io::Write;
use std::path::{Path, PathBuf};

use cachet_limits::SnapshotEntry;
use serde::{Deserialize, Serialize};
use thiserror::Error;

/// The schema version this build reads and writes.
pub const VERSION: u32 = 1;

/// The file's content.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StateFile {
    /// Schema version; must be [`VERSION`].
    pub version: u32,
    /// When it was saved, ms since the Unix epoch.
    pub saved_at_ms: u64,
    /// Live entries, least recently used first.
    pub entries: Vec<SnapshotEntry>,
}

/// A state file could not be read or written.
#[derive(Debug, Error)]
pub enum StateFileError {
    /// Reading or writing failed.
    #[error("cache state file {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is not a state file of this schema.
    #[error(
        "cache state file {path} is not valid ({reason}); delete it or point --cache-state elsewhere"
    )]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
}

/// Reads a state file; a missing file is an empty partition.
pub fn load(path: &Path) -> Result<Vec<SnapshotEntry>, StateFileError> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => {
            return Err(StateFileError::Io {
                path: path.into(),
                source,
            });
        }
    };
    let file: StateFile = serde_json::from_str(&text).map_err(|e| StateFileError::Invalid {
        path: path.into(),
        reason: e.to_string(),
    })?;
    if file.version != VERSION {
        return Err(StateFileError::Invalid {
            path: path.into(),
            reason: format!(
                "schema version {} (this build reads {VERSION})",
                file.version
            ),
        });
    }
    Ok(file.entries)
}

/// Writes a state file atomically with mode 0600.
pub fn save(path: &Path, entries: Vec<SnapshotEntry>, now_ms: u64) -> Result<(), StateFileError> {
    let io = |source| StateFileError::Io {
        path: path.into(),
        source,
    };
    let file = StateFile {
        version: VERSION,
        saved_at_ms: now_ms,
        entries,
    };
    let json = serde_json::to_vec_pretty(&file).map_err(|e| io(e.into()))?;
    write_private(path, &json).map_err(io)
}

/// Writes `bytes` to `path` atomically and readable by the owner only: readers never see a
/// half-written file, and files that may hold tokens or code are not left world-readable.
///
/// The temporary file is created beside `path` under an unpredictable name, exclusively (an
/// existing file or symlink of that name is an error, never followed or truncated), with mode
/// 0600; it is synced, renamed over `path`, and the directory is synced so the rename itself
/// survives a crash. On any error the temporary file is removed.
pub(crate) fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let (dir, name) = dir_and_name(path);
    let tmp = dir.join(format!(".{name}.{}.tmp", unpredictable_suffix()));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut out = options.open(&tmp)?;
    let written = out
        .write_all(bytes)
        .and_then(|()| out.sync_all())
        .and_then(|()| std::fs::rename(&tmp, path));
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    sync_dir(dir)
}

/// The directory a file is in (`.` for a bare name) and its file name.
fn dir_and_name(path: &Path) -> (&Path, String) {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    (dir, name)
}

/// Syncs a directory, so a rename into it is durable. Not every platform can open one.
fn sync_dir(dir: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    std::fs::File::open(dir)?.sync_all()?;
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

/// 64 random bits (the standard library's hasher keys come from the OS's random source) with
/// the process id: not guessable ahead of time, so nobody can plant a file or symlink there.
fn unpredictable_suffix() -> String {
    use std::hash::BuildHasher;
    let random = std::collections::hash_map::RandomState::new().hash_one(std::process::id());
    format!("{}.{random:016x}", std::process::id())
}

/// An exclusive advisory lock on a state file, held from load to save so that concurrent
/// `cachet run`s on one file take turns instead of overwriting each other's writes. The lock
/// is on a sidecar file (`.NAME.lock`), because saving replaces the state file itself.
#[derive(Debug)]
pub struct StateLock {
    _file: std::fs::File,
}

/// Waits for the lock of the state file at `path`.
pub fn lock(path: &Path) -> Result<StateLock, StateFileError> {
    let (dir, name) = dir_and_name(path);
    let lock_path = dir.join(format!(".{name}.lock"));
    let io = |source| StateFileError::Io {
        path: lock_path.clone(),
        source,
    };
    let mut options = std::fs::OpenOptions::new();
    options.read(true).write(true).create(true).truncate(false);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let file = options.open(&lock_path).map_err(io)?;
    file.lock().map_err(io)?;
    Ok(StateLock { _file: file })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_dir(tag: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("cachet-state-{tag}-{}", unpredictable_suffix()));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn a_save_replaces_the_file_whole_with_mode_0600_and_leaves_no_temporary_file() {
        let dir = temp_dir("save");
        let path = dir.join("state.json");
        std::fs::write(&path, "old").unwrap();
        save(&path, Vec::new(), 7).unwrap();
        assert_eq!(load(&path).unwrap(), Vec::new());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let names: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        assert_eq!(names, ["state.json"]);
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn a_failed_save_removes_its_temporary_file_and_names_the_state_file() {
        let dir = temp_dir("fail");
        // A directory where the file should be: the rename fails.
        let path = dir.join("state.json");
        std::fs::create_dir(&path).unwrap();
        std::fs::write(path.join("keep"), "x").unwrap();
        let err = save(&path, Vec::new(), 7).unwrap_err();
        assert!(err.to_string().contains("state.json"), "{err}");
        let names: Vec<_> = std::fs::read_dir(&dir).unwrap().collect();
        assert_eq!(names.len(), 1, "only the directory itself is left");
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn temporary_names_are_not_predictable() {
        assert_ne!(unpredictable_suffix(), unpredictable_suffix());
    }
}
