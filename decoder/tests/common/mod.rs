//! Helpers shared by the decoder's integration tests.
#![allow(dead_code)]

use serde_json::Value;

/// Path of a file under the workspace's `tests/fixtures/`.
pub fn fixture(rel: &str) -> String {
    format!("{}/../tests/fixtures/{rel}", env!("CARGO_MANIFEST_DIR"))
}

/// Asserts that every key of `expected` is in `ours` with an equal value (recursively for
/// objects, element-wise for arrays), except `data.seen`. Extra keys in `ours` are allowed.
pub fn assert_subset(expected: &Value, ours: &Value, path: &str) {
    match (expected, ours) {
        (Value::Object(exp), Value::Object(got)) => {
            for (key, exp_value) in exp {
                let sub = format!("{path}.{key}");
                if sub == ".data.seen" {
                    assert!(got.get(key).is_some_and(Value::is_number), "{sub} missing");
                    continue;
                }
                let got_value = got
                    .get(key)
                    .unwrap_or_else(|| panic!("{sub} missing in ours"));
                assert_subset(exp_value, got_value, &sub);
            }
        }
        (Value::Array(exp), Value::Array(got)) => {
            assert_eq!(exp.len(), got.len(), "{path}: array length");
            for (i, (e, g)) in exp.iter().zip(got).enumerate() {
                assert_subset(e, g, &format!("{path}[{i}]"));
            }
        }
        (Value::Number(e), Value::Number(g)) => {
            assert_eq!(e.as_f64(), g.as_f64(), "{path}");
            assert_eq!(e.is_f64(), g.is_f64(), "{path}: integer vs float");
        }
        _ => assert_eq!(expected, ours, "{path}"),
    }
}

/// Appends `bytes` with a 24-bit big-endian length prefix.
pub fn push_u24(out: &mut Vec<u8>, bytes: &[u8]) {
    let len = u32::try_from(bytes.len()).unwrap();
    assert!(len < 1 << 24);
    out.extend_from_slice(&len.to_be_bytes()[1..]);
    out.extend_from_slice(bytes);
}

/// A synthetic RFC 6962 `x509_entry`: the MerkleTreeLeaf (timestamp given, no extensions)
/// around `cert`, and the `extra_data` certificate_chain holding `chain`. Both base64.
pub fn synthetic_x509_entry(cert: &[u8], chain: &[&[u8]], timestamp_ms: u64) -> (String, String) {
    use base64::Engine as _;
    let mut leaf = vec![0u8, 0u8];
    leaf.extend_from_slice(&timestamp_ms.to_be_bytes());
    leaf.extend_from_slice(&0u16.to_be_bytes());
    push_u24(&mut leaf, cert);
    leaf.extend_from_slice(&[0, 0]);
    let mut list = Vec::new();
    for c in chain {
        push_u24(&mut list, c);
    }
    let mut extra = Vec::new();
    push_u24(&mut extra, &list);
    let b64 = base64::engine::general_purpose::STANDARD;
    (b64.encode(leaf), b64.encode(extra))
}

/// The DER certificates of a PEM file (or the file itself when it is DER).
pub fn certs_from_file(bytes: &[u8]) -> Vec<Vec<u8>> {
    use base64::Engine as _;
    let Ok(text) = std::str::from_utf8(bytes) else {
        return vec![bytes.to_vec()];
    };
    if !text.contains("-----BEGIN CERTIFICATE-----") {
        return vec![bytes.to_vec()];
    }
    let mut out = Vec::new();
    let mut body: Option<String> = None;
    for line in text.lines() {
        let line = line.trim();
        if line == "-----BEGIN CERTIFICATE-----" {
            body = Some(String::new());
        } else if line == "-----END CERTIFICATE-----" {
            let b64 = body.take().expect("END without BEGIN");
            out.push(
                base64::engine::general_purpose::STANDARD
                    .decode(b64)
                    .expect("PEM body is base64"),
            );
        } else if let Some(b) = body.as_mut() {
            b.push_str(line);
        }
    }
    out
}
