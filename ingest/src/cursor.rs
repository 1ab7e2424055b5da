//! Per-log cursors: the next index to fetch and the highest tree size seen, keyed by log URL.
//!
//! The store lives in memory and either in a JetStream key-value bucket ([`kv`], on NATS) or,
//! when `ct_log_state_file` is set, in a JSON file that is replaced atomically (temporary file in
//! the same directory, fsync, rename). Watchers update the store only after the bus has stored a
//! batch, so a saved cursor never covers an entry that was not published. A watcher writes its
//! cursor to the bucket itself after each batch, and the crate root saves the file about once
//! per second and at shutdown.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

use serde::{Deserialize, Serialize};

pub mod kv;

use kv::{KvCursorError, KvCursors};

/// Version written to the state file. Files with another version are rejected.
const STATE_FILE_VERSION: u32 = 1;

/// Position of one log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cursor {
    /// Index of the next entry to fetch. Every entry below it has been published. The name
    /// `current_index` is accepted on read because reloading01/certstream-server-rust writes
    /// its state file in this shape with that name.
    #[serde(alias = "current_index")]
    pub next_index: u64,
    /// Highest tree size the log has reported.
    pub tree_size: u64,
}

/// Errors of reading or writing the state file.
#[derive(Debug, thiserror::Error)]
pub enum CursorError {
    #[error("failed to read cursor state file {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("invalid cursor state file {path}: {source}; fix or delete it to start every log near its head")]
    Parse {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    #[error(
        "unsupported cursor state file version {version} in {path}, expected {STATE_FILE_VERSION}"
    )]
    Version { path: PathBuf, version: u32 },
    #[error("failed to write cursor state file {path}: {source}")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// Contents of the state file.
#[derive(Debug, Serialize, Deserialize)]
struct StateFile {
    version: u32,
    /// Cursor per log URL.
    logs: BTreeMap<String, Cursor>,
}

/// Cursors of all logs, shared by the watchers.
#[derive(Debug)]
pub struct CursorStore {
    path: Option<PathBuf>,
    /// The bucket that [`CursorStore::persist`] writes to, on NATS.
    bucket: Option<KvCursors>,
    state: Mutex<StoreState>,
}

#[derive(Debug, Default)]
struct StoreState {
    cursors: BTreeMap<String, Cursor>,
    /// Changes since the last successful save.
    dirty: bool,
}

/// Returns where a log without a saved cursor starts: `backfill` entries before the head, or 0
/// when the log has fewer entries than that.
pub fn start_index(tree_size: u64, backfill: u64) -> u64 {
    tree_size.saturating_sub(backfill)
}

impl CursorStore {
    /// Creates a store kept in memory only.
    pub fn in_memory() -> Self {
        CursorStore {
            path: None,
            bucket: None,
            state: Mutex::new(StoreState::default()),
        }
    }

    /// Opens the store backed by a JetStream key-value bucket, loaded with its cursors. When
    /// `path` is set, the cursors are also saved to that file as a local copy, which is not read.
    pub async fn open_bucket(
        bucket: KvCursors,
        path: Option<PathBuf>,
    ) -> Result<Self, KvCursorError> {
        let cursors = bucket.load_all().await?;
        Ok(CursorStore {
            path,
            bucket: Some(bucket),
            state: Mutex::new(StoreState {
                cursors,
                dirty: false,
            }),
        })
    }

    /// Whether cursors are written to a key-value bucket.
    pub fn has_bucket(&self) -> bool {
        self.bucket.is_some()
    }

    /// Writes the cursor of the log at `url` to the bucket and returns once it is stored. Does
    /// nothing without a bucket.
    pub async fn persist(&self, url: &str, cursor: Cursor) -> Result<(), KvCursorError> {
        match &self.bucket {
            Some(bucket) => bucket.put(url, cursor).await,
            None => Ok(()),
        }
    }

    /// Replaces the in-memory cursor of the log at `url` with the one in the bucket, which
    /// another replica may have moved while it held the log's lease. Does nothing without a
    /// bucket or when the bucket has no cursor for the log.
    pub async fn reload(&self, url: &str) -> Result<(), KvCursorError> {
        let Some(bucket) = &self.bucket else {
            return Ok(());
        };
        if let Some(cursor) = bucket.get(url).await? {
            self.set(url, cursor);
        }
        Ok(())
    }

    /// Opens the store backed by `path`: a missing file gives an empty store, an unreadable or
    /// corrupt file is an error.
    pub fn open(path: PathBuf) -> Result<Self, CursorError> {
        let cursors = match std::fs::read(&path) {
            Ok(bytes) => parse_state_file(&bytes, &path)?,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => BTreeMap::new(),
            Err(source) => return Err(CursorError::Read { path, source }),
        };
        Ok(CursorStore {
            path: Some(path),
            bucket: None,
            state: Mutex::new(StoreState {
                cursors,
                dirty: false,
            }),
        })
    }

    /// Opens the file store when `path` is set, else an in-memory store.
    pub fn from_setting(path: Option<PathBuf>) -> Result<Self, CursorError> {
        match path {
            Some(path) => CursorStore::open(path),
            None => Ok(CursorStore::in_memory()),
        }
    }

    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// Returns the saved cursor of the log at `url`.
    pub fn get(&self, url: &str) -> Option<Cursor> {
        self.lock().cursors.get(url).copied()
    }

    /// Records the cursor of the log at `url` for the next save.
    pub fn set(&self, url: &str, cursor: Cursor) {
        let mut state = self.lock();
        if state.cursors.get(url) != Some(&cursor) {
            state.cursors.insert(url.to_string(), cursor);
            state.dirty = true;
        }
    }

    /// Number of logs with a cursor.
    pub fn len(&self) -> usize {
        self.lock().cursors.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Writes the file if a cursor changed since the last save. Does nothing for an in-memory
    /// store. Returns whether the file was written. Blocking: call it from `spawn_blocking`.
    pub fn save_if_dirty(&self) -> Result<bool, CursorError> {
        let Some(path) = &self.path else {
            return Ok(false);
        };
        let snapshot = {
            let mut state = self.lock();
            if !state.dirty {
                return Ok(false);
            }
            // Cleared before writing, so a change made during the write marks the store again.
            state.dirty = false;
            StateFile {
                version: STATE_FILE_VERSION,
                logs: state.cursors.clone(),
            }
        };
        match write_atomically(path, &snapshot) {
            Ok(()) => Ok(true),
            Err(source) => {
                self.lock().dirty = true;
                Err(CursorError::Write {
                    path: path.clone(),
                    source,
                })
            }
        }
    }

    fn lock(&self) -> MutexGuard<'_, StoreState> {
        // The state is a plain map, consistent even if a holder panicked.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

fn parse_state_file(bytes: &[u8], path: &Path) -> Result<BTreeMap<String, Cursor>, CursorError> {
    let file: StateFile = serde_json::from_slice(bytes).map_err(|source| CursorError::Parse {
        path: path.to_path_buf(),
        source,
    })?;
    if file.version != STATE_FILE_VERSION {
        return Err(CursorError::Version {
            path: path.to_path_buf(),
            version: file.version,
        });
    }
    Ok(file.logs)
}

/// Replaces `path` with the JSON of `contents`, so that a reader or a restart after a crash
/// finds either the old or the new file and never a partial one.
fn write_atomically(path: &Path, contents: &StateFile) -> std::io::Result<()> {
    let bytes = serde_json::to_vec_pretty(contents).map_err(std::io::Error::other)?;
    let directory = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let file_name = path
        .file_name()
        .ok_or_else(|| std::io::Error::other("the state file path has no file name"))?;
    let mut temporary_name = std::ffi::OsString::from(".");
    temporary_name.push(file_name);
    temporary_name.push(format!(".{}.tmp", std::process::id()));
    let temporary = directory.join(temporary_name);

    let result =
        write_and_sync(&temporary, &bytes).and_then(|()| std::fs::rename(&temporary, path));
    if result.is_err() {
        let _ = std::fs::remove_file(&temporary);
    }
    result?;
    sync_directory(&directory);
    Ok(())
}

fn write_and_sync(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut file = File::create(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

/// Flushes the rename to disk. Some platforms and file systems cannot open or sync a directory,
/// and the rename is already visible to readers then, so a failure here is ignored.
fn sync_directory(directory: &Path) {
    if let Ok(handle) = File::open(directory) {
        let _ = handle.sync_all();
    }
}

#[cfg(test)]
mod tests;
