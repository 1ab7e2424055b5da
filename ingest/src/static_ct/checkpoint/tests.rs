use ring::rand::SystemRandom;
use ring::signature::{EcdsaKeyPair, KeyPair, ECDSA_P256_SHA256_ASN1_SIGNING};

use super::*;
use crate::tree_head::{ECDSA, P256_SPKI_PREFIX, SHA256};

const ORIGIN: &str = "log.example/2025h2";

struct TestKey {
    pair: EcdsaKeyPair,
    spki: Vec<u8>,
}

fn test_key() -> TestKey {
    let rng = SystemRandom::new();
    let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &rng).unwrap();
    let pair =
        EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, pkcs8.as_ref(), &rng).unwrap();
    let mut spki = P256_SPKI_PREFIX.to_vec();
    spki.extend_from_slice(pair.public_key().as_ref());
    TestKey { pair, spki }
}

/// Returns the base64 signature line body of `key` over the tree head.
fn signature(key: &TestKey, name: &str, timestamp: u64, size: u64, root: &[u8; 32]) -> String {
    let message = tree_head_signature_input(timestamp, size, root);
    let der = key.pair.sign(&SystemRandom::new(), &message).unwrap();
    let mut body = note_key_id(name, &Sha256::digest(&key.spki)).to_vec();
    body.extend_from_slice(&timestamp.to_be_bytes());
    body.extend_from_slice(&[SHA256, ECDSA]);
    body.extend_from_slice(&u16::try_from(der.as_ref().len()).unwrap().to_be_bytes());
    body.extend_from_slice(der.as_ref());
    BASE64.encode(body)
}

fn checkpoint(key: &TestKey, size: u64, extra_lines: &str) -> String {
    let root = [9u8; 32];
    let signature = signature(key, ORIGIN, 1_700_000_000_000, size, &root);
    format!(
        "{ORIGIN}\n{size}\n{}\n\n{extra_lines}\u{2014} {ORIGIN} {signature}\n",
        BASE64.encode(root)
    )
}

#[test]
fn valid_checkpoint_verifies() {
    let key = test_key();
    let verifier = CheckpointVerifier::new(ORIGIN, &key.spki).unwrap();

    let verified = verifier
        .verify(checkpoint(&key, 778, "").as_bytes())
        .unwrap();

    assert_eq!(verified.tree_size, 778);
    assert_eq!(verified.root_hash, [9u8; 32]);
    assert_eq!(verified.timestamp_ms, 1_700_000_000_000);
}

#[test]
fn unknown_signature_lines_are_ignored() {
    let key = test_key();
    let witness = "\u{2014} witness.example AAAAAAAAAAAA\n\u{2014} log.example/2025h2 AAAA\n";
    let verifier = CheckpointVerifier::new(ORIGIN, &key.spki).unwrap();

    let verified = verifier.verify(checkpoint(&key, 5, witness).as_bytes());

    assert_eq!(verified.map(|c| c.tree_size), Ok(5));
}

#[test]
fn other_key_is_rejected() {
    let key = test_key();
    let other = test_key();
    let verifier = CheckpointVerifier::new(ORIGIN, &other.spki).unwrap();

    let error = verifier.verify(checkpoint(&key, 5, "").as_bytes());

    assert!(
        matches!(error, Err(CheckpointError::MissingSignature { .. })),
        "{error:?}"
    );
}

#[test]
fn altered_size_is_rejected() {
    let key = test_key();
    let verifier = CheckpointVerifier::new(ORIGIN, &key.spki).unwrap();
    let text = checkpoint(&key, 5, "").replacen("\n5\n", "\n6\n", 1);

    assert_eq!(
        verifier.verify(text.as_bytes()),
        Err(CheckpointError::BadSignature)
    );
}

#[test]
fn malformed_notes_are_rejected() {
    let key = test_key();
    let verifier = CheckpointVerifier::new(ORIGIN, &key.spki).unwrap();
    let good = checkpoint(&key, 5, "");
    let cases = [
        (good.replacen("\n\n", "\n", 1), "no blank line"),
        (good.replacen("\n5\n", "\n05\n", 1), "leading zero"),
        (good.replacen("\n5\n", "\n+5\n", 1), "sign"),
        (good.replacen(ORIGIN, "other.example", 1), "origin"),
        (
            good.replacen("\n\n", "\nextension\n\n", 1),
            "extension line",
        ),
        ("<html>busy</html>".to_string(), "HTML"),
    ];
    for (text, case) in cases {
        assert!(verifier.verify(text.as_bytes()).is_err(), "{case}");
    }
}

#[test]
fn non_p256_key_is_unsupported() {
    let error = CheckpointVerifier::new(ORIGIN, b"not a key").unwrap_err();

    assert_eq!(error, CheckpointError::UnsupportedKey);
}

#[test]
fn origin_strips_scheme_and_slash() {
    assert_eq!(
        origin_of("https://log.example/2025h2/"),
        "log.example/2025h2"
    );
    assert_eq!(
        origin_of("http://127.0.0.1:8080/navigli/"),
        "127.0.0.1:8080/navigli"
    );
    assert_eq!(origin_of("log.example"), "log.example");
}
