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
    let mut fallback = extra.is_none();

    let mut leaf_info = match (leaf.entry, extra.as_ref().and_then(|e| e.pre_certificate)) {
        (leaf::LeafEntry::X509(der), _) => x509::render(der),
        (leaf::LeafEntry::Precert { .. }, Some(pre_certificate)) => x509::render(pre_certificate),
        (leaf::LeafEntry::Precert { tbs, .. }, None) => {
            // No pre-certificate: describe the TBSCertificate from leaf_input.
            lenient::render(tbs, x509::DerDigest::of(tbs))
        }
    };
    if precert {
        leaf_info.extensions.ctl_poison_byte = true;
    }
    let chain: Vec<x509::CertInfo> = extra
        .as_ref()
        .map(|e| e.chain.iter().map(|der| x509::render(der)).collect())
        .unwrap_or_default();
    fallback |= leaf_info.lenient || chain.iter().any(|c| c.lenient);

    let envelope = message::Envelope {
        precert,
        cert_index: entry.index,
        cert_link: entry.cert_link.as_deref(),
        seen,
        log,
        timestamp_ms: leaf.timestamp_ms,
    };
    Ok(Decoded {
        frames: message::build(&envelope, &leaf_info, &chain),
        fallback,
    })
}
