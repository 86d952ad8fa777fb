//! A partition saved to a JSON file, so successive `cachet run` invocations behave like
//! successive logins.
//!
//! The file holds tokens, so it is written with mode 0600, atomically (a temporary file in the
//! same directory, then a rename), and its schema is versioned so a future format is refused
//! rather than misread.

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

/// Writes `bytes` to `path` atomically (a temporary file in the same directory, synced, then
/// renamed over it) and readable by the owner only: readers never see a half-written file, and
/// files that may hold tokens or code are not left world-readable.
pub(crate) fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut out = options.open(&tmp)?;
    out.write_all(bytes).and_then(|()| out.sync_all())?;
    std::fs::rename(&tmp, path)
}
