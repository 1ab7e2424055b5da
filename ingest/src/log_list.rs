//! The CT log list: Google's v3 `log_list.json` (or a list of the same shape) read from the copy
//! bundled in the binary, a file or an http(s) URL, and the choice of the logs to follow.
//!
//! This module only loads, merges and selects, both RFC 6962 `logs` and Static CT `tiled_logs`.
//! A second list (Apple's v5 list, for example) can be merged in, and [`signature`] checks
//! Google's detached signature. Starting a watcher per log is the job of the crate root.

use std::collections::HashSet;
use std::path::PathBuf;
use std::time::Duration;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use serde::{Deserialize, Deserializer};

use certstream_shared::raw::LogSource;
use certstream_shared::subjects::slug;

pub mod signature;

use signature::{signature_path, signature_url, ListVerifier, SignatureError};

/// URL of Google's current v3 log list.
pub const GOOGLE_LOG_LIST_URL: &str = "https://www.gstatic.com/ct/log_list/v3/log_list.json";

/// Timeout of one log list download. Google's v3 list is about 40 KB.
pub const FETCH_TIMEOUT: Duration = Duration::from_secs(30);

/// Google's v3 list as of 2026-05-29, used when no `log_list` setting is given.
const BUNDLED_LOG_LIST: &str = include_str!("../log_lists/google_log_list.json");

/// Google's signature of [`BUNDLED_LOG_LIST`].
const BUNDLED_LOG_LIST_SIGNATURE: &[u8] = include_bytes!("../log_lists/google_log_list.sig");

/// Errors of loading a log list.
#[derive(Debug, thiserror::Error)]
pub enum LogListError {
    #[error("failed to read log list file {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("failed to download log list {url}: {source}")]
    Download {
        url: String,
        #[source]
        source: reqwest::Error,
    },
    #[error("log list {url} returned HTTP status {status}")]
    Status {
        url: String,
        status: reqwest::StatusCode,
    },
    #[error("log list signature {url} returned HTTP status {status}")]
    SignatureStatus {
        url: String,
        status: reqwest::StatusCode,
    },
    #[error(transparent)]
    Signature(#[from] SignatureError),
    #[error("invalid log list {origin}: {source}")]
    Parse {
        origin: String,
        #[source]
        source: serde_json::Error,
    },
}

/// Source of the log list, as the `log_list` setting selects it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogListSource {
    /// The copy compiled into the binary (the setting is empty).
    Bundled,
    /// A local file.
    File(PathBuf),
    /// An `http://` or `https://` URL.
    Url(String),
}

impl LogListSource {
    /// Interprets the `log_list` setting: empty selects the bundled list, a value starting with
    /// `http://` or `https://` is a URL and anything else is a file path.
    pub fn from_setting(setting: Option<&str>) -> Self {
        match setting.map(str::trim) {
            None | Some("") => LogListSource::Bundled,
            Some(text) if is_http_url(text) => LogListSource::Url(text.to_string()),
            Some(text) => LogListSource::File(PathBuf::from(text)),
        }
    }

    /// Loads and parses the list without checking a signature. `http` is used only for a URL
    /// source.
    pub async fn load(&self, http: &reqwest::Client) -> Result<LogList, LogListError> {
        self.load_verified(http, None).await
    }

    /// Loads and parses the list. With a `verifier`, a signature next to the list (`.sig` in
    /// place of `.json`) must verify, and a list without one is accepted with a warning. The
    /// bundled list carries Google's signature, checked like any other.
    pub async fn load_verified(
        &self,
        http: &reqwest::Client,
        verifier: Option<&ListVerifier>,
    ) -> Result<LogList, LogListError> {
        match self {
            LogListSource::Bundled => {
                if let Some(verifier) = verifier {
                    let list = BUNDLED_LOG_LIST.as_bytes();
                    check_signature(verifier, list, Some(BUNDLED_LOG_LIST_SIGNATURE), "bundled")?;
                }
                LogList::parse(BUNDLED_LOG_LIST.as_bytes(), "bundled")
            }
            LogListSource::File(path) => {
                let bytes = read_file(path).await?;
                let origin = path.display().to_string();
                if let Some(verifier) = verifier {
                    let signature_file = signature_path(path);
                    let signature = match tokio::fs::read(&signature_file).await {
                        Ok(signature) => Some(signature),
                        Err(err) if err.kind() == std::io::ErrorKind::NotFound => None,
                        Err(source) => {
                            return Err(LogListError::Read {
                                path: signature_file,
                                source,
                            })
                        }
                    };
                    check_signature(verifier, &bytes, signature.as_deref(), &origin)?;
                }
                LogList::parse(&bytes, &origin)
            }
            LogListSource::Url(url) => {
                let bytes = download_bytes(http, url).await?;
                if let Some(verifier) = verifier {
                    let signature = download_signature(http, url).await?;
                    check_signature(verifier, &bytes, signature.as_deref(), url)?;
                }
                LogList::parse(&bytes, url)
            }
        }
    }
}

/// Verifies `signature` over `list`, or logs that the list at `origin` has none.
fn check_signature(
    verifier: &ListVerifier,
    list: &[u8],
    signature: Option<&[u8]>,
    origin: &str,
) -> Result<(), LogListError> {
    match signature {
        Some(signature) => {
            verifier.verify(list, signature, origin)?;
            tracing::debug!(origin = %origin, "Log list signature verified");
        }
        None => {
            tracing::warn!(origin = %origin, "Log list has no signature next to it, loaded unverified")
        }
    }
    Ok(())
}

async fn read_file(path: &std::path::Path) -> Result<Vec<u8>, LogListError> {
    tokio::fs::read(path)
        .await
        .map_err(|source| LogListError::Read {
            path: path.to_path_buf(),
            source,
        })
}

/// Downloads `url` with [`FETCH_TIMEOUT`].
async fn download_bytes(http: &reqwest::Client, url: &str) -> Result<Vec<u8>, LogListError> {
    let download_error = |source| LogListError::Download {
        url: url.to_string(),
        source,
    };
    let response = http
        .get(url)
        .timeout(FETCH_TIMEOUT)
        .send()
        .await
        .map_err(download_error)?;
    let status = response.status();
    if !status.is_success() {
        return Err(LogListError::Status {
            url: url.to_string(),
            status,
        });
    }
    let bytes = response.bytes().await.map_err(download_error)?;
    Ok(bytes.to_vec())
}

/// Downloads the signature next to the list at `url`, or returns `None` when the server has
/// none (404).
async fn download_signature(
    http: &reqwest::Client,
    url: &str,
) -> Result<Option<Vec<u8>>, LogListError> {
    let signature_url = signature_url(url);
    match download_bytes(http, &signature_url).await {
        Ok(signature) => Ok(Some(signature)),
        Err(LogListError::Status { status, .. }) if status == reqwest::StatusCode::NOT_FOUND => {
            Ok(None)
        }
        Err(LogListError::Status { url, status }) => {
            Err(LogListError::SignatureStatus { url, status })
        }
        Err(err) => Err(err),
    }
}

impl std::fmt::Display for LogListSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LogListSource::Bundled => f.write_str("bundled"),
            LogListSource::File(path) => write!(f, "{}", path.display()),
            LogListSource::Url(url) => f.write_str(url),
        }
    }
}

/// A log list in Google's v3 shape. Apple's v5 lists parse too because they share these fields.
#[derive(Debug, Clone, Deserialize)]
pub struct LogList {
    pub operators: Vec<Operator>,
}

/// One log operator and its logs.
#[derive(Debug, Clone, Deserialize)]
pub struct Operator {
    pub name: String,
    /// RFC 6962 logs. Some operators run only tiled logs and omit the key.
    #[serde(default)]
    pub logs: Vec<Log>,
    /// Static CT (tiled) logs.
    #[serde(default)]
    pub tiled_logs: Vec<TiledLog>,
}

/// An RFC 6962 log as the list describes it.
#[derive(Debug, Clone, Deserialize)]
pub struct Log {
    pub description: String,
    /// Base64 SHA-256 hash of the log's public key.
    pub log_id: String,
    /// Base64 DER public key.
    pub key: String,
    /// Base URL of the RFC 6962 API, normally ending in `/`.
    pub url: String,
    /// Maximum merge delay in seconds.
    #[serde(default)]
    pub mmd: Option<u64>,
    #[serde(default, deserialize_with = "deserialize_state")]
    pub state: Option<LogState>,
    #[serde(default)]
    pub temporal_interval: Option<TemporalInterval>,
}

/// A Static CT log as the list describes it.
#[derive(Debug, Clone, Deserialize)]
pub struct TiledLog {
    pub description: String,
    pub log_id: String,
    pub key: String,
    pub submission_url: String,
    /// Base URL of the tiles and checkpoint.
    pub monitoring_url: String,
    #[serde(default)]
    pub mmd: Option<u64>,
    #[serde(default, deserialize_with = "deserialize_state")]
    pub state: Option<LogState>,
    #[serde(default)]
    pub temporal_interval: Option<TemporalInterval>,
}

/// A log to follow: how it appears in published batches, and how to read it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FollowedLog {
    pub source: LogSource,
    /// Name of the operator entry that lists the log.
    pub operator: String,
    pub api: LogApi,
}

/// The read API of a followed log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogApi {
    /// RFC 6962 `get-sth` and `get-entries` below `source.url`.
    Rfc6962 {
        /// DER SubjectPublicKeyInfo of the log key, which signs its tree heads.
        key: Vec<u8>,
    },
    /// Static CT checkpoint and tiles below `source.url` (the monitoring prefix).
    StaticCt {
        /// The submission prefix, whose scheme-less form is the checkpoint origin.
        submission_url: String,
        /// DER SubjectPublicKeyInfo of the log key, decoded from the list's base64.
        key: Vec<u8>,
    },
}

/// The range of certificate expiry times a log accepts, as RFC 3339 timestamps.
#[derive(Debug, Clone, Deserialize)]
pub struct TemporalInterval {
    pub start_inclusive: String,
    pub end_exclusive: String,
}

/// Lifecycle state of a log, which the list gives as an object with one key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogState {
    Pending,
    Qualified,
    Usable,
    ReadOnly,
    Retired,
    Rejected,
    /// A state name this version does not know.
    Other(String),
}

impl LogState {
    fn from_name(name: &str) -> Self {
        match name {
            "pending" => LogState::Pending,
            "qualified" => LogState::Qualified,
            "usable" => LogState::Usable,
            "readonly" => LogState::ReadOnly,
            "retired" => LogState::Retired,
            "rejected" => LogState::Rejected,
            other => LogState::Other(other.to_string()),
        }
    }

    /// Returns whether the log accepts or recently accepted certificates that browsers trust,
    /// so that its new entries are worth streaming.
    pub fn is_followed(&self) -> bool {
        matches!(
            self,
            LogState::Usable | LogState::Qualified | LogState::ReadOnly
        )
    }
}

fn deserialize_state<'de, D>(deserializer: D) -> Result<Option<LogState>, D::Error>
where
    D: Deserializer<'de>,
{
    let object: Option<serde_json::Map<String, serde_json::Value>> =
        Option::deserialize(deserializer)?;
    Ok(object.and_then(|object| object.keys().next().map(|name| LogState::from_name(name))))
}

impl LogList {
    /// Parses a list. The `origin` (a path, URL or `bundled`) names the list in the error.
    pub fn parse(bytes: &[u8], origin: &str) -> Result<Self, LogListError> {
        serde_json::from_slice(bytes).map_err(|source| LogListError::Parse {
            origin: origin.to_string(),
            source,
        })
    }

    /// Downloads and parses the list at `url`, with [`FETCH_TIMEOUT`].
    pub async fn download(http: &reqwest::Client, url: &str) -> Result<Self, LogListError> {
        let bytes = download_bytes(http, url).await?;
        LogList::parse(&bytes, url)
    }

    /// Appends the logs of `other` whose `log_id` this list does not contain yet, under their
    /// own operator entries after the existing ones. Appending keeps the order, and so the ids,
    /// of this list's logs. An operator can appear twice then, so code grouping logs by operator
    /// goes by name.
    pub fn merge(&mut self, other: LogList) {
        let mut known: HashSet<String> = self
            .operators
            .iter()
            .flat_map(|operator| {
                let logs = operator.logs.iter().map(|log| log.log_id.clone());
                let tiled = operator.tiled_logs.iter().map(|log| log.log_id.clone());
                logs.chain(tiled)
            })
            .collect();
        for mut operator in other.operators {
            operator.logs.retain(|log| known.insert(log.log_id.clone()));
            operator
                .tiled_logs
                .retain(|log| known.insert(log.log_id.clone()));
            if !operator.logs.is_empty() || !operator.tiled_logs.is_empty() {
                self.operators.push(operator);
            }
        }
    }

    /// Selects the RFC 6962 logs to follow, as [`LogList::followed`] does.
    pub fn followed_logs(&self) -> Vec<LogSource> {
        self.followed()
            .into_iter()
            .filter(|log| matches!(log.api, LogApi::Rfc6962 { .. }))
            .map(|log| log.source)
            .collect()
    }

    /// Selects the logs to follow: RFC 6962 and Static CT logs in state usable, qualified or
    /// readonly, each operator's RFC 6962 logs before its tiled logs. Each gets a slug of its
    /// description as id, with `_2`, `_3`... appended when two descriptions give the same slug.
    /// A second log with the URL of an earlier one is skipped, because cursors are keyed by URL,
    /// and so is a tiled log whose key is not base64.
    pub fn followed(&self) -> Vec<FollowedLog> {
        let mut selection = Selection::default();
        for operator in &self.operators {
            for log in &operator.logs {
                let Ok(key) = BASE64.decode(log.key.trim()) else {
                    tracing::warn!(description = %log.description, "Log skipped, its key is not base64");
                    continue;
                };
                selection.add(
                    &operator.name,
                    &log.description,
                    &log.url,
                    log.state.as_ref(),
                    LogApi::Rfc6962 { key },
                );
            }
            for log in &operator.tiled_logs {
                let Ok(key) = BASE64.decode(log.key.trim()) else {
                    tracing::warn!(description = %log.description, "Tiled log skipped, its key is not base64");
                    continue;
                };
                let api = LogApi::StaticCt {
                    submission_url: log.submission_url.clone(),
                    key,
                };
                selection.add(
                    &operator.name,
                    &log.description,
                    &log.monitoring_url,
                    log.state.as_ref(),
                    api,
                );
            }
        }
        selection.followed
    }
}

/// Logs selected so far, with the ids and URLs they use.
#[derive(Default)]
struct Selection {
    ids: HashSet<String>,
    urls: HashSet<String>,
    followed: Vec<FollowedLog>,
}

impl Selection {
    fn add(
        &mut self,
        operator: &str,
        description: &str,
        url: &str,
        state: Option<&LogState>,
        api: LogApi,
    ) {
        if !state.is_some_and(LogState::is_followed) {
            tracing::debug!(description = %description, state = ?state, "Log skipped for its state");
            return;
        }
        if !self.urls.insert(url.to_string()) {
            tracing::warn!(description = %description, url = %url, "Log skipped, its URL appears twice in the list");
            return;
        }
        self.followed.push(FollowedLog {
            source: LogSource {
                id: unique_slug(description, &mut self.ids),
                name: description.to_string(),
                url: url.to_string(),
            },
            operator: operator.to_string(),
            api,
        });
    }
}

/// Returns the slug of `description`, with the smallest numeric suffix from 2 up that makes it
/// absent from `used_ids`, and adds it there.
pub fn unique_slug(description: &str, used_ids: &mut HashSet<String>) -> String {
    let base = slug(description);
    let mut candidate = base.clone();
    let mut suffix = 2u32;
    while used_ids.contains(&candidate) {
        candidate = format!("{base}_{suffix}");
        suffix += 1;
    }
    used_ids.insert(candidate.clone());
    candidate
}

fn is_http_url(text: &str) -> bool {
    let lower = text.to_ascii_lowercase();
    lower.starts_with("http://") || lower.starts_with("https://")
}

#[cfg(test)]
mod tests;
