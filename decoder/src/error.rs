//! Why an entry could not be decoded at all.
//!
//! Only a `leaf_input` that cannot be parsed returns an error; a certificate that x509-parser
//! rejects, or an `extra_data` that does not parse, still yields a message (the lenient path).

/// An entry whose `leaf_input` cannot be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// `leaf_input` is not valid base64.
    #[error("leaf_input is not valid base64")]
    Base64,
    /// The `MerkleTreeLeaf` ends before the named field.
    #[error("leaf_input is truncated at {0}")]
    Truncated(&'static str),
    /// `MerkleTreeLeaf.version` is not v1 (0).
    #[error("unsupported MerkleTreeLeaf version {0}")]
    Version(u8),
    /// `MerkleTreeLeaf.leaf_type` is not timestamped_entry (0).
    #[error("unknown MerkleTreeLeaf leaf type {0}")]
    LeafType(u8),
    /// `TimestampedEntry.entry_type` is neither x509_entry (0) nor precert_entry (1).
    #[error("unknown log entry type {0}")]
    EntryType(u16),
    /// The certificate or TBSCertificate in `leaf_input` is empty.
    #[error("leaf_input holds an empty certificate")]
    EmptyCertificate,
}

impl DecodeError {
    /// A short, stable label for metrics.
    pub fn kind(&self) -> &'static str {
        match self {
            DecodeError::Base64 => "base64",
            DecodeError::Truncated(_) => "truncated",
            DecodeError::Version(_) => "version",
            DecodeError::LeafType(_) => "leaf_type",
            DecodeError::EntryType(_) => "entry_type",
            DecodeError::EmptyCertificate => "empty_certificate",
        }
    }
}
