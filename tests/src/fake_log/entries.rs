//! The entries each fixture log serves, as base64 `get-entries` items, and their RFC 6962 leaf
//! hashes.
//!
//! Live entries are served exactly as the production log served them. Navigli entries are built
//! from the Static CT data tiles and issuer certificates.

use std::collections::HashMap;

use anyhow::Context;
use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::config::LogFixture;
use super::merkle::{leaf_hash, Hash};
use super::static_ct::{decode_data_tile, split_data_tile};
use crate::fixtures;

/// Data tiles of the navigli fixture, 256 entries each.
const NAVIGLI_DATA_TILES: [&str; 4] = [
    "tile/data/000",
    "tile/data/001",
    "tile/data/002",
    "tile/data/003",
];

/// One item of a `get-entries` response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ServedEntry {
    /// Base64 MerkleTreeLeaf.
    pub leaf_input: String,
    /// Base64 extra data (PrecertChainEntry or certificate chain).
    pub extra_data: String,
}

/// All entries of one fixture log, in log order.
#[derive(Debug, Clone)]
pub struct LogEntries {
    /// Entries at indices 0, 1, ...
    pub entries: Vec<ServedEntry>,
    /// RFC 6962 leaf hash of each entry.
    pub leaf_hashes: Vec<Hash>,
    /// The TileLeaf bytes of each entry, for logs served over the Static CT API. Empty for the
    /// live fixture, which has no tiles.
    pub tile_leaves: Vec<Vec<u8>>,
    /// Issuer certificates (DER) by SHA-256, as a Static CT log serves them.
    pub issuers: HashMap<Hash, Vec<u8>>,
}

impl LogEntries {
    /// Loads the entries of `fixture` from the fixture files.
    pub fn load(fixture: LogFixture) -> anyhow::Result<Self> {
        match fixture {
            LogFixture::Live => Self::load_live(),
            LogFixture::Navigli | LogFixture::NavigliStatic => Self::load_navigli(),
        }
    }

    fn load_live() -> anyhow::Result<Self> {
        let mut entries = Vec::new();
        let mut leaf_hashes = Vec::new();
        for item in fixtures::read_live_entries()? {
            let leaf_input = BASE64
                .decode(&item.leaf_input)
                .with_context(|| format!("invalid base64 leaf_input in {}", item.name))?;
            leaf_hashes.push(leaf_hash(&leaf_input));
            entries.push(ServedEntry {
                leaf_input: item.leaf_input,
                extra_data: item.extra_data,
            });
        }
        Ok(Self {
            entries,
            leaf_hashes,
            tile_leaves: Vec::new(),
            issuers: HashMap::new(),
        })
    }

    fn load_navigli() -> anyhow::Result<Self> {
        let issuers = read_navigli_issuers()?;
        let mut entries = Vec::new();
        let mut leaf_hashes = Vec::new();
        let mut tile_leaves = Vec::new();
        for tile_path in NAVIGLI_DATA_TILES {
            let tile = fixtures::read_navigli_file(tile_path)?;
            let decoded = decode_data_tile(&tile, &issuers)
                .with_context(|| format!("invalid navigli data tile {tile_path}"))?;
            let leaves = split_data_tile(&tile, &issuers)
                .with_context(|| format!("invalid navigli data tile {tile_path}"))?;
            tile_leaves.extend(leaves.into_iter().map(<[u8]>::to_vec));
            for entry in decoded {
                leaf_hashes.push(leaf_hash(&entry.leaf_input));
                entries.push(ServedEntry {
                    leaf_input: BASE64.encode(&entry.leaf_input),
                    extra_data: BASE64.encode(&entry.extra_data),
                });
            }
        }
        Ok(Self {
            entries,
            leaf_hashes,
            tile_leaves,
            issuers,
        })
    }
}

/// Reads the navigli issuer certificates, keyed by the SHA-256 of their DER bytes (the chain
/// fingerprint), so a misnamed file cannot resolve a fingerprint to the wrong certificate.
fn read_navigli_issuers() -> anyhow::Result<HashMap<Hash, Vec<u8>>> {
    let directory = fixtures::fixtures_dir()
        .join(fixtures::NAVIGLI_DIR)
        .join("issuer");
    let listing = std::fs::read_dir(&directory)
        .with_context(|| format!("failed to list {}", directory.display()))?;
    let mut issuers = HashMap::new();
    for item in listing {
        let path = item
            .with_context(|| format!("failed to list {}", directory.display()))?
            .path();
        let der =
            std::fs::read(&path).with_context(|| format!("failed to read {}", path.display()))?;
        issuers.insert(Sha256::digest(&der).into(), der);
    }
    Ok(issuers)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fake_log::merkle::root_hash;

    /// RFC 6962 roots of the navigli log, as listed in its KNOWN_ANSWERS.txt.
    const NAVIGLI_ROOT_778: &str = "+WnHOMRZl/LG1669oeskbdK9bcO4nkrY1cfVyknC52U=";
    const NAVIGLI_ROOT_1024: &str = "EMfGG85uIddeOXt5/wdQGP3IQd0COCqoLg9Q6CsPLJA=";

    fn navigli() -> LogEntries {
        LogEntries::load(LogFixture::Navigli).expect("navigli fixture loads")
    }

    #[test]
    fn navigli_has_1024_entries() {
        let log = navigli();

        assert_eq!(log.entries.len(), 1024);
        assert_eq!(log.leaf_hashes.len(), 1024);
    }

    #[test]
    fn navigli_roots_match_known_answers() {
        let log = navigli();

        let root_778 = BASE64.encode(root_hash(&log.leaf_hashes[..778]));
        let root_1024 = BASE64.encode(root_hash(&log.leaf_hashes));

        assert_eq!(root_778, NAVIGLI_ROOT_778);
        assert_eq!(root_1024, NAVIGLI_ROOT_1024);
    }

    #[test]
    fn navigli_known_answers_file_lists_roots() {
        let text = fixtures::read_navigli_file("KNOWN_ANSWERS.txt").expect("file exists");
        let text = String::from_utf8(text).expect("file is UTF-8");

        assert!(text.contains(&format!("tree size 778:  {NAVIGLI_ROOT_778}")));
        assert!(text.contains(&format!("tree size 1024: {NAVIGLI_ROOT_1024}")));
    }

    #[test]
    fn navigli_leaf_hashes_match_hash_tiles() {
        let log = navigli();
        let mut tile_hashes = Vec::new();
        for tile in ["tile/0/000", "tile/0/001", "tile/0/002", "tile/0/003"] {
            tile_hashes.extend(fixtures::read_navigli_file(tile).expect("hash tile exists"));
        }

        let leaf_hashes: Vec<u8> = log.leaf_hashes.concat();

        assert_eq!(tile_hashes.len(), 1024 * 32);
        assert_eq!(leaf_hashes, tile_hashes);
    }

    #[test]
    fn navigli_entry_0_layout() {
        let log = navigli();
        let leaf = BASE64.decode(&log.entries[0].leaf_input).expect("base64");
        let extra = BASE64.decode(&log.entries[0].extra_data).expect("base64");

        assert_eq!(leaf[..2], [0, 0], "MerkleTreeLeaf v1 timestamped_entry");
        assert_eq!(leaf[10..12], [0, 1], "precert_entry");
        let chain = split_vec24(&extra[3 + read_u24(&extra)..]);
        assert_eq!(chain.len(), 2);
        assert_eq!(
            hex::encode(Sha256::digest(chain[1])),
            "e70570a989f8565aabdf7cae27abd1621872d6a3f811e3fef27e3dba02912198",
            "the chain ends with the staging root"
        );
    }

    #[test]
    fn navigli_precerts_match_oracle() {
        let log = navigli();
        let oracle = crate::expected::navigli().expect("oracle loads");

        assert_eq!(oracle.len(), log.entries.len());
        for (entry, expected) in log.entries.iter().zip(&oracle) {
            let extra = BASE64.decode(&entry.extra_data).expect("base64");
            let precert = &extra[3..3 + read_u24(&extra)];
            assert_eq!(
                hex::encode(Sha256::digest(precert)),
                expected.sha256,
                "index {}",
                expected.index
            );
        }
    }

    fn read_u24(bytes: &[u8]) -> usize {
        usize::from(bytes[0]) << 16 | usize::from(bytes[1]) << 8 | usize::from(bytes[2])
    }

    /// Splits a 24-bit length-prefixed list of 24-bit length-prefixed items.
    fn split_vec24(bytes: &[u8]) -> Vec<&[u8]> {
        let mut items = Vec::new();
        let mut rest = &bytes[3..3 + read_u24(bytes)];
        while !rest.is_empty() {
            let length = read_u24(rest);
            items.push(&rest[3..3 + length]);
            rest = &rest[3 + length..];
        }
        items
    }

    #[test]
    fn live_has_20_entries_in_file_order() {
        let log = LogEntries::load(LogFixture::Live).expect("live fixture loads");
        let items = fixtures::read_live_entries().expect("live fixture reads");

        assert_eq!(log.entries.len(), 20);
        for (served, item) in log.entries.iter().zip(&items) {
            assert_eq!(served.leaf_input, item.leaf_input, "{}", item.name);
            assert_eq!(served.extra_data, item.extra_data, "{}", item.name);
        }
    }
}
