//! Locations and loaders of the committed fixture files under `tests/fixtures`.
//!
//! Only reading and parsing lives here. Turning fixtures into served entries is
//! [`crate::fake_log`]'s job, and turning them into expected messages is [`crate::expected`]'s.

use std::path::{Path, PathBuf};

use anyhow::Context;
use serde::Deserialize;

/// Path of the RFC 6962 entries captured from production logs, relative to [`fixtures_dir`].
pub const LIVE_ENTRIES: &str = "rfc6962/live-entries.json";

/// Directory of the navigli2025h2 Static CT log prefix, relative to [`fixtures_dir`].
pub const NAVIGLI_DIR: &str = "static-ct/navigli2025h2";

/// Path of the certspotter oracle inside [`NAVIGLI_DIR`].
pub const NAVIGLI_ORACLE: &str = "expected/certspotter-0.16.0.jsonl";

/// Returns the `tests/fixtures` directory of this crate's source tree.
pub fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures")
}

/// One item of the live-entries fixture: a `get-entries` item as a production log served it,
/// and the messages that a certstream server produced for it.
#[derive(Debug, Clone, Deserialize)]
pub struct LiveEntry {
    /// Fixture id, for example `google_argon2026h2_000`.
    pub name: String,
    /// Description of the production log, for example `Google 'Argon2026h2'`.
    pub log_name: String,
    /// URL of the production log, with a trailing slash.
    pub log_url: String,
    /// Index of the entry in the production log.
    pub cert_index: u64,
    /// Base64 MerkleTreeLeaf, exactly as the log served it.
    pub leaf_input: String,
    /// Base64 extra data, exactly as the log served it.
    pub extra_data: String,
    /// Expected full-stream message (JSON text).
    pub expected_full: String,
    /// Expected lite-stream message (JSON text).
    pub expected_lite: String,
    /// Expected domains-only message (JSON text).
    pub expected_domains_only: String,
}

/// Reads the live-entries fixture in file order, which is also the order the fake log serves.
pub fn read_live_entries() -> anyhow::Result<Vec<LiveEntry>> {
    let path = fixtures_dir().join(LIVE_ENTRIES);
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("failed to read fixture {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("invalid fixture {}", path.display()))
}

/// Reads a file of the navigli fixture, `relative` to [`NAVIGLI_DIR`].
pub fn read_navigli_file(relative: &str) -> anyhow::Result<Vec<u8>> {
    let path = fixtures_dir().join(NAVIGLI_DIR).join(relative);
    std::fs::read(&path).with_context(|| format!("failed to read fixture {}", path.display()))
}
