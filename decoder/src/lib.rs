//! Turns raw CT entries into the three certstream messages.
//!
//! [`decode_entry`] parses an RFC 6962 entry ([`leaf`]), renders its certificates ([`x509`],
//! falling back to [`lenient`] when x509-parser rejects one) and builds the lite, full and
//! domains-only frames ([`message`]) as the wire contract (sections 3 and 4) specifies.
//! [`tile`] converts Static CT tile leaves into the same RFC 6962 form.

pub mod der;
pub mod error;
pub mod json;
pub mod leaf;
pub mod lenient;
pub mod message;
pub mod name;
pub mod tile;
pub mod worker;
pub mod x509;

use base64::Engine as _;
use certstream_shared::raw::{LogSource, RawEntry};

pub use error::DecodeError;
pub use message::Frames;

/// The frames of one entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decoded {
    pub frames: Frames,
    /// True when the lenient path was used: a certificate x509-parser rejected, or an
    /// `extra_data` that did not parse (the message then carries what could be extracted).
    pub fallback: bool,
}

/// Decodes one raw entry into its three frames. Only a `leaf_input` that cannot be parsed
/// (bad base64, truncated or unknown structure) is an error.
pub fn decode_entry(log: &LogSource, entry: &RawEntry, seen: f64) -> Result<Decoded, DecodeError> {
    let b64 = base64::engine::general_purpose::STANDARD;
    let leaf_bytes = b64
        .decode(entry.leaf_input.as_bytes())
        .map_err(|_| DecodeError::Base64)?;
    let leaf = leaf::parse_leaf(&leaf_bytes)?;
    let precert = leaf.is_precert();

    let extra_bytes = b64.decode(entry.extra_data.as_bytes()).ok();
    let extra = extra_bytes
        .as_deref()
        .and_then(|bytes| leaf::parse_extra_data(bytes, precert).ok());

    let leaf_info = match (leaf.entry, extra.as_ref().and_then(|e| e.pre_certificate)) {
        (leaf::LeafEntry::X509(der), _) => x509::render(der),
        (leaf::LeafEntry::Precert { .. }, Some(pre_certificate)) => x509::render(pre_certificate),
        (leaf::LeafEntry::Precert { tbs, .. }, None) => {
            // No pre-certificate: describe the TBSCertificate from leaf_input.
            lenient::render(tbs, x509::DerDigest::of(tbs))
        }
    };
    Ok(assemble(
        log,
        entry,
        seen,
        leaf.timestamp_ms,
        precert,
        leaf_info,
        extra.as_ref(),
    ))
}

/// Decodes one raw entry like [`decode_entry`], but still builds the three frames when
/// `leaf_input` cannot be parsed, so a malformed entry never disappears from the stream. Such a
/// message carries the index, the source, the hashes of the raw `leaf_input` bytes (also in
/// `as_der`) and whatever names a lenient DER walk finds. The parse error is returned beside it.
pub fn decode_entry_partial(
    log: &LogSource,
    entry: &RawEntry,
    seen: f64,
) -> (Decoded, Option<DecodeError>) {
    match decode_entry(log, entry, seen) {
        Ok(decoded) => (decoded, None),
        Err(err) => (partial_entry(log, entry, seen), Some(err)),
    }
}

/// Offset of the certificate in an x509_entry `MerkleTreeLeaf`: version, leaf type, timestamp,
/// entry type and the 3-byte length.
const X509_CERT_OFFSET: usize = 1 + 1 + 8 + 2 + 3;

/// Offset of the TBSCertificate in a precert_entry `MerkleTreeLeaf` (after the issuer key hash).
const PRECERT_TBS_OFFSET: usize = 1 + 1 + 8 + 2 + 32 + 3;

/// Builds the frames of an entry whose `leaf_input` did not parse, from the fields that can
/// still be read at their fixed offsets.
fn partial_entry(log: &LogSource, entry: &RawEntry, seen: f64) -> Decoded {
    let b64 = base64::engine::general_purpose::STANDARD;
    let leaf_bytes = b64
        .decode(entry.leaf_input.as_bytes())
        .unwrap_or_else(|_| entry.leaf_input.as_bytes().to_vec());
    let timestamp_ms = leaf_bytes.get(2..10).map_or(0, |b| {
        b.iter().fold(0u64, |acc, &x| (acc << 8) | u64::from(x))
    });
    let precert = leaf_bytes.get(10..12) == Some(&leaf::PRECERT_ENTRY.to_be_bytes()[..]);

    let extra_bytes = b64.decode(entry.extra_data.as_bytes()).ok();
    let extra = extra_bytes
        .as_deref()
        .and_then(|bytes| leaf::parse_extra_data(bytes, precert).ok());

    let leaf_info = match extra.as_ref().and_then(|e| e.pre_certificate) {
        Some(pre_certificate) => x509::render(pre_certificate),
        None => {
            let offset = if precert {
                PRECERT_TBS_OFFSET
            } else {
                X509_CERT_OFFSET
            };
            let body = leaf_bytes.get(offset..).unwrap_or_default();
            lenient::render(body, x509::DerDigest::of(&leaf_bytes))
        }
    };
    let mut decoded = assemble(
        log,
        entry,
        seen,
        timestamp_ms,
        precert,
        leaf_info,
        extra.as_ref(),
    );
    decoded.fallback = true;
    decoded
}

/// Renders the chain and builds the frames around an already rendered leaf certificate.
fn assemble(
    log: &LogSource,
    entry: &RawEntry,
    seen: f64,
    timestamp_ms: u64,
    precert: bool,
    mut leaf_info: x509::CertInfo,
    extra: Option<&leaf::ExtraData<'_>>,
) -> Decoded {
    if precert {
        leaf_info.extensions.ctl_poison_byte = true;
    }
    let chain: Vec<x509::CertInfo> = extra
        .map(|e| e.chain.iter().map(|der| x509::render(der)).collect())
        .unwrap_or_default();
    let fallback = extra.is_none() || leaf_info.lenient || chain.iter().any(|c| c.lenient);

    let envelope = message::Envelope {
        precert,
        cert_index: entry.index,
        cert_link: entry.cert_link.as_deref(),
        seen,
        log,
        timestamp_ms,
    };
    Decoded {
        frames: message::build(&envelope, &leaf_info, &chain),
        fallback,
    }
}
