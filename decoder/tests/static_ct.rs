//! All 1024 entries of the Static CT log prefix `tests/fixtures/static-ct/navigli2025h2/`:
//! each tile leaf is converted to an RFC 6962 entry with `decoder::tile` (chain fingerprints
//! resolved through the `issuer/` files) and decoded. Checked against the log itself (the
//! RFC 6962 leaf hash of the converted `leaf_input` equals the level-0 hash tile) and against
//! certspotter 0.16.0's independent reading of the same entries (DNS names as a set, validity,
//! SHA-256 of the pre-certificate).

mod common;

use std::collections::{BTreeSet, HashMap};

use base64::Engine as _;
use certstream_decoder::{decode_entry, tile};
use certstream_shared::raw::{LogSource, RawEntry};
use serde_json::Value;
use sha2::Digest as _;

const PREFIX: &str = "static-ct/navigli2025h2";

fn read(rel: &str) -> Vec<u8> {
    let path = common::fixture(&format!("{PREFIX}/{rel}"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn issuers() -> HashMap<[u8; 32], Vec<u8>> {
    let dir = common::fixture(&format!("{PREFIX}/issuer"));
    let mut out = HashMap::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let der = std::fs::read(&path).unwrap();
        let name = path.file_name().unwrap().to_str().unwrap();
        let fingerprint: [u8; 32] = hex::decode(name).unwrap().try_into().unwrap();
        assert_eq!(<[u8; 32]>::from(sha2::Sha256::digest(&der)), fingerprint);
        out.insert(fingerprint, der);
    }
    assert_eq!(out.len(), 5);
    out
}

/// `2025-05-03T16:14:48Z` to Unix seconds (independent of the decoder's own time parsing).
fn rfc3339(s: &str) -> i64 {
    let n = |r: std::ops::Range<usize>| s[r].parse::<i64>().unwrap();
    let (y, m, d) = (n(0..4), n(5..7), n(8..10));
    let (hh, mm, ss) = (n(11..13), n(14..16), n(17..19));
    assert_eq!(&s[19..], "Z");
    // Days since the epoch, counted month by month.
    let leap = |y: i64| (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let mut days = (1970..y)
        .map(|y| if leap(y) { 366 } else { 365 })
        .sum::<i64>();
    let month_days = [
        31,
        if leap(y) { 29 } else { 28 },
        31,
        30,
        31,
        30,
        31,
        31,
        30,
        31,
        30,
        31,
    ];
    days += month_days[..(m - 1) as usize].iter().sum::<i64>() + d - 1;
    days * 86_400 + hh * 3600 + mm * 60 + ss
}

#[test]
fn all_1024_entries_match_certspotter() {
    let issuers = issuers();
    let oracle: Vec<Value> = String::from_utf8(read("expected/certspotter-0.16.0.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(oracle.len(), 1024);
    let log = LogSource {
        id: "geomys_navigli2025h2".into(),
        name: "Geomys 'navigli2025h2'".into(),
        url: "https://navigli2025h2.sunlight.geomys.org/".into(),
    };
    let b64 = base64::engine::general_purpose::STANDARD;
    let mut index = 0u64;
    for tile_number in 0..4 {
        let data = read(&format!("tile/data/{tile_number:03}"));
        let hashes = read(&format!("tile/0/{tile_number:03}"));
        let leaves = tile::tile_leaves(&data).unwrap();
        assert_eq!(leaves.len(), 256);
        for (i, leaf) in leaves.iter().enumerate() {
            assert_eq!(leaf.leaf_index(), Some(index));
            assert_eq!(leaf.entry_type, 1, "all entries are precertificates");
            let (leaf_input, extra_data) = leaf
                .to_rfc6962(|fp| issuers.get(fp).map(Vec::as_slice))
                .unwrap();
            // The converted leaf_input hashes to the log's own leaf hash.
            let mut hasher = sha2::Sha256::new();
            hasher.update([0u8]);
            hasher.update(&leaf_input);
            assert_eq!(
                &hasher.finalize()[..],
                &hashes[i * 32..i * 32 + 32],
                "leaf {index}"
            );

            let link = format!("{}tile/data/{tile_number:03}", log.url);
            let raw = RawEntry {
                index,
                leaf_input: b64.encode(&leaf_input),
                extra_data: b64.encode(&extra_data),
                cert_link: Some(link.clone()),
            };
            let decoded = decode_entry(&log, &raw, 1_750_000_000.5).unwrap();
            assert!(!decoded.fallback, "entry {index} used the lenient path");
            let full: Value = serde_json::from_slice(&decoded.frames.full).unwrap();
            let lite: Value = serde_json::from_slice(&decoded.frames.lite).unwrap();
            let domains: Value = serde_json::from_slice(&decoded.frames.domains).unwrap();
            let data = &full["data"];
            let expected = &oracle[index as usize];
            assert_eq!(expected["log_index"], index);

            let ours: BTreeSet<&str> = data["leaf_cert"]["all_domains"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_str().unwrap())
                .collect();
            let theirs: BTreeSet<&str> = expected["dns_names"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_str().unwrap())
                .collect();
            assert_eq!(ours, theirs, "entry {index}: all_domains");
            assert_eq!(domains["data"], data["leaf_cert"]["all_domains"]);
            assert_eq!(
                lite["data"]["leaf_cert"]["all_domains"],
                data["leaf_cert"]["all_domains"]
            );
            assert_eq!(
                data["leaf_cert"]["not_before"].as_i64().unwrap(),
                rfc3339(expected["not_before"].as_str().unwrap()),
                "entry {index}: not_before"
            );
            assert_eq!(
                data["leaf_cert"]["not_after"].as_i64().unwrap(),
                rfc3339(expected["not_after"].as_str().unwrap()),
                "entry {index}: not_after"
            );
            // leaf_cert is the pre-certificate: certspotter's sha256 is of that DER too.
            let sha256 = data["leaf_cert"]["sha256"]
                .as_str()
                .unwrap()
                .replace(':', "");
            assert_eq!(
                sha256.to_lowercase(),
                expected["sha256"].as_str().unwrap(),
                "entry {index}: sha256"
            );
            assert_eq!(data["leaf_cert"]["extensions"]["ctlPoisonByte"], true);
            assert_eq!(data["update_type"], "PrecertLogEntry");
            assert_eq!(data["cert_link"], link.as_str());
            assert_eq!(data["cert_index"], index);
            assert_eq!(
                data["submission_timestamp"].as_f64().unwrap(),
                leaf.timestamp_ms as f64 / 1000.0
            );
            let chain = data["chain"].as_array().unwrap();
            assert_eq!(chain.len(), leaf.chain.len());
            for (cert, fp) in chain.iter().zip(&leaf.chain) {
                let der = b64.decode(cert["as_der"].as_str().unwrap()).unwrap();
                assert_eq!(&der, &issuers[*fp]);
                assert_eq!(cert["is_ca"], true);
            }
            index += 1;
        }
    }
    assert_eq!(index, 1024);
}

#[test]
fn partial_tile_is_a_prefix_of_the_full_tile() {
    let full = read("tile/data/003");
    let partial = read("tile/data/003.p/10");
    let full_leaves = tile::tile_leaves(&full).unwrap();
    let partial_leaves = tile::tile_leaves(&partial).unwrap();
    assert_eq!(partial_leaves.len(), 10);
    assert_eq!(partial_leaves[..], full_leaves[..10]);
    assert_eq!(partial_leaves[0].leaf_index(), Some(768));
}
