//! Verification of RFC 6962 signed tree heads (`get-sth`) with the log key from the log list.
//!
//! The signature is a TLS DigitallySigned struct over the TreeHeadSignature (version v1,
//! signature type tree_hash, timestamp, tree size, root hash). Logs sign with ECDSA P-256 or RSA,
//! both over SHA-256 (RFC 6962 section 2.1.4).

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use ring::signature::{
    UnparsedPublicKey, VerificationAlgorithm, ECDSA_P256_SHA256_ASN1, RSA_PKCS1_2048_8192_SHA256,
};
use x509_parser::prelude::FromDer;
use x509_parser::x509::SubjectPublicKeyInfo;

use crate::static_ct::checkpoint::tree_head_signature_input;

/// OID of id-ecPublicKey.
const EC_PUBLIC_KEY: &str = "1.2.840.10045.2.1";

/// OID of the prime256v1 (P-256) curve.
const P256_CURVE: &str = "1.2.840.10045.3.1.7";

/// OID of rsaEncryption.
const RSA_ENCRYPTION: &str = "1.2.840.113549.1.1.1";

/// TLS HashAlgorithm sha256, and the SignatureAlgorithm values rsa and ecdsa.
pub const SHA256: u8 = 4;
pub const RSA: u8 = 1;
pub const ECDSA: u8 = 3;

/// DER SubjectPublicKeyInfo of an ECDSA P-256 key up to the 65-byte uncompressed point:
/// algorithm id-ecPublicKey, curve prime256v1, BIT STRING header.
pub const P256_SPKI_PREFIX: [u8; 26] = [
    0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a,
    0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00,
];

/// Reason a log key or a tree head was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TreeHeadError {
    #[error("the log key is not a DER SubjectPublicKeyInfo of an ECDSA P-256 or RSA key")]
    UnsupportedKey,
    #[error("the tree head's sha256_root_hash is not 32 bytes of base64")]
    RootHash,
    #[error("the tree head's signature is not a DigitallySigned struct with SHA-256 and the log's key type")]
    MalformedSignature,
    #[error("the tree head's signature does not verify with the log key")]
    BadSignature,
}

/// The public key of one RFC 6962 log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TreeHeadKey {
    /// Uncompressed P-256 point.
    EcdsaP256(Vec<u8>),
    /// DER RSAPublicKey.
    Rsa(Vec<u8>),
}

impl TreeHeadKey {
    /// Reads the key from the DER SubjectPublicKeyInfo the log list gives (base64-decoded).
    pub fn from_spki(der: &[u8]) -> Result<Self, TreeHeadError> {
        let (rest, spki) =
            SubjectPublicKeyInfo::from_der(der).map_err(|_| TreeHeadError::UnsupportedKey)?;
        if !rest.is_empty() {
            return Err(TreeHeadError::UnsupportedKey);
        }
        let key = spki.subject_public_key.data.to_vec();
        match spki.algorithm.algorithm.to_id_string().as_str() {
            RSA_ENCRYPTION => Ok(TreeHeadKey::Rsa(key)),
            EC_PUBLIC_KEY => {
                let curve = spki
                    .algorithm
                    .parameters
                    .as_ref()
                    .and_then(|parameters| parameters.as_oid().ok())
                    .map(|oid| oid.to_id_string());
                if curve.as_deref() == Some(P256_CURVE) && key.len() == 65 {
                    Ok(TreeHeadKey::EcdsaP256(key))
                } else {
                    Err(TreeHeadError::UnsupportedKey)
                }
            }
            _ => Err(TreeHeadError::UnsupportedKey),
        }
    }

    /// Checks the log's signature over a tree head as `get-sth` returned it.
    pub fn verify(
        &self,
        timestamp_ms: u64,
        tree_size: u64,
        root_hash_base64: &str,
        signature_base64: &str,
    ) -> Result<(), TreeHeadError> {
        let root_hash = BASE64
            .decode(root_hash_base64)
            .ok()
            .filter(|hash| hash.len() == 32)
            .ok_or(TreeHeadError::RootHash)?;
        let digitally_signed = BASE64
            .decode(signature_base64)
            .map_err(|_| TreeHeadError::MalformedSignature)?;
        self.verify_signed(timestamp_ms, tree_size, &root_hash, &digitally_signed)
    }

    /// Checks a TLS DigitallySigned TreeHeadSignature over `root_hash` (raw bytes), as a
    /// `get-sth` response or a Static CT checkpoint's RFC6962NoteSignature carries it.
    pub fn verify_signed(
        &self,
        timestamp_ms: u64,
        tree_size: u64,
        root_hash: &[u8],
        digitally_signed: &[u8],
    ) -> Result<(), TreeHeadError> {
        let [hash, algorithm, high, low, signature @ ..] = digitally_signed else {
            return Err(TreeHeadError::MalformedSignature);
        };
        let length = usize::from(u16::from_be_bytes([*high, *low]));
        let (expected_algorithm, verifier, key): (u8, &dyn VerificationAlgorithm, &Vec<u8>) =
            match self {
                TreeHeadKey::EcdsaP256(key) => (ECDSA, &ECDSA_P256_SHA256_ASN1, key),
                TreeHeadKey::Rsa(key) => (RSA, &RSA_PKCS1_2048_8192_SHA256, key),
            };
        if *hash != SHA256 || *algorithm != expected_algorithm || signature.len() != length {
            return Err(TreeHeadError::MalformedSignature);
        }
        let message = tree_head_signature_input(timestamp_ms, tree_size, root_hash);
        UnparsedPublicKey::new(verifier, key)
            .verify(&message, signature)
            .map_err(|_| TreeHeadError::BadSignature)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ring::rand::SystemRandom;
    use ring::signature::{EcdsaKeyPair, KeyPair, ECDSA_P256_SHA256_ASN1_SIGNING};

    fn signed_head(pair: &EcdsaKeyPair, timestamp: u64, size: u64, root: &[u8; 32]) -> String {
        let message = tree_head_signature_input(timestamp, size, root);
        let signature = pair.sign(&SystemRandom::new(), &message).unwrap();
        let mut digitally_signed = vec![SHA256, ECDSA];
        digitally_signed.extend_from_slice(&(signature.as_ref().len() as u16).to_be_bytes());
        digitally_signed.extend_from_slice(signature.as_ref());
        BASE64.encode(digitally_signed)
    }

    fn key_pair() -> (EcdsaKeyPair, Vec<u8>) {
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &rng).unwrap();
        let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, pkcs8.as_ref(), &rng)
            .unwrap();
        let mut spki = P256_SPKI_PREFIX.to_vec();
        spki.extend_from_slice(pair.public_key().as_ref());
        (pair, spki)
    }

    #[test]
    fn valid_head_verifies() {
        let (pair, spki) = key_pair();
        let key = TreeHeadKey::from_spki(&spki).unwrap();
        let root = [7u8; 32];
        let signature = signed_head(&pair, 1_700_000_000_000, 42, &root);
        assert_eq!(
            key.verify(1_700_000_000_000, 42, &BASE64.encode(root), &signature),
            Ok(())
        );
    }

    #[test]
    fn altered_size_is_rejected() {
        let (pair, spki) = key_pair();
        let key = TreeHeadKey::from_spki(&spki).unwrap();
        let root = [7u8; 32];
        let signature = signed_head(&pair, 1_700_000_000_000, 42, &root);
        let result = key.verify(1_700_000_000_000, 43, &BASE64.encode(root), &signature);
        assert_eq!(result, Err(TreeHeadError::BadSignature));
    }

    #[test]
    fn other_key_is_rejected() {
        let (pair, _) = key_pair();
        let (_, other_spki) = key_pair();
        let key = TreeHeadKey::from_spki(&other_spki).unwrap();
        let root = [1u8; 32];
        let signature = signed_head(&pair, 5, 6, &root);
        assert_eq!(
            key.verify(5, 6, &BASE64.encode(root), &signature),
            Err(TreeHeadError::BadSignature)
        );
    }

    #[test]
    fn garbage_key_is_unsupported() {
        assert_eq!(
            TreeHeadKey::from_spki(b"key"),
            Err(TreeHeadError::UnsupportedKey)
        );
    }

    /// A real log key of Google's list: Argon2026h1, ECDSA P-256.
    #[test]
    fn google_log_key_parses() {
        let der = BASE64
            .decode("MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEB/we6GOO/xwxivy4HhkrYFAAPo6e2nc346Wo2o2U+GvoPWSPJz91s/xrEvA3Bk9kWHUUXVZS5morFEzsgdHqPg==")
            .unwrap();
        assert!(matches!(
            TreeHeadKey::from_spki(&der),
            Ok(TreeHeadKey::EcdsaP256(_))
        ));
    }
}
