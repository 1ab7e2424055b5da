//! One client type over both read APIs, so a single [`crate::watcher::Watcher`] follows RFC 6962
//! and Static CT logs alike: it requests the current tree size and entries from an index.

use std::sync::Arc;

use certstream_shared::raw::{LogSource, RawEntry};

use crate::fetch::FetchError;
use crate::log_list::{FollowedLog, LogApi};
use crate::rfc6962::Rfc6962Client;
use crate::static_ct::checkpoint::CheckpointError;
use crate::static_ct::issuers::IssuerCache;
use crate::static_ct::StaticCtClient;
use crate::tree_head::{TreeHeadError, TreeHeadKey};

/// The client of one log.
#[derive(Debug, Clone)]
pub enum LogClient {
    Rfc6962(Rfc6962Client),
    StaticCt(StaticCtClient),
}

/// Failure to build a log's client, because its key cannot verify tree heads or checkpoints.
#[derive(Debug, thiserror::Error)]
#[error("cannot follow log {log_id} ({url}): {source}")]
pub struct ClientError {
    pub log_id: String,
    pub url: String,
    #[source]
    pub source: KeyError,
}

/// Reason a log key from the list cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error(transparent)]
    Checkpoint(#[from] CheckpointError),
    #[error(transparent)]
    TreeHead(#[from] TreeHeadError),
}

impl LogClient {
    /// Builds the client of `log`. Static CT logs share `issuers`.
    pub fn new(
        log: &FollowedLog,
        http: reqwest::Client,
        issuers: &Arc<IssuerCache>,
    ) -> Result<Self, ClientError> {
        match &log.api {
            LogApi::Rfc6962 { key } => TreeHeadKey::from_spki(key)
                .map(|key| {
                    LogClient::Rfc6962(Rfc6962Client::new(http, &log.source.url).with_key(key))
                })
                .map_err(|source| client_error(&log.source, source.into())),
            LogApi::StaticCt {
                submission_url,
                key,
            } => StaticCtClient::new(
                http,
                &log.source.url,
                submission_url,
                key,
                Arc::clone(issuers),
            )
            .map(LogClient::StaticCt)
            .map_err(|source| client_error(&log.source, source.into())),
        }
    }

    /// Returns the tree size of the log's current signed tree head or verified checkpoint.
    pub async fn tree_size(&self) -> Result<u64, FetchError> {
        match self {
            LogClient::Rfc6962(client) => Ok(client.get_sth().await?.tree_size),
            LogClient::StaticCt(client) => Ok(client.checkpoint().await?.tree_size),
        }
    }

    /// Fetches consecutive entries from `start`, at most `batch_size` for an RFC 6962 log and
    /// at most the rest of the data tile for a Static CT log, all below `tree_size`. An RFC 6962
    /// log may return fewer entries, or none.
    pub async fn entries(
        &self,
        start: u64,
        tree_size: u64,
        batch_size: u64,
    ) -> Result<Vec<RawEntry>, FetchError> {
        match self {
            LogClient::Rfc6962(client) => {
                let end = tree_size.min(start.saturating_add(batch_size)) - 1;
                let entries = client.get_entries(start, end).await?;
                Ok((start..)
                    .zip(entries)
                    .map(|(index, entry)| RawEntry {
                        index,
                        leaf_input: entry.leaf_input,
                        extra_data: entry.extra_data,
                        cert_link: None,
                    })
                    .collect())
            }
            LogClient::StaticCt(client) => client.entries(start, tree_size).await,
        }
    }
}

fn client_error(log: &LogSource, source: KeyError) -> ClientError {
    ClientError {
        log_id: log.id.clone(),
        url: log.url.clone(),
        source,
    }
}
