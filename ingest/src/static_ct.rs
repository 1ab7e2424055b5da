//! Static CT logs (c2sp.org/static-ct-api): a client that reads the signed checkpoint, the
//! data tiles and the issuer certificates under a log's monitoring prefix, and turns tile leaves
//! into RFC 6962 entries with [`certstream_decoder::tile`].
//!
//! The client checks the checkpoint signature, the width of each tile and each entry's
//! `leaf_index`, and the hash of each issuer. It does not fetch hash tiles, so entries are not
//! proven to be in the signed tree. Polling and publishing are the job of [`crate::watcher`].

use std::sync::Arc;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use sha2::{Digest, Sha256};

use certstream_decoder::tile::{tile_leaves, TileLeaf};
use certstream_shared::raw::RawEntry;

use crate::fetch::{self, FetchError};

pub mod checkpoint;
pub mod issuers;

use checkpoint::{Checkpoint, CheckpointError, CheckpointVerifier};
use issuers::{Fingerprint, IssuerCache};

/// Entries in a full data tile.
pub const TILE_WIDTH: u64 = 256;

/// Largest checkpoint accepted. A checkpoint is three lines and a few signature lines.
const MAX_CHECKPOINT_BYTES: usize = 64 * 1024;

/// Largest decompressed data tile accepted. Production tiles of 256 entries are about 1 MB, and
/// the limit leaves room for long chains while stopping a gzip bomb.
const MAX_TILE_BYTES: usize = 64 * 1024 * 1024;

/// Largest issuer certificate accepted.
const MAX_ISSUER_BYTES: usize = 1024 * 1024;

/// Client of one Static CT log.
#[derive(Debug, Clone)]
pub struct StaticCtClient {
    http: reqwest::Client,
    /// Monitoring prefix without a trailing `/`.
    monitoring: String,
    verifier: CheckpointVerifier,
    issuers: Arc<IssuerCache>,
}

/// A data tile as fetched.
struct FetchedTile {
    url: String,
    bytes: Vec<u8>,
    /// Entries the tile must contain.
    width: u64,
}

impl StaticCtClient {
    /// Creates the client of the log at `monitoring_url` whose checkpoints are signed by the
    /// log list `key` (DER SubjectPublicKeyInfo) under the origin of `submission_url`.
    pub fn new(
        http: reqwest::Client,
        monitoring_url: &str,
        submission_url: &str,
        key: &[u8],
        issuers: Arc<IssuerCache>,
    ) -> Result<Self, CheckpointError> {
        let origin = checkpoint::origin_of(submission_url);
        Ok(StaticCtClient {
            http,
            monitoring: monitoring_url.trim_end_matches('/').to_string(),
            verifier: CheckpointVerifier::new(&origin, key)?,
            issuers,
        })
    }

    pub fn checkpoint_url(&self) -> String {
        format!("{}/checkpoint", self.monitoring)
    }

    /// Fetches and verifies the current checkpoint.
    pub async fn checkpoint(&self) -> Result<Checkpoint, FetchError> {
        let url = self.checkpoint_url();
        let body = fetch::get_bytes(&self.http, &url, MAX_CHECKPOINT_BYTES).await?;
        self.verifier
            .verify(&body)
            .map_err(|source| FetchError::Checkpoint { url, source })
    }

    /// Fetches the entries from `start` to the end of its data tile, but not at or beyond
    /// `tree_size` (the size of a verified checkpoint). `start` must be below `tree_size`.
    pub async fn entries(&self, start: u64, tree_size: u64) -> Result<Vec<RawEntry>, FetchError> {
        let tile_index = start / TILE_WIDTH;
        let tile_start = tile_index * TILE_WIDTH;
        let width = (tree_size - tile_start).min(TILE_WIDTH);
        let tile = self.fetch_tile(tile_index, width).await?;
        let leaves = tile_leaves(&tile.bytes).map_err(|source| FetchError::Tile {
            url: tile.url.clone(),
            source,
        })?;
        if leaves.len() as u64 != tile.width {
            return Err(FetchError::TileWidth {
                url: tile.url,
                expected: tile.width as usize,
                found: leaves.len(),
            });
        }
        let requested = &leaves[(start - tile_start) as usize..width as usize];
        self.fetch_missing_issuers(requested).await?;
        (start..)
            .zip(requested)
            .map(|(index, leaf)| self.raw_entry(index, leaf, &tile.url))
            .collect()
    }

    /// Fetches the tile that contains the first `width` entries of tile `tile_index`. That is
    /// the full tile when `width` is 256, else the partial tile, or the full tile when the
    /// partial one is gone (404) because the log has filled it since.
    async fn fetch_tile(&self, tile_index: u64, width: u64) -> Result<FetchedTile, FetchError> {
        let full_url = format!(
            "{}/{}",
            self.monitoring,
            data_tile_path(tile_index, TILE_WIDTH)
        );
        if width < TILE_WIDTH {
            let partial_url = format!("{}/{}", self.monitoring, data_tile_path(tile_index, width));
            match fetch::get_bytes(&self.http, &partial_url, MAX_TILE_BYTES).await {
                Ok(bytes) => {
                    return Ok(FetchedTile {
                        url: partial_url,
                        bytes,
                        width,
                    })
                }
                Err(err) if err.is_not_found() => {
                    tracing::debug!(url = %partial_url, "Partial tile gone, fetching the full tile");
                }
                Err(err) => return Err(err),
            }
        }
        let bytes = fetch::get_bytes(&self.http, &full_url, MAX_TILE_BYTES).await?;
        Ok(FetchedTile {
            url: full_url,
            bytes,
            width: TILE_WIDTH,
        })
    }

    /// Fetches every issuer of `leaves` that the cache does not hold yet.
    async fn fetch_missing_issuers(&self, leaves: &[TileLeaf<'_>]) -> Result<(), FetchError> {
        let mut missing: Vec<Fingerprint> = leaves
            .iter()
            .flat_map(|leaf| leaf.chain.iter().map(|fingerprint| **fingerprint))
            .filter(|fingerprint| self.issuers.get(fingerprint).is_none())
            .collect();
        missing.sort_unstable();
        missing.dedup();
        for fingerprint in missing {
            self.fetch_issuer(fingerprint).await?;
        }
        Ok(())
    }

    async fn fetch_issuer(&self, fingerprint: Fingerprint) -> Result<(), FetchError> {
        let url = format!("{}/issuer/{}", self.monitoring, hex::encode(fingerprint));
        let der = fetch::get_bytes(&self.http, &url, MAX_ISSUER_BYTES).await?;
        if Sha256::digest(&der).as_slice() != fingerprint {
            return Err(FetchError::IssuerHash { url });
        }
        tracing::debug!(url = %url, "Issuer certificate fetched");
        self.issuers.insert(fingerprint, der);
        Ok(())
    }

    /// Converts one tile leaf at `index` into the RFC 6962 form the decoder reads.
    fn raw_entry(
        &self,
        index: u64,
        leaf: &TileLeaf<'_>,
        url: &str,
    ) -> Result<RawEntry, FetchError> {
        let found = leaf.leaf_index();
        if found != Some(index) {
            return Err(FetchError::LeafIndex {
                url: url.to_string(),
                index,
                found,
            });
        }
        let (leaf_input, extra_data) = leaf
            .to_rfc6962(|fingerprint| self.issuers.get(fingerprint))
            .map_err(|source| FetchError::Tile {
                url: url.to_string(),
                source,
            })?;
        Ok(RawEntry {
            index,
            leaf_input: BASE64.encode(leaf_input),
            extra_data: BASE64.encode(extra_data),
            cert_link: Some(url.to_string()),
        })
    }
}

/// Returns the path of data tile `tile_index` below the monitoring prefix: `tile/data/<N>` for
/// a full tile and `tile/data/<N>.p/<W>` for a partial one of `width` entries.
pub fn data_tile_path(tile_index: u64, width: u64) -> String {
    let index = tile_index_path(tile_index);
    if width >= TILE_WIDTH {
        format!("tile/data/{index}")
    } else {
        format!("tile/data/{index}.p/{width}")
    }
}

/// Encodes a tile index as 3-digit path elements, all but the last prefixed with `x`, for
/// example 1234067 as `x001/x234/067`.
fn tile_index_path(mut index: u64) -> String {
    let mut groups = Vec::new();
    loop {
        groups.push(index % 1000);
        index /= 1000;
        if index == 0 {
            break;
        }
    }
    let last = groups.len() - 1;
    groups
        .iter()
        .rev()
        .enumerate()
        .map(|(position, group)| {
            if position == last {
                format!("{group:03}")
            } else {
                format!("x{group:03}")
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tile_paths() {
        let cases = [
            (0, 256, "tile/data/000"),
            (3, 10, "tile/data/003.p/10"),
            (999, 256, "tile/data/999"),
            (1000, 256, "tile/data/x001/000"),
            (1_234_067, 256, "tile/data/x001/x234/067"),
            (1_234_067, 255, "tile/data/x001/x234/067.p/255"),
        ];
        for (index, width, expected) in cases {
            assert_eq!(data_tile_path(index, width), expected, "tile {index}");
        }
    }
}
