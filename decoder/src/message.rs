//! Builds the three frames of one entry (lite, full, domains-only), each exactly once.
//!
//! Every certificate object is serialised once; the frames are assembled from the shared
//! pieces, so lite and full differ only by `data.chain` and `data.leaf_cert.as_der`.

use bytes::Bytes;
use certstream_shared::raw::LogSource;

use crate::json;
use crate::x509::CertInfo;

/// The exact UTF-8 JSON text of each stream's message (no trailing newline).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frames {
    pub lite: Bytes,
    pub full: Bytes,
    pub domains: Bytes,
}

/// The per-entry fields around the certificates.
#[derive(Debug, Clone, Copy)]
pub struct Envelope<'a> {
    pub precert: bool,
    pub cert_index: u64,
    /// `None`: the RFC 6962 `get-entries` link of `log`.
    pub cert_link: Option<&'a str>,
    pub seen: f64,
    pub log: &'a LogSource,
    pub timestamp_ms: u64,
}

/// `<url without trailing slashes>/ct/v1/get-entries?start=N&end=N`.
pub fn get_entries_link(log_url: &str, index: u64) -> String {
    format!(
        "{}/ct/v1/get-entries?start={index}&end={index}",
        log_url.trim_end_matches('/')
    )
}

/// Builds lite, full and domains-only frames.
pub fn build(envelope: &Envelope<'_>, leaf: &CertInfo, chain: &[CertInfo]) -> Frames {
    let all_domains = leaf.all_domains();
    let mut domains_json = Vec::with_capacity(16 + 32 * all_domains.len());
    json::push_str_array(&mut domains_json, &all_domains);

    let mut head = Vec::with_capacity(128);
    head.extend_from_slice(b"{\"message_type\":\"certificate_update\",\"data\":{\"update_type\":");
    head.extend_from_slice(if envelope.precert {
        b"\"PrecertLogEntry\""
    } else {
        b"\"X509LogEntry\""
    });
    head.extend_from_slice(b",\"leaf_cert\":");

    let mut leaf_json = Vec::with_capacity(2048);
    leaf.write_json_open(&mut leaf_json);
    leaf_json.extend_from_slice(b",\"all_domains\":");
    leaf_json.extend_from_slice(&domains_json);

    let mut tail = Vec::with_capacity(384);
    tail.extend_from_slice(b",\"cert_index\":");
    json::push_int(&mut tail, envelope.cert_index);
    tail.extend_from_slice(b",\"cert_link\":");
    match envelope.cert_link {
        Some(link) => json::push_str(&mut tail, link),
        None => json::push_str(
            &mut tail,
            &get_entries_link(&envelope.log.url, envelope.cert_index),
        ),
    }
    tail.extend_from_slice(b",\"seen\":");
    json::push_f64(&mut tail, envelope.seen);
    tail.extend_from_slice(b",\"source\":{\"name\":");
    json::push_str(&mut tail, &envelope.log.name);
    tail.extend_from_slice(b",\"url\":");
    json::push_str(&mut tail, &envelope.log.url);
    tail.extend_from_slice(b"},\"submission_timestamp\":");
    json::push_f64(&mut tail, envelope.timestamp_ms as f64 / 1000.0);
    tail.extend_from_slice(b"}}");

    let mut lite = Vec::with_capacity(head.len() + leaf_json.len() + tail.len() + 1);
    lite.extend_from_slice(&head);
    lite.extend_from_slice(&leaf_json);
    lite.push(b'}');
    lite.extend_from_slice(&tail);

    let chain_len: usize = chain.iter().map(|c| c.as_der.len() + 2048).sum();
    let mut full = Vec::with_capacity(lite.len() + leaf.as_der.len() + chain_len + 32);
    full.extend_from_slice(&head);
    full.extend_from_slice(&leaf_json);
    full.extend_from_slice(b",\"as_der\":");
    json::push_str(&mut full, &leaf.as_der);
    full.extend_from_slice(b"},\"chain\":[");
    for (i, cert) in chain.iter().enumerate() {
        if i > 0 {
            full.push(b',');
        }
        cert.write_json_open(&mut full);
        full.extend_from_slice(b",\"as_der\":");
        json::push_str(&mut full, &cert.as_der);
        full.push(b'}');
    }
    full.push(b']');
    full.extend_from_slice(&tail);

    let mut domains = Vec::with_capacity(domains_json.len() + 40);
    domains.extend_from_slice(b"{\"message_type\":\"dns_entries\",\"data\":");
    domains.extend_from_slice(&domains_json);
    domains.push(b'}');

    Frames {
        lite: Bytes::from(lite),
        full: Bytes::from(full),
        domains: Bytes::from(domains),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_never_double_slash() {
        assert_eq!(
            get_entries_link("https://log.test/a/", 7),
            "https://log.test/a/ct/v1/get-entries?start=7&end=7"
        );
        assert_eq!(
            get_entries_link("https://log.test/a", 7),
            "https://log.test/a/ct/v1/get-entries?start=7&end=7"
        );
    }
}
