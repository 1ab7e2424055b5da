//! RFC 6962 logs: an HTTP client for `get-sth` and `get-entries`. The generic
//! [`crate::watcher`] polls a log through it.
//!
//! With the log key, the client verifies the signature of every tree head. It does not parse
//! leaves: entries stay base64 as the log served them, and the decoder parses them.

use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::Deserialize;

use crate::fetch::{self, FetchError};
use crate::tree_head::TreeHeadKey;

/// Largest `get-sth` or `get-entries` body accepted. A page of 256 entries with long chains is
/// a few MB, so 64 MiB leaves room for logs that serve larger pages.
const MAX_RESPONSE_BYTES: usize = 64 * 1024 * 1024;

/// A signed tree head as `get-sth` returns it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct SignedTreeHead {
    pub tree_size: u64,
    /// Milliseconds since the Unix epoch.
    pub timestamp: u64,
    /// Base64 Merkle tree root.
    #[serde(default)]
    pub sha256_root_hash: String,
    /// Base64 TLS DigitallySigned TreeHeadSignature.
    #[serde(default)]
    pub tree_head_signature: String,
}

/// One entry of a `get-entries` response, base64 as served.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct LogEntry {
    pub leaf_input: String,
    pub extra_data: String,
}

#[derive(Deserialize)]
struct EntriesResponse {
    entries: Vec<LogEntry>,
}

/// Client of one RFC 6962 log.
#[derive(Debug, Clone)]
pub struct Rfc6962Client {
    http: reqwest::Client,
    sth_url: String,
    entries_url: String,
    /// Key that tree heads must be signed with; `None` accepts them unverified.
    key: Option<TreeHeadKey>,
}

impl Rfc6962Client {
    /// Creates the client of the log at `log_url` (from the log list, with or without a
    /// trailing `/`). Requests use the timeout that `http` was built with.
    pub fn new(http: reqwest::Client, log_url: &str) -> Self {
        let base = log_url.trim_end_matches('/');
        Rfc6962Client {
            http,
            sth_url: format!("{base}/ct/v1/get-sth"),
            entries_url: format!("{base}/ct/v1/get-entries"),
            key: None,
        }
    }

    /// Makes [`Rfc6962Client::get_sth`] reject tree heads that `key` did not sign.
    pub fn with_key(self, key: TreeHeadKey) -> Self {
        Rfc6962Client {
            key: Some(key),
            ..self
        }
    }

    pub fn sth_url(&self) -> &str {
        &self.sth_url
    }

    /// Requests the current signed tree head and verifies its signature when the client has
    /// the log key.
    pub async fn get_sth(&self) -> Result<SignedTreeHead, FetchError> {
        let head: SignedTreeHead = self.get_json(&self.sth_url).await?;
        if let Some(key) = &self.key {
            key.verify(
                head.timestamp,
                head.tree_size,
                &head.sha256_root_hash,
                &head.tree_head_signature,
            )
            .map_err(|source| FetchError::TreeHead {
                url: self.sth_url.clone(),
                source,
            })?;
        }
        Ok(head)
    }

    /// Requests entries `start..=end`. The log may return fewer than requested (a short page),
    /// never more once this returns: extra entries are dropped.
    pub async fn get_entries(&self, start: u64, end: u64) -> Result<Vec<LogEntry>, FetchError> {
        let url = format!("{}?start={start}&end={end}", self.entries_url);
        let mut entries = self.get_json::<EntriesResponse>(&url).await?.entries;
        let requested =
            usize::try_from(end.saturating_sub(start).saturating_add(1)).unwrap_or(usize::MAX);
        entries.truncate(requested);
        Ok(entries)
    }

    /// Sends a GET request and decodes the JSON body.
    async fn get_json<T: DeserializeOwned>(&self, url: &str) -> Result<T, FetchError> {
        let body = fetch::get_bytes(&self.http, url, MAX_RESPONSE_BYTES).await?;
        serde_json::from_slice(&body).map_err(|source| FetchError::Decode {
            url: url.to_string(),
            source,
        })
    }
}

/// Builds the HTTP client all watchers share, with the request timeout from the settings.
pub fn http_client(request_timeout: Duration) -> Result<reqwest::Client, reqwest::Error> {
    reqwest::Client::builder()
        .timeout(request_timeout)
        .connect_timeout(request_timeout)
        .user_agent(concat!("certstream-ingest/", env!("CARGO_PKG_VERSION")))
        .build()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_have_single_slash() {
        for log_url in [
            "https://ct.example/logs/a/",
            "https://ct.example/logs/a",
            "https://ct.example/logs/a//",
        ] {
            let client = Rfc6962Client::new(reqwest::Client::new(), log_url);
            assert_eq!(client.sth_url, "https://ct.example/logs/a/ct/v1/get-sth");
            assert_eq!(
                client.entries_url,
                "https://ct.example/logs/a/ct/v1/get-entries"
            );
        }
    }

    #[test]
    fn host_only_url() {
        let client = Rfc6962Client::new(reqwest::Client::new(), "https://ct.example/");
        assert_eq!(client.sth_url, "https://ct.example/ct/v1/get-sth");
    }
}
