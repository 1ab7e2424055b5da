//! Raw CT entries as ingest publishes them and decoders consume them.
//!
//! A batch carries consecutive entries of one log in the RFC 6962 `get-entries` form
//! (`leaf_input` and `extra_data`, base64 exactly as the log served them), so the decoder has one
//! input format whatever API the log speaks. The payload is JSON so that any NATS client can read
//! it; it does not carry decoded certificates.

use serde::{Deserialize, Serialize};

/// The log an entry came from, as the log list describes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogSource {
    /// Subject-safe slug of the log, unique within one log list (see [`crate::subjects::slug`]).
    pub id: String,
    /// The log's `description` from the log list.
    pub name: String,
    /// The log's URL exactly as the log list gives it.
    pub url: String,
}

/// One entry of a CT log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RawEntry {
    /// Index of the entry in its log.
    pub index: u64,
    /// Base64 `MerkleTreeLeaf`.
    pub leaf_input: String,
    /// Base64 `extra_data` (certificate chain, or `PrecertChainEntry` for precertificates).
    pub extra_data: String,
    /// Link to the entry; when absent the decoder builds the RFC 6962 `get-entries` link.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cert_link: Option<String>,
}

/// Consecutive entries of one log, fetched together.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RawBatch {
    pub log: LogSource,
    /// Unix time in seconds (with fraction) when ingest received the entries.
    pub seen: f64,
    pub entries: Vec<RawEntry>,
}

impl RawBatch {
    /// Index of the first entry, or `None` for an empty batch.
    pub fn first_index(&self) -> Option<u64> {
        self.entries.first().map(|entry| entry.index)
    }

    /// Index of the last entry, or `None` for an empty batch.
    pub fn last_index(&self) -> Option<u64> {
        self.entries.last().map(|entry| entry.index)
    }

    /// Identifier for JetStream de-duplication: the log and the index range, so a batch that is
    /// published again after a crash is stored once.
    pub fn message_id(&self) -> String {
        format!(
            "{}:{}-{}",
            self.log.id,
            self.first_index().unwrap_or(0),
            self.last_index().unwrap_or(0)
        )
    }

    /// Splits the batch into batches whose JSON encoding stays under `max_bytes`; a single entry
    /// larger than that still gets a batch of its own.
    pub fn split_to_fit(self, max_bytes: usize) -> Vec<RawBatch> {
        // The envelope (log source, seen, brackets) is counted once per part.
        let envelope = self.log.id.len() + self.log.name.len() + self.log.url.len() + 96;
        let mut parts = Vec::new();
        let mut current: Vec<RawEntry> = Vec::new();
        let mut size = envelope;
        for entry in self.entries {
            let entry_size = entry.leaf_input.len()
                + entry.extra_data.len()
                + entry.cert_link.as_ref().map_or(0, String::len)
                + 80;
            if !current.is_empty() && size + entry_size > max_bytes {
                parts.push(RawBatch {
                    log: self.log.clone(),
                    seen: self.seen,
                    entries: std::mem::take(&mut current),
                });
                size = envelope;
            }
            size += entry_size;
            current.push(entry);
        }
        if !current.is_empty() {
            parts.push(RawBatch {
                log: self.log,
                seen: self.seen,
                entries: current,
            });
        }
        parts
    }
}

/// Current Unix time in seconds with millisecond precision.
pub fn unix_now() -> f64 {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    (now.as_millis() as f64) / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn batch(count: u64, entry_bytes: usize) -> RawBatch {
        RawBatch {
            log: LogSource {
                id: "test_log".into(),
                name: "Test".into(),
                url: "https://log.test/".into(),
            },
            seen: 1.5,
            entries: (0..count)
                .map(|index| RawEntry {
                    index: 100 + index,
                    leaf_input: "A".repeat(entry_bytes),
                    extra_data: String::new(),
                    cert_link: None,
                })
                .collect(),
        }
    }

    #[test]
    fn split_keeps_every_entry_in_order() {
        let parts = batch(10, 1000).split_to_fit(3500);
        let indices: Vec<u64> = parts
            .iter()
            .flat_map(|part| part.entries.iter().map(|e| e.index))
            .collect();
        assert_eq!(indices, (100..110).collect::<Vec<_>>());
        for part in &parts {
            assert!(serde_json::to_vec(part).unwrap().len() <= 3500);
        }
        assert_eq!(parts.len(), 4);
    }

    #[test]
    fn oversized_entry_gets_own_batch() {
        let parts = batch(2, 5000).split_to_fit(1000);
        assert_eq!(parts.len(), 2);
        assert_eq!(parts[1].message_id(), "test_log:101-101");
    }
}
