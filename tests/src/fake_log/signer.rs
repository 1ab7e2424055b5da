//! The fake log's signing key and the RFC 6962 tree head signature.
//!
//! Each log gets a fresh ECDSA P-256 key at start, so signatures verify only against the key
//! published in the log list that the same process wrote.

use ring::rand::SystemRandom;
use ring::signature::{EcdsaKeyPair, KeyPair, ECDSA_P256_SHA256_ASN1_SIGNING};
use sha2::{Digest, Sha256};

use super::merkle::Hash;

/// DER of SubjectPublicKeyInfo up to the EC point: algorithm id-ecPublicKey with curve
/// prime256v1, then the BIT STRING header for a 65-byte uncompressed point.
pub const P256_SPKI_PREFIX: [u8; 26] = [
    0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a,
    0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00,
];

/// TLS HashAlgorithm sha256 and SignatureAlgorithm ecdsa, the first two bytes of DigitallySigned.
const DIGITALLY_SIGNED_SHA256_ECDSA: [u8; 2] = [4, 3];

/// RFC 6962 Version v1 and SignatureType tree_hash.
const TREE_HEAD_SIGNATURE_PREFIX: [u8; 2] = [0, 1];

/// Failure of the ring ECDSA primitives, which report no detail.
#[derive(Debug, thiserror::Error)]
pub enum SignerError {
    #[error("failed to generate a P-256 signing key")]
    KeyGeneration,
    #[error("failed to sign the tree head of size {tree_size}")]
    Signing { tree_size: u64 },
}

/// A P-256 key that signs tree heads.
pub struct TreeHeadSigner {
    key_pair: EcdsaKeyPair,
    rng: SystemRandom,
    spki_der: Vec<u8>,
}

impl TreeHeadSigner {
    /// Generates a new random key.
    pub fn generate() -> Result<Self, SignerError> {
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &rng)
            .map_err(|_| SignerError::KeyGeneration)?;
        let key_pair =
            EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, pkcs8.as_ref(), &rng)
                .map_err(|_| SignerError::KeyGeneration)?;
        let mut spki_der = P256_SPKI_PREFIX.to_vec();
        spki_der.extend_from_slice(key_pair.public_key().as_ref());
        Ok(Self {
            key_pair,
            rng,
            spki_der,
        })
    }

    /// DER SubjectPublicKeyInfo of the public key, as published in the log list `key` field.
    pub fn spki_der(&self) -> &[u8] {
        &self.spki_der
    }

    /// RFC 6962 log ID: SHA-256 of the DER SubjectPublicKeyInfo.
    pub fn log_id(&self) -> Hash {
        Sha256::digest(&self.spki_der).into()
    }

    /// Signs a tree head and returns the TLS DigitallySigned structure that `get-sth` serves
    /// as `tree_head_signature`.
    pub fn sign_tree_head(
        &self,
        timestamp_ms: u64,
        tree_size: u64,
        root_hash: &Hash,
    ) -> Result<Vec<u8>, SignerError> {
        let message = tree_head_signature_input(timestamp_ms, tree_size, root_hash);
        let signature = self
            .key_pair
            .sign(&self.rng, &message)
            .map_err(|_| SignerError::Signing { tree_size })?;
        let signature = signature.as_ref();
        let length =
            u16::try_from(signature.len()).map_err(|_| SignerError::Signing { tree_size })?;

        let mut digitally_signed = DIGITALLY_SIGNED_SHA256_ECDSA.to_vec();
        digitally_signed.extend_from_slice(&length.to_be_bytes());
        digitally_signed.extend_from_slice(signature);
        Ok(digitally_signed)
    }
}

/// Returns the signed-note key ID of an RFC6962NoteSignature (c2sp.org/static-ct-api): the
/// first 4 bytes of SHA-256(key name || 0x0A || 0x05 || LogID).
pub fn note_key_id(key_name: &str, log_id: &Hash) -> [u8; 4] {
    let mut hasher = Sha256::new();
    hasher.update(key_name.as_bytes());
    hasher.update([b'\n', 0x05]);
    hasher.update(log_id);
    let digest = hasher.finalize();
    [digest[0], digest[1], digest[2], digest[3]]
}

/// Encodes the RFC 6962 TreeHeadSignature structure, the message that the log signs.
pub fn tree_head_signature_input(timestamp_ms: u64, tree_size: u64, root_hash: &Hash) -> Vec<u8> {
    let mut message = TREE_HEAD_SIGNATURE_PREFIX.to_vec();
    message.extend_from_slice(&timestamp_ms.to_be_bytes());
    message.extend_from_slice(&tree_size.to_be_bytes());
    message.extend_from_slice(root_hash);
    message
}

#[cfg(test)]
mod tests {
    use ring::signature::{UnparsedPublicKey, ECDSA_P256_SHA256_ASN1};

    use super::*;

    #[test]
    fn tree_head_input_layout() {
        let message = tree_head_signature_input(0x0102, 0x0304, &[0xEE; 32]);

        assert_eq!(message.len(), 50);
        assert_eq!(message[..2], [0, 1]);
        assert_eq!(message[2..10], [0, 0, 0, 0, 0, 0, 0x01, 0x02]);
        assert_eq!(message[10..18], [0, 0, 0, 0, 0, 0, 0x03, 0x04]);
        assert_eq!(message[18..], [0xEE; 32]);
    }

    #[test]
    fn signature_verifies_with_spki_point() {
        let signer = TreeHeadSigner::generate().expect("key generation works");
        let root = [0x42; 32];

        let signed = signer
            .sign_tree_head(1_000, 7, &root)
            .expect("signing works");

        assert_eq!(signed[..2], [4, 3]);
        let length = usize::from(u16::from_be_bytes([signed[2], signed[3]]));
        assert_eq!(signed.len(), 4 + length);
        assert_eq!(signer.spki_der().len(), 91);
        let point = &signer.spki_der()[P256_SPKI_PREFIX.len()..];
        let public_key = UnparsedPublicKey::new(&ECDSA_P256_SHA256_ASN1, point);
        let message = tree_head_signature_input(1_000, 7, &root);
        assert!(public_key.verify(&message, &signed[4..]).is_ok());
        assert!(public_key
            .verify(&tree_head_signature_input(1_000, 8, &root), &signed[4..])
            .is_err());
    }
}
