//! Static CT (c2sp.org/static-ct-api) data tiles, converted to RFC 6962 entries.
//!
//! A data tile is a sequence of `TileLeaf` structures:
//! ```text
//! TileLeaf = TimestampedEntry
//!            (x509:    Fingerprint certificate_chain<0..2^16-1>
//!            | precert: ASN.1Cert pre_certificate<1..2^24-1>,
//!                       Fingerprint precertificate_chain<0..2^16-1>)
//! TimestampedEntry = timestamp(8) entry_type(2)
//!            (x509: ASN.1Cert<1..2^24-1> | precert: issuer_key_hash[32] TBS<1..2^24-1>)
//!            CtExtensions<0..2^16-1>
//! ```
//! [`TileLeaf::to_rfc6962`] produces the `leaf_input` (version 0, leaf type 0, then the
//! TimestampedEntry bytes unchanged, so the Merkle leaf hash is preserved) and the `extra_data`
//! (`certificate_chain`, or a `PrecertChainEntry`), resolving chain fingerprints to DER
//! through a caller-supplied function (`<prefix>/issuer/<hex>` for a real log).

use crate::leaf::{self, TlsReader, PRECERT_ENTRY, X509_ENTRY};

/// Why a tile or one of its leaves cannot be converted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TileError {
    /// The tile ends inside a leaf, before the named field.
    #[error("tile leaf {index} is truncated at {field}")]
    Truncated { index: usize, field: &'static str },
    /// `entry_type` is neither x509_entry nor precert_entry.
    #[error("tile leaf {index} has unknown entry type {entry_type}")]
    EntryType { index: usize, entry_type: u16 },
    /// A chain's byte length is not a multiple of 32.
    #[error("tile leaf {index} has a chain of {len} bytes, not a multiple of 32")]
    ChainLength { index: usize, len: usize },
    /// The resolver does not know a chain fingerprint.
    #[error("unknown issuer fingerprint {}", hex::encode(.0))]
    UnknownIssuer([u8; 32]),
    /// A certificate or chain is too long for a 24-bit length.
    #[error("certificate chain too long for RFC 6962 extra_data")]
    TooLong,
}

impl TileError {
    /// A short, stable label for metrics.
    pub fn kind(&self) -> &'static str {
        match self {
            TileError::Truncated { .. } => "truncated",
            TileError::EntryType { .. } => "entry_type",
            TileError::ChainLength { .. } => "chain_length",
            TileError::UnknownIssuer(_) => "unknown_issuer",
            TileError::TooLong => "too_long",
        }
    }
}

/// One entry of a data tile, borrowing from the tile bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TileLeaf<'a> {
    /// `TimestampedEntry.timestamp`, milliseconds.
    pub timestamp_ms: u64,
    /// `LogEntryType`: 0 x509_entry, 1 precert_entry.
    pub entry_type: u16,
    /// The whole `TimestampedEntry` encoding (timestamp through extensions).
    pub timestamped_entry: &'a [u8],
    /// `CtExtensions` content (without its length prefix).
    pub extensions: &'a [u8],
    /// The pre-certificate DER (precert entries only).
    pub pre_certificate: Option<&'a [u8]>,
    /// SHA-256 fingerprints of the chain certificates, in log order.
    pub chain: Vec<&'a [u8; 32]>,
}

/// Parses every `TileLeaf` of a data tile (full or partial).
pub fn tile_leaves(data: &[u8]) -> Result<Vec<TileLeaf<'_>>, TileError> {
    let mut r = TlsReader::new(data);
    let mut leaves = Vec::with_capacity(256);
    while !r.is_empty() {
        let index = leaves.len();
        let truncated = |field| TileError::Truncated { index, field };
        let start = r.remaining();
        let timestamp_ms = r.u64().ok_or(truncated("timestamp"))?;
        let entry_type = r.u16().ok_or(truncated("entry_type"))?;
        match entry_type {
            X509_ENTRY => {
                r.vec(3).ok_or(truncated("certificate"))?;
            }
            PRECERT_ENTRY => {
                r.bytes(32).ok_or(truncated("issuer_key_hash"))?;
                r.vec(3).ok_or(truncated("tbs_certificate"))?;
            }
            other => {
                return Err(TileError::EntryType {
                    index,
                    entry_type: other,
                })
            }
        }
        let extensions = r.vec(2).ok_or(truncated("extensions"))?;
        let consumed = start.len() - r.remaining().len();
        let timestamped_entry = start.get(..consumed).ok_or(truncated("entry"))?;
        let pre_certificate = if entry_type == PRECERT_ENTRY {
            Some(r.vec(3).ok_or(truncated("pre_certificate"))?)
        } else {
            None
        };
        let chain_bytes = r.vec(2).ok_or(truncated("chain"))?;
        if chain_bytes.len() % 32 != 0 {
            return Err(TileError::ChainLength {
                index,
                len: chain_bytes.len(),
            });
        }
        let chain = chain_bytes
            .chunks_exact(32)
            .filter_map(|c| <&[u8; 32]>::try_from(c).ok())
            .collect();
        leaves.push(TileLeaf {
            timestamp_ms,
            entry_type,
            timestamped_entry,
            extensions,
            pre_certificate,
            chain,
        });
    }
    Ok(leaves)
}

impl TileLeaf<'_> {
    /// The `leaf_index` CtExtension (type 0, a 40-bit index) that Static CT logs add, if any.
    pub fn leaf_index(&self) -> Option<u64> {
        let mut r = TlsReader::new(self.extensions);
        while !r.is_empty() {
            let ext_type = r.u8()?;
            let data = r.vec(2)?;
            if ext_type == 0 && data.len() == 5 {
                return TlsReader::new(data).uint(5);
            }
        }
        None
    }

    /// The RFC 6962 `MerkleTreeLeaf` bytes: version 0, leaf type 0, the TimestampedEntry.
    pub fn leaf_input(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.timestamped_entry.len() + 2);
        out.extend_from_slice(&[0, 0]);
        out.extend_from_slice(self.timestamped_entry);
        out
    }

    /// The RFC 6962 `extra_data`, resolving each chain fingerprint to its DER with `resolve`.
    pub fn extra_data<F, D>(&self, mut resolve: F) -> Result<Vec<u8>, TileError>
    where
        F: FnMut(&[u8; 32]) -> Option<D>,
        D: AsRef<[u8]>,
    {
        let mut certs = Vec::with_capacity(self.chain.len());
        for fingerprint in &self.chain {
            certs.push(resolve(fingerprint).ok_or(TileError::UnknownIssuer(**fingerprint))?);
        }
        let list =
            leaf::encode_cert_list(certs.iter().map(AsRef::as_ref)).ok_or(TileError::TooLong)?;
        match self.pre_certificate {
            Some(pre) => {
                let mut out = Vec::with_capacity(pre.len() + 3 + list.len());
                leaf::push_u24_vec(&mut out, pre).ok_or(TileError::TooLong)?;
                out.extend_from_slice(&list);
                Ok(out)
            }
            None => Ok(list),
        }
    }

    /// `(leaf_input, extra_data)` bytes of the equivalent RFC 6962 entry (not base64).
    pub fn to_rfc6962<F, D>(&self, resolve: F) -> Result<(Vec<u8>, Vec<u8>), TileError>
    where
        F: FnMut(&[u8; 32]) -> Option<D>,
        D: AsRef<[u8]>,
    {
        Ok((self.leaf_input(), self.extra_data(resolve)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn precert_tile_leaf(chain: &[[u8; 32]]) -> Vec<u8> {
        let mut out = Vec::new();
        out.extend_from_slice(&1_746_288_888_000u64.to_be_bytes());
        out.extend_from_slice(&1u16.to_be_bytes());
        out.extend_from_slice(&[7; 32]);
        leaf::push_u24_vec(&mut out, &[0x30, 0x00]).unwrap();
        // CtExtensions: leaf_index = 300.
        out.extend_from_slice(&[0, 8, 0, 0, 5, 0, 0, 0, 1, 44]);
        leaf::push_u24_vec(&mut out, &[0x30, 0x01, 0x00]).unwrap();
        out.extend_from_slice(&u16::try_from(chain.len() * 32).unwrap().to_be_bytes());
        for fp in chain {
            out.extend_from_slice(fp);
        }
        out
    }

    #[test]
    fn converts_a_precert_leaf() {
        let mut tile = precert_tile_leaf(&[[1; 32]]);
        tile.extend(precert_tile_leaf(&[]));
        let leaves = tile_leaves(&tile).unwrap();
        assert_eq!(leaves.len(), 2);
        let leaf = &leaves[0];
        assert_eq!(leaf.leaf_index(), Some(300));
        assert_eq!(leaf.timestamp_ms, 1_746_288_888_000);
        let (leaf_input, extra) = leaf
            .to_rfc6962(|fp| (fp == &[1; 32]).then_some(vec![0x30, 0x00]))
            .unwrap();
        let parsed = leaf::parse_leaf(&leaf_input).unwrap();
        assert!(parsed.is_precert());
        assert_eq!(parsed.timestamp_ms, 1_746_288_888_000);
        let extra = leaf::parse_extra_data(&extra, true).unwrap();
        assert_eq!(extra.pre_certificate, Some(&[0x30, 0x01, 0x00][..]));
        assert_eq!(extra.chain, vec![&[0x30, 0x00][..]]);
        assert_eq!(
            leaf.extra_data(|_| None::<Vec<u8>>),
            Err(TileError::UnknownIssuer([1; 32]))
        );
    }

    #[test]
    fn truncation_is_an_error() {
        let tile = precert_tile_leaf(&[[1; 32]]);
        for len in 1..tile.len() {
            assert!(tile_leaves(&tile[..len]).is_err(), "prefix of {len} bytes");
        }
        assert_eq!(tile_leaves(&[]).unwrap().len(), 0);
    }
}
