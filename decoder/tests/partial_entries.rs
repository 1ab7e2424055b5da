//! Entries whose `leaf_input` does not parse still produce three valid frames through
//! `decode_entry_partial`, carrying the index, the source and the hashes of the raw bytes.

mod common;

use base64::Engine as _;
use certstream_decoder::{decode_entry_partial, DecodeError};
use certstream_shared::raw::{LogSource, RawEntry};
use serde_json::{json, Value};

fn log() -> LogSource {
    LogSource {
        id: "synthetic".into(),
        name: "Synthetic test log".into(),
        url: "https://ct.example.test/synthetic/".into(),
    }
}

/// Decodes an entry and checks the frames every partial message must have; returns the full
/// frame and the error.
fn decode_broken(leaf_input: String, extra_data: String) -> (Value, DecodeError) {
    let entry = RawEntry {
        index: 31337,
        leaf_input,
        extra_data,
        cert_link: None,
    };
    let (decoded, error) = decode_entry_partial(&log(), &entry, 1_700_000_001.0);
    let error = error.expect("leaf_input is reported as unparseable");

    assert!(
        decoded.fallback,
        "{error}: partial entries count as fallback"
    );
    let full: Value = serde_json::from_slice(&decoded.frames.full).expect("full is valid JSON");
    let lite: Value = serde_json::from_slice(&decoded.frames.lite).expect("lite is valid JSON");
    let domains: Value =
        serde_json::from_slice(&decoded.frames.domains).expect("domains is valid JSON");

    assert_eq!(full["data"]["cert_index"], 31337, "{error}: cert_index");
    assert_eq!(
        lite["data"]["cert_index"], 31337,
        "{error}: lite cert_index"
    );
    assert_eq!(
        full["data"]["source"]["url"], "https://ct.example.test/synthetic/",
        "{error}: source"
    );
    assert_eq!(
        domains["data"], full["data"]["leaf_cert"]["all_domains"],
        "{error}: domains frame"
    );
    (full, error)
}

#[test]
fn broken_leaves_still_stream() {
    let b64 = base64::engine::general_purpose::STANDARD;
    let cases: [(&str, Vec<u8>, &str); 5] = [
        ("empty", vec![], "truncated"),
        ("version 1", vec![1, 0, 0, 0], "version"),
        ("leaf type 9", vec![0, 9], "leaf_type"),
        (
            "entry type 5",
            [vec![0, 0], vec![0; 8], vec![0, 5]].concat(),
            "entry_type",
        ),
        (
            "certificate cut short",
            [
                vec![0, 0],
                vec![0, 0, 1, 0x8b, 0xcf, 0xe5, 0x68, 0],
                vec![0, 0, 0, 1, 0, 0x30],
            ]
            .concat(),
            "truncated",
        ),
    ];
    for (name, leaf, kind) in cases {
        let (full, error) = decode_broken(b64.encode(&leaf), String::new());
        assert_eq!(error.kind(), kind, "{name}: error kind");
        let leaf_cert = &full["data"]["leaf_cert"];
        assert_eq!(
            leaf_cert["as_der"],
            b64.encode(&leaf),
            "{name}: raw bytes in as_der"
        );
        assert_eq!(leaf_cert["all_domains"], json!([]), "{name}: all_domains");
        assert_eq!(
            leaf_cert["sha256"].as_str().map(str::len),
            Some(95),
            "{name}: sha256 of the raw bytes"
        );
    }
}

#[test]
fn invalid_base64_hashes_the_text() {
    let (full, error) = decode_broken("not base64!".to_string(), String::new());
    assert_eq!(error, DecodeError::Base64);
    let as_der = full["data"]["leaf_cert"]["as_der"]
        .as_str()
        .expect("as_der");
    let raw = base64::engine::general_purpose::STANDARD
        .decode(as_der)
        .expect("as_der is base64");
    assert_eq!(raw, b"not base64!", "as_der holds the leaf_input text");
}

#[test]
fn truncated_precert_uses_extra_data() {
    // A precert leaf that ends inside its TBSCertificate, next to a valid PrecertChainEntry: the
    // names come from the pre-certificate in extra_data.
    let pem = std::fs::read(common::fixture(
        "certs/cryptography-vectors/cryptography.io.precert.pem",
    ))
    .expect("precert fixture");
    let precert = common::certs_from_file(&pem).remove(0);
    let mut leaf = vec![0, 0];
    leaf.extend_from_slice(&1_700_000_000_000u64.to_be_bytes());
    leaf.extend_from_slice(&1u16.to_be_bytes());
    leaf.extend_from_slice(&[0xaa; 32]);
    leaf.extend_from_slice(&[0x00, 0x10, 0x00, 0x30]);
    let mut extra = Vec::new();
    common::push_u24(&mut extra, &precert);
    common::push_u24(&mut extra, &[]);
    let b64 = base64::engine::general_purpose::STANDARD;

    let (full, error) = decode_broken(b64.encode(&leaf), b64.encode(&extra));
    assert_eq!(error.kind(), "truncated");
    let data = &full["data"];
    assert_eq!(data["update_type"], "PrecertLogEntry");
    assert_eq!(data["submission_timestamp"], 1_700_000_000.0);
    assert_eq!(data["leaf_cert"]["extensions"]["ctlPoisonByte"], true);
    assert!(
        data["leaf_cert"]["all_domains"]
            .as_array()
            .is_some_and(|names| names.iter().any(|name| name == "cryptography.io")),
        "names from the pre-certificate: {}",
        data["leaf_cert"]["all_domains"]
    );
}
