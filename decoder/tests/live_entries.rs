//! The 20 real RFC 6962 entries of `tests/fixtures/rfc6962/live-entries.json`, decoded and
//! compared with the messages an existing certstream server produced for them (as the
//! fixtures README describes: every expected key present with an equal value, except
//! `data.seen`; extra keys and `null` attributes in ours allowed).

mod common;

use certstream_decoder::decode_entry;
use certstream_shared::raw::{LogSource, RawEntry};
use serde_json::Value;

#[derive(serde::Deserialize)]
struct LiveEntry {
    name: String,
    log_name: String,
    log_url: String,
    cert_index: u64,
    leaf_input: String,
    extra_data: String,
    expected_full: String,
    expected_lite: String,
    expected_domains_only: String,
}

fn entries() -> Vec<LiveEntry> {
    let text = std::fs::read_to_string(common::fixture("rfc6962/live-entries.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn decode(entry: &LiveEntry) -> certstream_decoder::Decoded {
    let log = LogSource {
        id: entry
            .name
            .rsplit_once('_')
            .map_or("log", |(id, _)| id)
            .to_owned(),
        name: entry.log_name.clone(),
        url: entry.log_url.clone(),
    };
    let raw = RawEntry {
        index: entry.cert_index,
        leaf_input: entry.leaf_input.clone(),
        extra_data: entry.extra_data.clone(),
        cert_link: None,
    };
    decode_entry(&log, &raw, 1_700_000_000.25).unwrap()
}

#[test]
fn all_twenty_match_expected_messages() {
    let entries = entries();
    assert_eq!(entries.len(), 20);
    for entry in &entries {
        let decoded = decode(entry);
        assert!(!decoded.fallback, "{}: lenient path used", entry.name);
        let frames = &decoded.frames;
        for (label, ours, expected) in [
            ("full", &frames.full, &entry.expected_full),
            ("lite", &frames.lite, &entry.expected_lite),
            ("domains", &frames.domains, &entry.expected_domains_only),
        ] {
            let ours: Value = serde_json::from_slice(ours)
                .unwrap_or_else(|e| panic!("{} {label}: invalid JSON: {e}", entry.name));
            let expected: Value = serde_json::from_str(expected).unwrap();
            common::assert_subset(&expected, &ours, "");
            if label != "domains" {
                assert_eq!(
                    ours["data"]["seen"], 1_700_000_000.25,
                    "{} {label}",
                    entry.name
                );
            }
        }
    }
}

#[test]
fn lite_is_full_without_chain_and_leaf_der() {
    for entry in &entries() {
        let frames = decode(entry).frames;
        let mut full: Value = serde_json::from_slice(&frames.full).unwrap();
        let lite: Value = serde_json::from_slice(&frames.lite).unwrap();
        let data = full["data"].as_object_mut().unwrap();
        let chain = data.remove("chain").unwrap();
        // Every chain entry carries as_der in our output (the expected messages do not).
        for cert in chain.as_array().unwrap() {
            assert!(cert["as_der"].as_str().is_some_and(|s| !s.is_empty()));
        }
        let leaf = data["leaf_cert"].as_object_mut().unwrap();
        assert!(leaf.remove("as_der").is_some());
        assert_eq!(full, lite, "{}", entry.name);
        // All seven subject/issuer keys are always present.
        for side in ["subject", "issuer"] {
            let obj = lite["data"]["leaf_cert"][side].as_object().unwrap();
            for key in [
                "C",
                "CN",
                "L",
                "O",
                "OU",
                "ST",
                "emailAddress",
                "aggregated",
            ] {
                assert!(obj.contains_key(key), "{} {side}.{key}", entry.name);
            }
        }
        assert!(!frames.full.ends_with(b"\n"));
    }
}

#[test]
fn first_entry_exact_text_of_fields() {
    let entries = entries();
    let frames = decode(&entries[0]).frames;
    assert_eq!(
        std::str::from_utf8(&frames.domains).unwrap(),
        r#"{"message_type":"dns_entries","data":["portal.dragonjar.org"]}"#
    );
    let lite = std::str::from_utf8(&frames.lite).unwrap();
    assert!(lite.starts_with(
        r#"{"message_type":"certificate_update","data":{"update_type":"PrecertLogEntry","leaf_cert":{"subject":{"C":null,"CN":"portal.dragonjar.org","L":null,"O":null,"OU":null,"ST":null,"emailAddress":null,"aggregated":"/CN=portal.dragonjar.org"}"#
    ));
    assert!(lite.ends_with(
        r#""cert_index":1111014090,"cert_link":"https://ct.googleapis.com/logs/us1/argon2026h2/ct/v1/get-entries?start=1111014090&end=1111014090","seen":1700000000.25,"source":{"name":"Google 'Argon2026h2'","url":"https://ct.googleapis.com/logs/us1/argon2026h2/"},"submission_timestamp":1779302893.443}}"#
    ));
}

#[test]
fn cert_link_from_entry_wins() {
    let entries = entries();
    let entry = &entries[0];
    let log = LogSource {
        id: "x".into(),
        name: "X".into(),
        url: "https://static.test/log/".into(),
    };
    let raw = RawEntry {
        index: 5,
        leaf_input: entry.leaf_input.clone(),
        extra_data: entry.extra_data.clone(),
        cert_link: Some("https://static.test/log/tile/data/000".into()),
    };
    let decoded = decode_entry(&log, &raw, 1.0).unwrap();
    let full: Value = serde_json::from_slice(&decoded.frames.full).unwrap();
    assert_eq!(
        full["data"]["cert_link"],
        "https://static.test/log/tile/data/000"
    );
    assert_eq!(full["data"]["cert_index"], 5);
}
