//! Every certificate of `tests/fixtures/certs/` (real certificates with properties that break
//! parsers) wrapped into a **synthetic** `x509_entry`: the MerkleTreeLeaf and extra_data are
//! made up by the test, the certificates are real. The leaf is each certificate of a file in
//! turn, the chain the certificates after it in the same file.
//!
//! The oracle `tests/data/certs-expected.json` was produced by `tests/data/certs_expected.py`
//! with Python `cryptography` 48.0.0 (CN last value unless the certificate is a CA, then SAN
//! dNSNames, duplicates removed). Certificates `cryptography` refuses carry a `by_hand` note:
//! their values were read with `openssl asn1parse`.

mod common;

use std::collections::BTreeMap;

use certstream_decoder::decode_entry;
use certstream_shared::raw::{LogSource, RawEntry};
use serde_json::Value;

fn cert_files() -> Vec<(String, Vec<u8>)> {
    let root = common::fixture("certs");
    let mut out = Vec::new();
    for dir in std::fs::read_dir(&root).unwrap() {
        let dir = dir.unwrap().path();
        for file in std::fs::read_dir(&dir).unwrap() {
            let path = file.unwrap().path();
            let rel = path
                .strip_prefix(&root)
                .unwrap()
                .to_str()
                .unwrap()
                .to_owned();
            out.push((rel, std::fs::read(&path).unwrap()));
        }
    }
    out.sort();
    out
}

fn log() -> LogSource {
    LogSource {
        id: "synthetic".into(),
        name: "Synthetic test log".into(),
        url: "https://ct.example.test/synthetic/".into(),
    }
}

fn decode(cert: &[u8], chain: &[&[u8]]) -> (certstream_decoder::Decoded, Value) {
    let (leaf_input, extra_data) = common::synthetic_x509_entry(cert, chain, 1_700_000_000_000);
    let entry = RawEntry {
        index: 42,
        leaf_input,
        extra_data,
        cert_link: None,
    };
    let decoded = decode_entry(&log(), &entry, 1_700_000_001.0).unwrap();
    for frame in [
        &decoded.frames.lite,
        &decoded.frames.full,
        &decoded.frames.domains,
    ] {
        assert!(std::str::from_utf8(frame).is_ok());
    }
    let full: Value = serde_json::from_slice(&decoded.frames.full).expect("full is valid JSON");
    let lite: Value = serde_json::from_slice(&decoded.frames.lite).expect("lite is valid JSON");
    let domains: Value =
        serde_json::from_slice(&decoded.frames.domains).expect("domains is valid JSON");
    assert_eq!(domains["data"], full["data"]["leaf_cert"]["all_domains"]);
    assert_eq!(
        lite["data"]["leaf_cert"]["all_domains"],
        full["data"]["leaf_cert"]["all_domains"]
    );
    (decoded, full)
}

#[test]
fn every_fixture_certificate_matches_the_oracle() {
    let oracle: BTreeMap<String, Value> = serde_json::from_str(
        &std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/data/certs-expected.json"
        ))
        .unwrap(),
    )
    .unwrap();
    let mut seen = 0;
    for (rel, bytes) in cert_files() {
        let certs = common::certs_from_file(&bytes);
        assert!(!certs.is_empty(), "{rel}");
        for (i, cert) in certs.iter().enumerate() {
            let key = format!("{rel}#{i}");
            let expected = oracle
                .get(&key)
                .unwrap_or_else(|| panic!("{key} missing in oracle"));
            let chain: Vec<&[u8]> = certs[i + 1..].iter().map(Vec::as_slice).collect();
            let (decoded, full) = decode(cert, &chain);
            let leaf = &full["data"]["leaf_cert"];
            assert_eq!(
                leaf["all_domains"], expected["all_domains"],
                "{key}: all_domains (fallback {})",
                decoded.fallback
            );
            assert_eq!(leaf["is_ca"], expected["is_ca"], "{key}: is_ca");
            for field in ["not_before", "not_after"] {
                if let Some(value) = expected.get(field) {
                    assert_eq!(&leaf[field], value, "{key}: {field}");
                }
            }
            if let Some(value) = expected.get("fallback") {
                assert_eq!(&Value::Bool(decoded.fallback), value, "{key}: fallback");
            }
            assert_eq!(full["data"]["chain"].as_array().unwrap().len(), chain.len());
            seen += 1;
        }
    }
    assert_eq!(seen, oracle.len(), "every oracle entry was checked");
}

/// Deterministic xorshift, so the mutation test needs no extra dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

#[test]
fn truncated_and_mutated_certificates_never_panic() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for (rel, bytes) in cert_files() {
        let certs = common::certs_from_file(&bytes);
        let cert = &certs[0];
        // Every 7th truncation point, plus the last few bytes.
        let cuts = (1..cert.len())
            .step_by(7)
            .chain(cert.len().saturating_sub(4)..cert.len());
        for cut in cuts {
            let (decoded, _) = decode(&cert[..cut], &[&cert[..cut / 2 + 1]]);
            assert!(
                decoded.fallback,
                "{rel}: truncated at {cut} parsed strictly"
            );
        }
        for _ in 0..64 {
            let mut mutated = cert.clone();
            for _ in 0..1 + rng.next() % 4 {
                let pos = (rng.next() as usize) % mutated.len();
                mutated[pos] = rng.next() as u8;
            }
            decode(&mutated, &[&mutated]);
        }
    }
}

fn leaf_of(rel: &str) -> (bool, Value) {
    let bytes = std::fs::read(common::fixture(&format!("certs/{rel}"))).unwrap();
    let certs = common::certs_from_file(&bytes);
    let (decoded, full) = decode(&certs[0], &[]);
    (decoded.fallback, full["data"]["leaf_cert"].clone())
}

/// Exact renderings of fields that break parsers, checked against `openssl x509 -text`.
#[test]
fn exact_values_of_hard_fields() {
    let (fallback, leaf) = leaf_of("cryptography-vectors/negative_serial.pem");
    assert!(!fallback);
    // openssl: serial=-04316693ED, i.e. the two's complement bytes FB CE 99 6C 13.
    assert_eq!(leaf["serial_number"], "FBCE996C13");
    assert_eq!(
        leaf["fingerprint"],
        "07:D5:28:06:C1:32:F0:DC:B5:2C:A6:2C:CE:5E:5E:00:D3:FA:81:1D"
    );
    assert_eq!(
        leaf["extensions"]["authorityKeyIdentifier"],
        "keyid:01:02:03"
    );
    assert_eq!(
        leaf["subject"]["aggregated"],
        "/C=US/CN=gov.us/L=Tallahassee/O=Extreme Discord/OU=Chaos/ST=FL"
    );
    assert_eq!(leaf["subject"]["emailAddress"], Value::Null);

    let (_, leaf) = leaf_of("zlint/SANIPv6Address.pem");
    assert_eq!(
        leaf["extensions"]["subjectAltName"],
        "IP Address:2001:db8::2:1"
    );
    assert_eq!(leaf["serial_number"], "03");

    let (_, leaf) = leaf_of("google-ct-python/dsa_with_sha256.der");
    assert_eq!(leaf["signature_algorithm"], "dsa, sha256");
    assert_eq!(
        leaf["extensions"]["authorityInfoAccess"],
        "URI:http://sp.symcd.com, URI:http://sp.symcb.com/sp.crt"
    );
    assert_eq!(
        leaf["extensions"]["certificatePolicies"],
        "Policy: 2.16.840.1.113733.1.7.23.6\n"
    );

    let (_, leaf) = leaf_of("cryptography-vectors/san_email_dns_ip_dirname_uri.pem");
    assert_eq!(
        leaf["extensions"]["subjectAltName"],
        "email:user@cryptography.io, DNS:cryptography.io, IP Address:127.0.0.1, \
         IP Address:ff::, DirName:/CN=dirCN/O=Cryptographic Authority, URI:https://cryptography.io"
    );

    let (_, leaf) = leaf_of("google-ct-python/null_chars.pem");
    assert_eq!(leaf["subject"]["CN"], "null.python.org\u{0}example.org");
    assert_eq!(leaf["subject"]["emailAddress"], "python-dev@python.org");
    assert_eq!(leaf["serial_number"], "00");

    // UniversalString CN, TeletexString O.
    let (_, leaf) = leaf_of("zlint/subjectCNWrongEncoding.pem");
    assert_eq!(leaf["subject"]["CN"], "U");
    let (_, leaf) = leaf_of("zlint/subjectOWrongEncoding.pem");
    assert_eq!(leaf["subject"]["aggregated"], "/O=TeletexString");

    // A precertificate in an x509_entry still reports its poison extension.
    let (_, leaf) = leaf_of("cryptography-vectors/cryptography.io.precert.pem");
    assert_eq!(leaf["extensions"]["ctlPoisonByte"], true);
    assert_eq!(
        leaf["extensions"]["keyUsage"],
        "Digital Signature, Key Encipherment"
    );

    // BER indefinite length: x509-parser rejects it, the lenient walk still reads it.
    let (fallback, leaf) = leaf_of("google-ct-python/asn1_indefinite_length_encoding.pem");
    assert!(fallback);
    assert_eq!(leaf["signature_algorithm"], "md5, rsa");
    assert_eq!(
        leaf["subject"]["aggregated"],
        "/L=Internet/O=VeriSign, Inc./OU=VeriSign Class 1 CA - Individual Subscriber"
    );
    assert_eq!(
        leaf["sha1"],
        "6C:E1:42:24:B0:D0:12:BE:38:84:43:DF:1B:0D:BB:08:CA:BC:44:24"
    );
}
