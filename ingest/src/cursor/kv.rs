//! Cursors in a JetStream key-value bucket, for ingest processes on NATS: they survive a
//! crash of the process and any replica can read them.
//!
//! Keys are the hex SHA-256 of the log URL, because KV keys cannot contain `:` and most URL
//! characters. Values are JSON with the URL, the next index and the highest tree size.

use std::collections::BTreeMap;

use async_nats::jetstream::{self, kv};
use bytes::Bytes;
use futures::TryStreamExt;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::Cursor;

/// Revisions kept per key. Only the latest is read, and one older revision helps debugging.
const HISTORY: i64 = 2;

/// Errors of the cursor bucket.
#[derive(Debug, thiserror::Error)]
pub enum KvCursorError {
    #[error("failed to open cursor bucket {bucket}: {message}")]
    Open { bucket: String, message: String },
    #[error("failed to read cursor bucket {bucket}: {message}")]
    Read { bucket: String, message: String },
    #[error("failed to write the cursor of {url} to bucket {bucket}: {message}")]
    Write {
        bucket: String,
        url: String,
        message: String,
    },
}

#[derive(Debug, Serialize, Deserialize)]
struct StoredCursor {
    url: String,
    #[serde(flatten)]
    cursor: Cursor,
}

/// The cursor bucket.
#[derive(Debug, Clone)]
pub struct KvCursors {
    bucket: String,
    store: kv::Store,
}

impl KvCursors {
    /// Opens `bucket`, creating it with file storage if it does not exist.
    pub async fn open(client: async_nats::Client, bucket: &str) -> Result<Self, KvCursorError> {
        let context = jetstream::new(client);
        let config = kv::Config {
            bucket: bucket.to_string(),
            description: "certstream ingest cursors".to_string(),
            history: HISTORY,
            storage: jetstream::stream::StorageType::File,
            ..Default::default()
        };
        let store = match context.get_key_value(bucket).await {
            Ok(store) => store,
            Err(_) => {
                context
                    .create_key_value(config)
                    .await
                    .map_err(|err| KvCursorError::Open {
                        bucket: bucket.to_string(),
                        message: err.to_string(),
                    })?
            }
        };
        Ok(KvCursors {
            bucket: bucket.to_string(),
            store,
        })
    }

    /// Reads every stored cursor, keyed by log URL. Unreadable values are skipped with a
    /// warning, so their logs start near the head.
    pub async fn load_all(&self) -> Result<BTreeMap<String, Cursor>, KvCursorError> {
        let read_error = |err: &dyn std::fmt::Display| KvCursorError::Read {
            bucket: self.bucket.clone(),
            message: err.to_string(),
        };
        let keys: Vec<String> = self
            .store
            .keys()
            .await
            .map_err(|err| read_error(&err))?
            .try_collect()
            .await
            .map_err(|err| read_error(&err))?;
        let mut cursors = BTreeMap::new();
        for key in keys {
            let Some(value) = self.store.get(&key).await.map_err(|err| read_error(&err))? else {
                continue;
            };
            match serde_json::from_slice::<StoredCursor>(&value) {
                Ok(stored) => {
                    cursors.insert(stored.url, stored.cursor);
                }
                Err(err) => {
                    tracing::warn!(bucket = %self.bucket, key = %key, error = %err, "Invalid cursor skipped")
                }
            }
        }
        Ok(cursors)
    }

    /// Reads the stored cursor of the log at `url`. An unreadable value counts as missing.
    pub async fn get(&self, url: &str) -> Result<Option<Cursor>, KvCursorError> {
        let value = self
            .store
            .get(cursor_key(url))
            .await
            .map_err(|err| KvCursorError::Read {
                bucket: self.bucket.clone(),
                message: err.to_string(),
            })?;
        let Some(value) = value else {
            return Ok(None);
        };
        match serde_json::from_slice::<StoredCursor>(&value) {
            Ok(stored) if stored.url == url => Ok(Some(stored.cursor)),
            Ok(stored) => {
                tracing::warn!(bucket = %self.bucket, url = %url, stored_url = %stored.url, "Cursor of another URL under this key, ignored");
                Ok(None)
            }
            Err(err) => {
                tracing::warn!(bucket = %self.bucket, url = %url, error = %err, "Invalid cursor ignored");
                Ok(None)
            }
        }
    }

    /// Writes the cursor of the log at `url` and returns once the server stored it.
    pub async fn put(&self, url: &str, cursor: Cursor) -> Result<(), KvCursorError> {
        let write_error = |message: String| KvCursorError::Write {
            bucket: self.bucket.clone(),
            url: url.to_string(),
            message,
        };
        let stored = StoredCursor {
            url: url.to_string(),
            cursor,
        };
        let value = serde_json::to_vec(&stored).map_err(|err| write_error(err.to_string()))?;
        self.store
            .put(cursor_key(url), Bytes::from(value))
            .await
            .map_err(|err| write_error(err.to_string()))?;
        Ok(())
    }
}

/// Returns the KV key of the log at `url`.
pub fn cursor_key(url: &str) -> String {
    hex::encode(Sha256::digest(url.as_bytes()))
}
