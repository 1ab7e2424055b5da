//! Conversion of Static CT API data tiles (c2sp.org/static-ct-api) into RFC 6962 `get-entries`
//! items.
//!
//! A data tile is a sequence of TileLeaf structures. Each one carries the TimestampedEntry that
//! RFC 6962 hashes, the precertificate for precert entries, and the chain as SHA-256 fingerprints
//! that point at the log's issuer certificates. Reading tiles from disk is left to the caller.

use std::collections::HashMap;

use super::merkle::Hash;

/// Entry type in TimestampedEntry (RFC 6962 LogEntryType).
const X509_ENTRY: u16 = 0;
const PRECERT_ENTRY: u16 = 1;

/// Bytes of MerkleTreeLeaf before the TimestampedEntry: version v1 (0) and leaf type
/// timestamped_entry (0).
const MERKLE_TREE_LEAF_PREFIX: [u8; 2] = [0x00, 0x00];

/// Failure to decode a data tile or to resolve its chain.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TileError {
    #[error(
        "data tile truncated at byte {offset}: {field} needs {needed} bytes, {available} left"
    )]
    Truncated {
        offset: usize,
        field: &'static str,
        needed: usize,
        available: usize,
    },
    #[error("unknown entry type {entry_type} in the tile leaf at byte {offset}")]
    UnknownEntryType { entry_type: u16, offset: usize },
    #[error("chain fingerprint {fingerprint} not found among the issuer certificates")]
    IssuerNotFound { fingerprint: String },
    #[error("certificate of {length} bytes does not fit a 24-bit length prefix")]
    CertificateTooLong { length: usize },
}

/// One RFC 6962 log entry in binary form, before base64 encoding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rfc6962Entry {
    /// MerkleTreeLeaf: version, leaf type and the TimestampedEntry.
    pub leaf_input: Vec<u8>,
    /// PrecertChainEntry for precert entries, the certificate_chain for x509 entries.
    pub extra_data: Vec<u8>,
}

/// Decodes every TileLeaf of one data tile into an RFC 6962 entry. `issuers` maps the SHA-256
/// of each issuer certificate to its DER bytes.
pub fn decode_data_tile(
    tile: &[u8],
    issuers: &HashMap<Hash, Vec<u8>>,
) -> Result<Vec<Rfc6962Entry>, TileError> {
    let mut reader = Reader { data: tile, pos: 0 };
    let mut entries = Vec::new();
    while reader.remaining() > 0 {
        entries.push(decode_tile_leaf(&mut reader, issuers)?);
    }
    Ok(entries)
}

/// Splits a data tile into the bytes of its TileLeaf structures, checking each as
/// [`decode_data_tile`] does.
pub fn split_data_tile<'a>(
    tile: &'a [u8],
    issuers: &HashMap<Hash, Vec<u8>>,
) -> Result<Vec<&'a [u8]>, TileError> {
    let mut reader = Reader { data: tile, pos: 0 };
    let mut leaves = Vec::new();
    while reader.remaining() > 0 {
        let start = reader.pos;
        decode_tile_leaf(&mut reader, issuers)?;
        leaves.push(&tile[start..reader.pos]);
    }
    Ok(leaves)
}

fn decode_tile_leaf(
    reader: &mut Reader<'_>,
    issuers: &HashMap<Hash, Vec<u8>>,
) -> Result<Rfc6962Entry, TileError> {
    let entry_start = reader.pos;
    reader.skip(8, "timestamp")?;
    let entry_type = reader.read_u16("entry_type")?;
    match entry_type {
        X509_ENTRY => {
            reader.read_vec24("certificate")?;
        }
        PRECERT_ENTRY => {
            reader.skip(32, "issuer_key_hash")?;
            reader.read_vec24("tbs_certificate")?;
        }
        _ => {
            return Err(TileError::UnknownEntryType {
                entry_type,
                offset: entry_start,
            })
        }
    }
    reader.read_vec16("extensions")?;
    let timestamped_entry = &reader.data[entry_start..reader.pos];

    let pre_certificate = match entry_type {
        PRECERT_ENTRY => Some(reader.read_vec24("pre_certificate")?),
        _ => None,
    };
    let fingerprints = reader.read_vec16("certificate_chain")?;
    let chain = resolve_chain(fingerprints, issuers, reader.pos)?;

    let mut leaf_input = MERKLE_TREE_LEAF_PREFIX.to_vec();
    leaf_input.extend_from_slice(timestamped_entry);
    let extra_data = match pre_certificate {
        Some(precert) => {
            let mut data = Vec::new();
            push_vec24(&mut data, precert)?;
            push_vec24(&mut data, &chain)?;
            data
        }
        None => chain,
    };
    Ok(Rfc6962Entry {
        leaf_input,
        extra_data,
    })
}

/// Returns the chain as a sequence of 24-bit length-prefixed certificates, without the outer
/// length prefix.
fn resolve_chain(
    fingerprints: &[u8],
    issuers: &HashMap<Hash, Vec<u8>>,
    offset: usize,
) -> Result<Vec<u8>, TileError> {
    if fingerprints.len() % 32 != 0 {
        return Err(TileError::Truncated {
            offset,
            field: "certificate_chain fingerprint",
            needed: 32,
            available: fingerprints.len() % 32,
        });
    }
    let mut chain = Vec::new();
    for fingerprint in fingerprints.chunks_exact(32) {
        let certificate = Hash::try_from(fingerprint)
            .ok()
            .and_then(|hash| issuers.get(&hash))
            .ok_or_else(|| TileError::IssuerNotFound {
                fingerprint: hex::encode(fingerprint),
            })?;
        push_vec24(&mut chain, certificate)?;
    }
    Ok(chain)
}

fn push_vec24(out: &mut Vec<u8>, bytes: &[u8]) -> Result<(), TileError> {
    let length = u32::try_from(bytes.len())
        .ok()
        .filter(|length| *length < 1 << 24)
        .ok_or(TileError::CertificateTooLong {
            length: bytes.len(),
        })?;
    out.extend_from_slice(&length.to_be_bytes()[1..]);
    out.extend_from_slice(bytes);
    Ok(())
}

/// A cursor over TLS-encoded bytes (RFC 5246 section 4 presentation language).
struct Reader<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn remaining(&self) -> usize {
        self.data.len() - self.pos
    }

    fn take(&mut self, needed: usize, field: &'static str) -> Result<&'a [u8], TileError> {
        if needed > self.remaining() {
            return Err(TileError::Truncated {
                offset: self.pos,
                field,
                needed,
                available: self.remaining(),
            });
        }
        let bytes = &self.data[self.pos..self.pos + needed];
        self.pos += needed;
        Ok(bytes)
    }

    fn skip(&mut self, needed: usize, field: &'static str) -> Result<(), TileError> {
        self.take(needed, field).map(|_| ())
    }

    fn read_uint(&mut self, width: usize, field: &'static str) -> Result<usize, TileError> {
        let bytes = self.take(width, field)?;
        Ok(bytes
            .iter()
            .fold(0, |value, byte| value << 8 | usize::from(*byte)))
    }

    fn read_u16(&mut self, field: &'static str) -> Result<u16, TileError> {
        let bytes = self.take(2, field)?;
        Ok(u16::from_be_bytes([bytes[0], bytes[1]]))
    }

    fn read_vec16(&mut self, field: &'static str) -> Result<&'a [u8], TileError> {
        let length = self.read_uint(2, field)?;
        self.take(length, field)
    }

    fn read_vec24(&mut self, field: &'static str) -> Result<&'a [u8], TileError> {
        let length = self.read_uint(3, field)?;
        self.take(length, field)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn synthetic_precert_leaf(fingerprint: &Hash) -> Vec<u8> {
        let mut leaf = Vec::new();
        leaf.extend_from_slice(&1_700_000_000_000u64.to_be_bytes());
        leaf.extend_from_slice(&PRECERT_ENTRY.to_be_bytes());
        leaf.extend_from_slice(&[0xAA; 32]);
        leaf.extend_from_slice(&[0x00, 0x00, 0x02, 0x30, 0x00]);
        leaf.extend_from_slice(&[0x00, 0x00]);
        leaf.extend_from_slice(&[0x00, 0x00, 0x03, 0x30, 0x01, 0x05]);
        leaf.extend_from_slice(&[0x00, 0x20]);
        leaf.extend_from_slice(fingerprint);
        leaf
    }

    #[test]
    fn precert_leaf_converts_to_rfc6962() {
        let fingerprint = [0x11; 32];
        let issuers = HashMap::from([(fingerprint, vec![0x30, 0x02, 0x05, 0x00])]);
        let tile = synthetic_precert_leaf(&fingerprint);

        let entries = decode_data_tile(&tile, &issuers).expect("synthetic tile decodes");

        assert_eq!(entries.len(), 1);
        let mut expected_leaf = vec![0x00, 0x00];
        expected_leaf.extend_from_slice(&tile[..8 + 2 + 32 + 5 + 2]);
        assert_eq!(entries[0].leaf_input, expected_leaf);
        let expected_extra = [
            0x00, 0x00, 0x03, 0x30, 0x01, 0x05, // pre_certificate
            0x00, 0x00, 0x07, // precertificate_chain length
            0x00, 0x00, 0x04, 0x30, 0x02, 0x05, 0x00, // the issuer certificate
        ];
        assert_eq!(entries[0].extra_data, expected_extra);
    }

    #[test]
    fn split_returns_each_leaf() {
        let fingerprint = [0x11; 32];
        let issuers = HashMap::from([(fingerprint, vec![0x30, 0x00])]);
        let leaf = synthetic_precert_leaf(&fingerprint);
        let tile = [leaf.clone(), leaf.clone()].concat();

        let leaves = split_data_tile(&tile, &issuers).expect("synthetic tile splits");

        assert_eq!(leaves, [leaf.as_slice(), leaf.as_slice()]);
    }

    #[test]
    fn unknown_fingerprint_is_rejected() {
        let tile = synthetic_precert_leaf(&[0x22; 32]);

        let error = decode_data_tile(&tile, &HashMap::new()).unwrap_err();

        assert_eq!(
            error,
            TileError::IssuerNotFound {
                fingerprint: "22".repeat(32)
            }
        );
    }

    #[test]
    fn truncated_tile_is_rejected() {
        let tile = synthetic_precert_leaf(&[0x11; 32]);

        let error = decode_data_tile(&tile[..20], &HashMap::new()).unwrap_err();

        assert_eq!(
            error,
            TileError::Truncated {
                offset: 10,
                field: "issuer_key_hash",
                needed: 32,
                available: 10
            }
        );
    }

    #[test]
    fn unknown_entry_type_is_rejected() {
        let mut tile = synthetic_precert_leaf(&[0x11; 32]);
        tile[9] = 7;

        let error = decode_data_tile(&tile, &HashMap::new()).unwrap_err();

        assert_eq!(
            error,
            TileError::UnknownEntryType {
                entry_type: 7,
                offset: 0
            }
        );
    }
}
