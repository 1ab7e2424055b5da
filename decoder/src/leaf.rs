//! RFC 6962 structures: the `MerkleTreeLeaf` in `leaf_input` and the chains in `extra_data`.
//!
//! ```text
//! MerkleTreeLeaf   = version(1) leaf_type(1) TimestampedEntry
//! TimestampedEntry = timestamp(8) entry_type(2)
//!                    (x509: ASN.1Cert<1..2^24-1> | precert: issuer_key_hash[32] TBS<1..2^24-1>)
//!                    CtExtensions<0..2^16-1>
//! extra_data x509    = certificate_chain<0..2^24-1> of ASN.1Cert<1..2^24-1>
//! extra_data precert = pre_certificate ASN.1Cert<1..2^24-1>,
//!                      precertificate_chain<0..2^24-1> of ASN.1Cert<1..2^24-1>
//! ```
//! Everything borrows from the decoded bytes; every read is bounds-checked.

use crate::error::DecodeError;

/// `LogEntryType` value of an X.509 entry.
pub const X509_ENTRY: u16 = 0;
/// `LogEntryType` value of a precertificate entry.
pub const PRECERT_ENTRY: u16 = 1;

/// The certificate part of a `TimestampedEntry`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LeafEntry<'a> {
    /// `x509_entry`: the DER certificate.
    X509(&'a [u8]),
    /// `precert_entry`: the issuer's key hash and the DER TBSCertificate (poison removed).
    Precert {
        issuer_key_hash: &'a [u8; 32],
        tbs: &'a [u8],
    },
}

/// A parsed `MerkleTreeLeaf` (version 0, leaf type timestamped_entry).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MerkleTreeLeaf<'a> {
    /// `TimestampedEntry.timestamp`, milliseconds since the Unix epoch.
    pub timestamp_ms: u64,
    pub entry: LeafEntry<'a>,
    /// `CtExtensions` bytes (without the length prefix).
    pub extensions: &'a [u8],
}

impl MerkleTreeLeaf<'_> {
    pub fn is_precert(&self) -> bool {
        matches!(self.entry, LeafEntry::Precert { .. })
    }
}

/// Why `extra_data` did not parse (the entry is still emitted, leniently).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("extra_data is malformed at {0}")]
pub struct ExtraDataError(pub &'static str);

/// The parsed `extra_data` of an entry.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ExtraData<'a> {
    /// The pre-certificate (precert entries only).
    pub pre_certificate: Option<&'a [u8]>,
    /// `certificate_chain` or `precertificate_chain`, in log order.
    pub chain: Vec<&'a [u8]>,
}

/// Bounds-checked big-endian reader over TLS-encoded bytes.
#[derive(Debug, Clone)]
pub struct TlsReader<'a> {
    rest: &'a [u8],
}

impl<'a> TlsReader<'a> {
    pub fn new(input: &'a [u8]) -> Self {
        TlsReader { rest: input }
    }

    pub fn remaining(&self) -> &'a [u8] {
        self.rest
    }

    pub fn is_empty(&self) -> bool {
        self.rest.is_empty()
    }

    pub fn bytes(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.rest.len() < n {
            return None;
        }
        let (head, tail) = self.rest.split_at(n);
        self.rest = tail;
        Some(head)
    }

    pub fn uint(&mut self, n: usize) -> Option<u64> {
        Some(
            self.bytes(n)?
                .iter()
                .fold(0u64, |acc, &b| (acc << 8) | u64::from(b)),
        )
    }

    pub fn u8(&mut self) -> Option<u8> {
        self.bytes(1).and_then(|b| b.first().copied())
    }

    pub fn u16(&mut self) -> Option<u16> {
        self.uint(2).and_then(|v| u16::try_from(v).ok())
    }

    pub fn u64(&mut self) -> Option<u64> {
        self.uint(8)
    }

    /// A vector with an `len_bytes`-byte length prefix.
    pub fn vec(&mut self, len_bytes: usize) -> Option<&'a [u8]> {
        let len = usize::try_from(self.uint(len_bytes)?).ok()?;
        self.bytes(len)
    }
}

/// Parses a decoded `leaf_input`. Trailing bytes after the extensions are ignored.
pub fn parse_leaf(input: &[u8]) -> Result<MerkleTreeLeaf<'_>, DecodeError> {
    use DecodeError::Truncated;
    let mut r = TlsReader::new(input);
    let version = r.u8().ok_or(Truncated("version"))?;
    if version != 0 {
        return Err(DecodeError::Version(version));
    }
    let leaf_type = r.u8().ok_or(Truncated("leaf_type"))?;
    if leaf_type != 0 {
        return Err(DecodeError::LeafType(leaf_type));
    }
    let timestamp_ms = r.u64().ok_or(Truncated("timestamp"))?;
    let entry_type = r.u16().ok_or(Truncated("entry_type"))?;
    let entry = match entry_type {
        X509_ENTRY => LeafEntry::X509(r.vec(3).ok_or(Truncated("certificate"))?),
        PRECERT_ENTRY => {
            let hash = r
                .bytes(32)
                .and_then(|b| <&[u8; 32]>::try_from(b).ok())
                .ok_or(Truncated("issuer_key_hash"))?;
            LeafEntry::Precert {
                issuer_key_hash: hash,
                tbs: r.vec(3).ok_or(Truncated("tbs_certificate"))?,
            }
        }
        other => return Err(DecodeError::EntryType(other)),
    };
    match entry {
        LeafEntry::X509(der) | LeafEntry::Precert { tbs: der, .. } if der.is_empty() => {
            return Err(DecodeError::EmptyCertificate)
        }
        _ => {}
    }
    let extensions = r.vec(2).ok_or(Truncated("extensions"))?;
    Ok(MerkleTreeLeaf {
        timestamp_ms,
        entry,
        extensions,
    })
}

/// Parses a list of 24-bit length-prefixed certificates inside a 24-bit total length.
fn parse_cert_list<'a>(r: &mut TlsReader<'a>) -> Result<Vec<&'a [u8]>, ExtraDataError> {
    let list = r.vec(3).ok_or(ExtraDataError("chain length"))?;
    let mut inner = TlsReader::new(list);
    let mut certs = Vec::with_capacity(4);
    while !inner.is_empty() {
        certs.push(inner.vec(3).ok_or(ExtraDataError("chain certificate"))?);
    }
    Ok(certs)
}

/// Parses the decoded `extra_data` of an entry of the given kind.
pub fn parse_extra_data(input: &[u8], precert: bool) -> Result<ExtraData<'_>, ExtraDataError> {
    let mut r = TlsReader::new(input);
    if precert {
        let pre = r.vec(3).ok_or(ExtraDataError("pre_certificate"))?;
        if pre.is_empty() {
            return Err(ExtraDataError("pre_certificate"));
        }
        let chain = parse_cert_list(&mut r)?;
        Ok(ExtraData {
            pre_certificate: Some(pre),
            chain,
        })
    } else {
        Ok(ExtraData {
            pre_certificate: None,
            chain: parse_cert_list(&mut r)?,
        })
    }
}

/// Appends `bytes` with a 24-bit length prefix (used to build leaves and `extra_data`).
pub fn push_u24_vec(out: &mut Vec<u8>, bytes: &[u8]) -> Option<()> {
    let len = u32::try_from(bytes.len()).ok().filter(|&l| l < (1 << 24))?;
    out.extend_from_slice(&len.to_be_bytes()[1..]);
    out.extend_from_slice(bytes);
    Some(())
}

/// Builds an RFC 6962 `extra_data` certificate list (`certificate_chain` or
/// `precertificate_chain`) from DER certificates. `None` when a length does not fit 24 bits.
pub fn encode_cert_list<'a>(certs: impl IntoIterator<Item = &'a [u8]>) -> Option<Vec<u8>> {
    let mut inner = Vec::new();
    for cert in certs {
        push_u24_vec(&mut inner, cert)?;
    }
    let mut out = Vec::with_capacity(inner.len() + 3);
    push_u24_vec(&mut out, &inner)?;
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn x509_leaf(cert: &[u8]) -> Vec<u8> {
        let mut out = vec![0, 0];
        out.extend_from_slice(&1_700_000_000_123u64.to_be_bytes());
        out.extend_from_slice(&0u16.to_be_bytes());
        push_u24_vec(&mut out, cert).unwrap();
        out.extend_from_slice(&[0, 0]);
        out
    }

    #[test]
    fn parses_x509_leaf() {
        let bytes = x509_leaf(&[0x30, 0x00]);
        let leaf = parse_leaf(&bytes).unwrap();
        assert_eq!(leaf.timestamp_ms, 1_700_000_000_123);
        assert_eq!(leaf.entry, LeafEntry::X509(&[0x30, 0x00]));
        assert!(leaf.extensions.is_empty());
    }

    #[test]
    fn every_truncation_is_an_error() {
        let bytes = x509_leaf(&[0x30, 0x03, 1, 2, 3]);
        for len in 0..bytes.len() {
            assert!(parse_leaf(&bytes[..len]).is_err(), "prefix of {len} bytes");
        }
    }

    #[test]
    fn rejects_bad_header() {
        assert_eq!(parse_leaf(&[1, 0]), Err(DecodeError::Version(1)));
        assert_eq!(parse_leaf(&[0, 1]), Err(DecodeError::LeafType(1)));
        let mut bytes = vec![0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 7];
        assert_eq!(parse_leaf(&bytes), Err(DecodeError::EntryType(7)));
        bytes[11] = 0;
        bytes.extend_from_slice(&[0, 0, 0, 0, 0]);
        assert_eq!(parse_leaf(&bytes), Err(DecodeError::EmptyCertificate));
    }

    #[test]
    fn parses_precert_extra_data() {
        let mut extra = Vec::new();
        push_u24_vec(&mut extra, &[0xaa]).unwrap();
        extra.extend(encode_cert_list([&[0xbb][..], &[0xcc, 0xdd][..]]).unwrap());
        let parsed = parse_extra_data(&extra, true).unwrap();
        assert_eq!(parsed.pre_certificate, Some(&[0xaa][..]));
        assert_eq!(parsed.chain, vec![&[0xbb][..], &[0xcc, 0xdd][..]]);
        assert!(parse_extra_data(&extra[..extra.len() - 1], true).is_err());
        let chain = encode_cert_list([&[0xbb][..]]).unwrap();
        assert_eq!(
            parse_extra_data(&chain, false).unwrap().chain,
            vec![&[0xbb][..]]
        );
        assert_eq!(parse_extra_data(&[0, 0, 0], false).unwrap().chain.len(), 0);
    }
}
