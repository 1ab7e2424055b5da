//! The certificate renderer on arbitrary DER. `x509::render` runs on the bytes directly
//! (x509-parser first, the lenient DER walk when it rejects them). The same bytes then go in as
//! the certificate of an `x509_entry` and as the pre-certificate of a `precert_entry`, so the
//! frames built from them are checked too.

#![no_main]

mod common;

use base64::Engine as _;
use certstream_decoder::{decode_entry, x509};
use certstream_shared::raw::{LogSource, RawEntry};
use libfuzzer_sys::fuzz_target;

/// Appends `bytes` with a 24-bit big-endian length prefix (inputs are capped below 2^24).
fn push_u24(out: &mut Vec<u8>, bytes: &[u8]) {
    let length = bytes.len() as u32;
    out.extend_from_slice(&length.to_be_bytes()[1..]);
    out.extend_from_slice(bytes);
}

fuzz_target!(|der: &[u8]| {
    if der.is_empty() || der.len() >= 1 << 20 {
        return;
    }
    let info = x509::render(der);
    let _ = info.all_domains();

    let log = LogSource {
        id: "fuzz".into(),
        name: "Fuzz log".into(),
        url: "https://fuzz.test/log/".into(),
    };
    let b64 = base64::engine::general_purpose::STANDARD;

    // x509_entry with `der` as the leaf and as the only chain certificate.
    let mut leaf = vec![0, 0];
    leaf.extend_from_slice(&1_700_000_000_000u64.to_be_bytes());
    leaf.extend_from_slice(&0u16.to_be_bytes());
    push_u24(&mut leaf, der);
    leaf.extend_from_slice(&[0, 0]);
    let mut chain = Vec::new();
    push_u24(&mut chain, der);
    let mut extra = Vec::new();
    push_u24(&mut extra, &chain);
    let entry = RawEntry {
        index: 1,
        leaf_input: b64.encode(&leaf),
        extra_data: b64.encode(&extra),
        cert_link: None,
    };
    let decoded = decode_entry(&log, &entry, 1.5).expect("a non-empty certificate always decodes");
    common::check_frames(&decoded.frames);

    // precert_entry whose pre-certificate in extra_data is `der`.
    let mut leaf = vec![0, 0];
    leaf.extend_from_slice(&1_700_000_000_000u64.to_be_bytes());
    leaf.extend_from_slice(&1u16.to_be_bytes());
    leaf.extend_from_slice(&[0x5a; 32]);
    push_u24(&mut leaf, der);
    leaf.extend_from_slice(&[0, 0]);
    let mut extra = Vec::new();
    push_u24(&mut extra, der);
    push_u24(&mut extra, &[]);
    let entry = RawEntry {
        index: 2,
        leaf_input: b64.encode(&leaf),
        extra_data: b64.encode(&extra),
        cert_link: Some("https://fuzz.test/tile/data/000".into()),
    };
    let decoded =
        decode_entry(&log, &entry, 1.5).expect("a non-empty TBSCertificate always decodes");
    common::check_frames(&decoded.frames);
});
