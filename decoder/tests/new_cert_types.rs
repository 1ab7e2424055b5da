//! Certificate types and shapes that no CT fixture covers, each wrapped into a synthetic
//! `x509_entry` and decoded. rcgen generates an Ed25519 chain, an ECDSA P-384 leaf, a leaf with
//! 10,000 SANs and a v3 certificate that the test rewrites into v1.
//!
//! The two RSA-PSS certificates come from the PyPI package cryptography-vectors 48.0.0
//! (Apache-2.0 OR BSD-3-Clause) and are copied unchanged into `tests/data/`:
//! `x509/custom/rsa_pss_cert.pem` (v3, SHA-256 1656d5c9…27fe) and
//! `x509/custom/rsa_pss_sha256_no_null.pem` (v1, SHA-256 8722e601…727b).

mod common;

use certstream_decoder::decode_entry;
use certstream_shared::raw::{LogSource, RawEntry};
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair,
    PKCS_ECDSA_P384_SHA384, PKCS_ED25519,
};
use serde_json::{json, Value};

fn log() -> LogSource {
    LogSource {
        id: "synthetic".into(),
        name: "Synthetic test log".into(),
        url: "https://ct.example.test/synthetic/".into(),
    }
}

/// Decodes `cert` with `chain` as a synthetic x509_entry and returns the full frame as JSON,
/// after checking that all three frames are valid JSON and agree on the domains.
fn decode_full(cert: &[u8], chain: &[&[u8]]) -> Value {
    let (leaf_input, extra_data) = common::synthetic_x509_entry(cert, chain, 1_700_000_000_000);
    let entry = RawEntry {
        index: 7,
        leaf_input,
        extra_data,
        cert_link: None,
    };
    let decoded = decode_entry(&log(), &entry, 1_700_000_001.0).expect("entry decodes");
    let full: Value = serde_json::from_slice(&decoded.frames.full).expect("full is valid JSON");
    let lite: Value = serde_json::from_slice(&decoded.frames.lite).expect("lite is valid JSON");
    let domains: Value =
        serde_json::from_slice(&decoded.frames.domains).expect("domains is valid JSON");
    assert_eq!(
        domains["data"], full["data"]["leaf_cert"]["all_domains"],
        "domains frame equals all_domains"
    );
    assert_eq!(
        lite["data"]["leaf_cert"]["all_domains"], full["data"]["leaf_cert"]["all_domains"],
        "lite and full all_domains"
    );
    assert_eq!(
        full["data"]["chain"].as_array().map(Vec::len),
        Some(chain.len()),
        "chain length"
    );
    full
}

fn leaf_params(common_name: &str, sans: Vec<String>) -> CertificateParams {
    let mut params = CertificateParams::new(sans).expect("valid SANs");
    params
        .distinguished_name
        .push(DnType::CommonName, common_name);
    params
}

#[test]
fn ed25519_chain_decodes() {
    let mut ca_params = CertificateParams::default();
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "Ed25519 Test CA");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca_key = KeyPair::generate_for(&PKCS_ED25519).expect("Ed25519 key");
    let ca = CertifiedIssuer::self_signed(ca_params, ca_key).expect("CA certificate");

    let leaf_key = KeyPair::generate_for(&PKCS_ED25519).expect("Ed25519 key");
    let leaf = leaf_params(
        "ed25519.example.com",
        vec![
            "ed25519.example.com".into(),
            "www.ed25519.example.com".into(),
        ],
    )
    .signed_by(&leaf_key, &ca)
    .expect("leaf certificate");

    let full = decode_full(leaf.der(), &[ca.der()]);
    let leaf = &full["data"]["leaf_cert"];
    assert_eq!(leaf["signature_algorithm"], "ed25519");
    assert_eq!(
        leaf["all_domains"],
        json!(["ed25519.example.com", "www.ed25519.example.com"])
    );
    assert_eq!(leaf["subject"]["CN"], "ed25519.example.com");
    assert_eq!(leaf["issuer"]["CN"], "Ed25519 Test CA");
    assert_eq!(leaf["is_ca"], false);

    let chain_cert = &full["data"]["chain"][0];
    assert_eq!(chain_cert["signature_algorithm"], "ed25519");
    assert_eq!(chain_cert["is_ca"], true);
    assert_eq!(chain_cert["extensions"]["basicConstraints"], "CA:TRUE");
}

#[test]
fn ecdsa_p384_leaf_decodes() {
    let key = KeyPair::generate_for(&PKCS_ECDSA_P384_SHA384).expect("P-384 key");
    let cert = leaf_params("p384.example.com", vec!["p384.example.com".into()])
        .self_signed(&key)
        .expect("certificate");
    let full = decode_full(cert.der(), &[]);
    let leaf = &full["data"]["leaf_cert"];
    assert_eq!(leaf["signature_algorithm"], "ecdsa, sha384");
    assert_eq!(leaf["all_domains"], json!(["p384.example.com"]));
}

#[test]
fn ten_thousand_sans_decode() {
    let sans: Vec<String> = (0..10_000)
        .map(|n| format!("host-{n}.many-sans.example"))
        .collect();
    let key = KeyPair::generate_for(&PKCS_ED25519).expect("Ed25519 key");
    let cert = leaf_params("many-sans.example", sans.clone())
        .self_signed(&key)
        .expect("certificate");

    let full = decode_full(cert.der(), &[]);
    let leaf = &full["data"]["leaf_cert"];
    let domains: Vec<&str> = leaf["all_domains"]
        .as_array()
        .expect("all_domains array")
        .iter()
        .map(|name| name.as_str().expect("domain string"))
        .collect();
    assert_eq!(domains.len(), 10_001, "CN plus every SAN");
    assert_eq!(domains[0], "many-sans.example", "CN comes first");
    assert_eq!(
        domains[1..],
        sans.iter().map(String::as_str).collect::<Vec<_>>()[..]
    );
    let rendered = leaf["extensions"]["subjectAltName"]
        .as_str()
        .expect("subjectAltName string");
    assert_eq!(rendered.matches("DNS:").count(), 10_000);
    assert!(rendered.ends_with("DNS:host-9999.many-sans.example"));
}

/// Rewrites a v3 certificate into a v1 one: drops the `[0]` version and the `[3]` extensions
/// from the TBSCertificate and re-encodes the lengths. The signature no longer verifies, which
/// the decoder does not check.
fn to_v1(der: &[u8]) -> Vec<u8> {
    let (certificate, _) = split_tlv(der);
    let (tbs, rest) = split_tlv(certificate);
    let mut fields = Vec::new();
    let mut remaining = tbs;
    while !remaining.is_empty() {
        let (_, next) = split_tlv(remaining);
        let field = &remaining[..remaining.len() - next.len()];
        if field[0] != 0xa0 && field[0] != 0xa3 {
            fields.extend_from_slice(field);
        }
        remaining = next;
    }
    let mut body = encode_tlv(0x30, &fields);
    body.extend_from_slice(rest);
    encode_tlv(0x30, &body)
}

/// Splits a DER TLV into its content and the bytes after it (definite lengths only).
fn split_tlv(input: &[u8]) -> (&[u8], &[u8]) {
    let first = input[1];
    let (length, header) = if first < 0x80 {
        (usize::from(first), 2)
    } else {
        let count = usize::from(first & 0x7f);
        let length = input[2..2 + count]
            .iter()
            .fold(0usize, |acc, &b| (acc << 8) | usize::from(b));
        (length, 2 + count)
    };
    (&input[header..header + length], &input[header + length..])
}

fn encode_tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let length = content.len();
    if length < 0x80 {
        out.push(length as u8);
    } else {
        let bytes: Vec<u8> = length
            .to_be_bytes()
            .into_iter()
            .skip_while(|&b| b == 0)
            .collect();
        out.push(0x80 | bytes.len() as u8);
        out.extend_from_slice(&bytes);
    }
    out.extend_from_slice(content);
    out
}

#[test]
fn v1_certificate_decodes() {
    let key = KeyPair::generate_for(&PKCS_ED25519).expect("Ed25519 key");
    let v3 = leaf_params("v1.example.com", vec!["ignored.example.com".into()])
        .self_signed(&key)
        .expect("certificate");
    let v1 = to_v1(v3.der());
    assert!(
        x509_parser::parse_x509_certificate(&v1)
            .is_ok_and(|(_, cert)| cert.version() == x509_parser::x509::X509Version::V1),
        "the rewritten certificate is a well-formed v1 certificate"
    );

    let full = decode_full(&v1, &[]);
    let leaf = &full["data"]["leaf_cert"];
    assert_eq!(
        leaf["all_domains"],
        json!(["v1.example.com"]),
        "CN only, no SAN"
    );
    assert_eq!(
        leaf["extensions"],
        json!({}),
        "a v1 certificate has no extensions"
    );
    assert_eq!(leaf["is_ca"], false);
    assert_eq!(leaf["signature_algorithm"], "ed25519");
}

#[test]
fn rsa_pss_certificates_decode() {
    // rsa_pss_cert.pem is a CA certificate, so its CN is not a domain.
    for (file, common_name, is_ca, domains) in [
        ("rsa_pss_cert.pem", "cryptogaphy.io", true, json!([])),
        (
            "rsa_pss_sha256_no_null.pem",
            "testing",
            false,
            json!(["testing"]),
        ),
    ] {
        let path = format!("{}/tests/data/{file}", env!("CARGO_MANIFEST_DIR"));
        let pem = std::fs::read(&path).unwrap_or_else(|err| panic!("{path}: {err}"));
        let der = common::certs_from_file(&pem).remove(0);

        let full = decode_full(&der, &[]);
        let leaf = &full["data"]["leaf_cert"];
        assert_eq!(
            leaf["signature_algorithm"], "sha256, rsa-pss",
            "{file}: signature_algorithm"
        );
        assert_eq!(leaf["subject"]["CN"], common_name, "{file}: subject CN");
        assert_eq!(leaf["is_ca"], is_ca, "{file}: is_ca");
        assert_eq!(leaf["all_domains"], domains, "{file}: all_domains");
    }
}
