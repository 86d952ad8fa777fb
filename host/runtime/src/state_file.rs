//! The snapshot file of a [`FileStore`](crate::FileStore): every partition of a host in one
//! JSON file, so a restarted host (or the next `cachet run`) finds its cache where it left it.
//!
//! The file holds tokens, so it is written with mode 0600, atomically (an exclusively created
//! temporary file in the same directory, synced, renamed, the directory synced), and its
//! schema is versioned so a future format is refused rather than misread. [`lock`] keeps two
//! processes from using one file at once.

use std::io::Write;
use std::path::{Path, PathBuf};

use cachet_limits::SnapshotEntry;
use serde::{Deserialize, Serialize};
use thiserror::Error;

/// The schema version this build reads and writes. Version 1 (round one's single-partition
/// file) named no tenant or trigger, so it cannot be attributed and is set aside like any
/// unreadable file.
pub const VERSION: u32 = 2;

/// The file's content.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StateFile {
    /// Schema version; must be [`VERSION`].
    pub version: u32,
    /// When it was saved, ms since the Unix epoch (the host's clock).
    pub saved_at_ms: u64,
    /// Every non-empty partition.
    pub partitions: Vec<PartitionSnapshot>,
    /// Flows paused by a redirect, waiting to be continued (absent when there are none).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub continuations: Vec<ContinuationSnapshot>,
}

/// One partition in a [`StateFile`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PartitionSnapshot {
    /// The tenant.
    pub tenant: String,
    /// The trigger's name. Kept as text so that a file from a build with more triggers loses
    /// only those partitions, not the file.
    pub trigger: String,
    /// Live entries, least recently used first.
    pub entries: Vec<SnapshotEntry>,
}

/// One continuation as a snapshot file keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContinuationSnapshot {
    /// The tenant.
    pub tenant: String,
    /// The trigger's name (text, as partitions keep it).
    pub trigger: String,
    /// The continuation's id (the redirect's `state`).
    pub id: String,
    /// What the runtime stored.
    pub record: String,
    /// When it expires, ms since the Unix epoch.
    pub expires_at: u64,
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
    #[error("cache state file {path} is not valid ({reason})")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
}

/// Reads a state file; `Ok(None)` when there is none.
pub fn read(path: &Path) -> Result<Option<StateFile>, StateFileError> {
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => {
            return Err(StateFileError::Io {
                path: path.into(),
                source,
            });
        }
    };
    let invalid = |reason: String| StateFileError::Invalid {
        path: path.into(),
        reason,
    };
    // The version first, so an old or future file is named as such instead of as a parse error.
    #[derive(Deserialize)]
    struct Version {
        version: u32,
    }
    let version: Version = serde_json::from_slice(&bytes).map_err(|e| invalid(e.to_string()))?;
    if version.version != VERSION {
        return Err(invalid(format!(
            "schema version {} (this build reads {VERSION})",
            version.version
        )));
    }
    serde_json::from_slice(&bytes)
        .map(Some)
        .map_err(|e| invalid(e.to_string()))
}

/// Writes a state file atomically with mode 0600.
pub fn write(path: &Path, file: &StateFile) -> Result<(), StateFileError> {
    let io = |source| StateFileError::Io {
        path: path.into(),
        source,
    };
    let json = serde_json::to_vec(file).map_err(|e| io(e.into()))?;
    write_private(path, &json).map_err(io)
}

/// Moves an unusable state file aside to `PATH.corrupt-<unix seconds>` (with a counter if that
/// exists), so a fresh file can be written without destroying what was there. Returns the new
/// name.
pub fn set_aside(path: &Path, now_ms: u64) -> std::io::Result<PathBuf> {
    let (dir, name) = dir_and_name(path);
    let stamp = now_ms / 1000;
    for n in 0..1000u32 {
        let aside = if n == 0 {
            dir.join(format!("{name}.corrupt-{stamp}"))
        } else {
            dir.join(format!("{name}.corrupt-{stamp}-{n}"))
        };
        if std::fs::symlink_metadata(&aside).is_ok() {
            continue;
        }
        std::fs::rename(path, &aside)?;
        sync_dir(dir)?;
        return Ok(aside);
    }
    Err(std::io::Error::new(
        std::io::ErrorKind::AlreadyExists,
        "too many set-aside copies of this state file; remove old .corrupt-* files",
    ))
}

/// Whether `file_name` is exactly a temporary file [`write_private`] makes for the file whose
/// temporaries start with `prefix` (`.NAME.`): `.NAME.<pid>.<16 hex digits>.tmp`. Another
/// file's temporaries (`.NAME.bak.…`) never match.
fn is_temporary_of(file_name: &str, prefix: &str) -> bool {
    let Some(rest) = file_name
        .strip_prefix(prefix)
        .and_then(|r| r.strip_suffix(".tmp"))
    else {
        return false;
    };
    let Some((pid, random)) = rest.split_once('.') else {
        return false;
    };
    !pid.is_empty()
        && pid.bytes().all(|b| b.is_ascii_digit())
        && random.len() == 16
        && random.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Removes temporary files a killed writer of `path` left behind. Call only while holding
/// [`lock`], when no other writer can be mid-write.
pub fn remove_stale_temporaries(path: &Path) -> std::io::Result<usize> {
    let (dir, name) = dir_and_name(path);
    let prefix = format!(".{name}.");
    let mut removed = 0;
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let file_name = entry.file_name();
        let file_name = file_name.to_string_lossy();
        if is_temporary_of(&file_name, &prefix) {
            std::fs::remove_file(entry.path())?;
            removed += 1;
        }
    }
    Ok(removed)
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

/// An exclusive advisory lock on a state file, held by the [`FileStore`](crate::FileStore) that
/// uses it, so that concurrent `cachet run`s on one file take turns instead of overwriting
/// each other's writes. The lock is on a sidecar file (`.NAME.lock`), because saving replaces
/// the state file itself; the kernel releases it when the holder exits, even by `SIGKILL`.
#[derive(Debug)]
pub struct StateLock {
    _file: std::fs::File,
}

/// Waits for the lock of the state file at `path`, saying so on the log if another process
/// holds it.
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
    match file.try_lock() {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => {
            tracing::warn!(path = %path.display(), "another process uses this cache state file; waiting for it to finish");
            file.lock().map_err(io)?;
        }
        Err(std::fs::TryLockError::Error(e)) => return Err(io(e)),
    }
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
        let file = StateFile {
            version: VERSION,
            saved_at_ms: 7,
            partitions: vec![PartitionSnapshot {
                tenant: "t".into(),
                trigger: "post-login".into(),
                entries: vec![SnapshotEntry {
                    key: "k".into(),
                    value: "v".into(),
                    expires_at: 9,
                }],
            }],
            continuations: Vec::new(),
        };
        write(&path, &file).unwrap();
        assert_eq!(read(&path).unwrap(), Some(file));
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
        let empty = StateFile {
            version: VERSION,
            saved_at_ms: 7,
            partitions: Vec::new(),
            continuations: Vec::new(),
        };
        let err = write(&path, &empty).unwrap_err();
        assert!(err.to_string().contains("state.json"), "{err}");
        let names: Vec<_> = std::fs::read_dir(&dir).unwrap().collect();
        assert_eq!(names.len(), 1, "only the directory itself is left");
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn another_schema_version_is_named_as_such() {
        let dir = temp_dir("version");
        let path = dir.join("state.json");
        std::fs::write(&path, r#"{"version":1,"saved_at_ms":0,"entries":[]}"#).unwrap();
        let err = read(&path).unwrap_err().to_string();
        assert!(
            err.contains("schema version 1 (this build reads 2)"),
            "{err}"
        );
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn a_file_set_aside_keeps_its_bytes_under_a_new_name_each_time() {
        let dir = temp_dir("aside");
        let path = dir.join("state.json");
        std::fs::write(&path, "garbage 1").unwrap();
        let first = set_aside(&path, 5_000).unwrap();
        std::fs::write(&path, "garbage 2").unwrap();
        let second = set_aside(&path, 5_000).unwrap();
        assert_eq!(first, dir.join("state.json.corrupt-5"));
        assert_eq!(second, dir.join("state.json.corrupt-5-1"));
        assert_eq!(std::fs::read_to_string(first).unwrap(), "garbage 1");
        assert_eq!(std::fs::read_to_string(second).unwrap(), "garbage 2");
        assert!(!path.exists());
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn stale_temporaries_of_this_file_are_removed_and_nothing_else() {
        let dir = temp_dir("stale");
        let path = dir.join("state.json");
        std::fs::write(dir.join(".state.json.123.00ff00ff00ff00ff.tmp"), "half").unwrap();
        std::fs::write(dir.join(".other.json.123.00ff00ff00ff00ff.tmp"), "other").unwrap();
        // A sibling file whose name extends this one's: its writer's temporaries are its own.
        std::fs::write(dir.join(".state.json.bak.123.00ff00ff00ff00ff.tmp"), "bak").unwrap();
        std::fs::write(dir.join(".state.json.lock"), "").unwrap();
        assert_eq!(remove_stale_temporaries(&path).unwrap(), 1);
        let mut names: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        assert_eq!(
            names,
            [
                ".other.json.123.00ff00ff00ff00ff.tmp",
                ".state.json.bak.123.00ff00ff00ff00ff.tmp",
                ".state.json.lock"
            ]
        );
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn temporary_names_are_not_predictable() {
        assert_ne!(unpredictable_suffix(), unpredictable_suffix());
    }
}
