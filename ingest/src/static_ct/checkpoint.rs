//! Static CT checkpoints (c2sp.org/tlog-checkpoint in a c2sp.org/signed-note) and their
//! RFC6962NoteSignature, verified with the log's ECDSA P-256 key from the log list.
//!
//! The signature line that counts has the checkpoint origin as key name and the key ID
//! SHA-256(origin || 0x0A || 0x05 || LogID)[..4]. Its body is the TreeHeadSignature timestamp
//! followed by the RFC 6962 DigitallySigned tree head signature. Other signature lines
//! (witnesses, other keys) are ignored.

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use sha2::{Digest, Sha256};

use crate::tree_head::{TreeHeadError, TreeHeadKey};

/// Signed-note signature type of RFC6962NoteSignature.
const RFC6962_SIGNATURE_TYPE: u8 = 0x05;

/// Prefix of a signed-note signature line: U+2014 EM DASH and a space.
const SIGNATURE_LINE_PREFIX: &str = "\u{2014} ";

/// Reasons to reject a checkpoint or a log key that cannot verify checkpoints.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CheckpointError {
    #[error("the log key is not a SubjectPublicKeyInfo of an ECDSA P-256 or RSA key")]
    UnsupportedKey,
    #[error("the checkpoint is not UTF-8")]
    NotUtf8,
    #[error("the checkpoint has no blank line between the note text and the signatures")]
    NoSignatureBlock,
    #[error("the checkpoint has {0} note text lines, expected exactly 3 (origin, size, root)")]
    LineCount(usize),
    #[error("checkpoint origin {found:?} differs from the expected {expected:?}")]
    Origin { expected: String, found: String },
    #[error("invalid tree size {0:?} in the checkpoint")]
    TreeSize(String),
    #[error("invalid root hash {0:?} in the checkpoint")]
    RootHash(String),
    #[error("no signature line of the log key (name {origin:?}, key ID {key_id})")]
    MissingSignature { origin: String, key_id: String },
    #[error("the log's signature line is malformed")]
    MalformedSignature,
    #[error("the signature does not verify with the log key")]
    BadSignature,
}

/// A verified checkpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Checkpoint {
    pub tree_size: u64,
    pub root_hash: [u8; 32],
    /// TreeHeadSignature timestamp, milliseconds since the Unix epoch.
    pub timestamp_ms: u64,
}

/// Verifies the checkpoints of one log.
#[derive(Debug, Clone)]
pub struct CheckpointVerifier {
    origin: String,
    key_id: [u8; 4],
    /// The log key, which signs checkpoints exactly as it signs RFC 6962 tree heads.
    key: TreeHeadKey,
}

impl CheckpointVerifier {
    /// Creates the verifier of the log whose checkpoint origin is `origin` and whose log list
    /// `key` is `spki_der`.
    pub fn new(origin: &str, spki_der: &[u8]) -> Result<Self, CheckpointError> {
        let key = TreeHeadKey::from_spki(spki_der).map_err(|_| CheckpointError::UnsupportedKey)?;
        let log_id = Sha256::digest(spki_der);
        Ok(CheckpointVerifier {
            origin: origin.to_string(),
            key_id: note_key_id(origin, &log_id),
            key,
        })
    }

    /// Parses `body` and verifies the log's signature over its tree head.
    pub fn verify(&self, body: &[u8]) -> Result<Checkpoint, CheckpointError> {
        let text = std::str::from_utf8(body).map_err(|_| CheckpointError::NotUtf8)?;
        let (note, signatures) = text
            .split_once("\n\n")
            .ok_or(CheckpointError::NoSignatureBlock)?;
        let (tree_size, root_hash) = self.parse_note(note)?;
        let signature = self.find_signature(signatures)?;
        let (timestamp_ms, digitally_signed) = signature
            .split_first_chunk::<8>()
            .map(|(timestamp, rest)| (u64::from_be_bytes(*timestamp), rest))
            .ok_or(CheckpointError::MalformedSignature)?;
        self.key
            .verify_signed(timestamp_ms, tree_size, &root_hash, digitally_signed)
            .map_err(|err| match err {
                TreeHeadError::BadSignature => CheckpointError::BadSignature,
                _ => CheckpointError::MalformedSignature,
            })?;
        Ok(Checkpoint {
            tree_size,
            root_hash,
            timestamp_ms,
        })
    }

    /// Parses the note text: origin, tree size and root hash, with no extension lines because
    /// the static-ct-api forbids them next to an RFC6962NoteSignature.
    fn parse_note(&self, note: &str) -> Result<(u64, [u8; 32]), CheckpointError> {
        let lines: Vec<&str> = note.split('\n').collect();
        let [origin, size, root] = lines[..] else {
            return Err(CheckpointError::LineCount(lines.len()));
        };
        if origin != self.origin {
            return Err(CheckpointError::Origin {
                expected: self.origin.clone(),
                found: origin.to_string(),
            });
        }
        let tree_size =
            parse_decimal(size).ok_or_else(|| CheckpointError::TreeSize(size.into()))?;
        let root_hash = BASE64
            .decode(root)
            .ok()
            .and_then(|bytes| <[u8; 32]>::try_from(bytes).ok())
            .ok_or_else(|| CheckpointError::RootHash(root.into()))?;
        Ok((tree_size, root_hash))
    }

    /// Returns the signature bytes after the key ID of the line with the log's name and key ID.
    fn find_signature(&self, block: &str) -> Result<Vec<u8>, CheckpointError> {
        for line in block.lines() {
            let Some((name, encoded)) = line
                .strip_prefix(SIGNATURE_LINE_PREFIX)
                .and_then(|rest| rest.split_once(' '))
            else {
                continue;
            };
            if name != self.origin {
                continue;
            }
            let Ok(decoded) = BASE64.decode(encoded) else {
                continue;
            };
            if let Some(signature) = decoded.strip_prefix(&self.key_id) {
                return Ok(signature.to_vec());
            }
        }
        Err(CheckpointError::MissingSignature {
            origin: self.origin.clone(),
            key_id: hex::encode(self.key_id),
        })
    }
}

/// Returns the checkpoint origin of a log: its submission URL without scheme and trailing `/`.
pub fn origin_of(submission_url: &str) -> String {
    let without_scheme = submission_url
        .split_once("://")
        .map_or(submission_url, |(_, rest)| rest);
    without_scheme.trim_end_matches('/').to_string()
}

/// Computes the signed-note key ID of an RFC6962NoteSignature key.
pub fn note_key_id(origin: &str, log_id: &[u8]) -> [u8; 4] {
    let mut hasher = Sha256::new();
    hasher.update(origin.as_bytes());
    hasher.update([b'\n', RFC6962_SIGNATURE_TYPE]);
    hasher.update(log_id);
    let digest = hasher.finalize();
    [digest[0], digest[1], digest[2], digest[3]]
}

/// Encodes the RFC 6962 TreeHeadSignature input: version v1, signature type tree_hash,
/// timestamp, tree size and root hash.
pub fn tree_head_signature_input(timestamp_ms: u64, tree_size: u64, root_hash: &[u8]) -> Vec<u8> {
    let mut message = vec![0, 1];
    message.extend_from_slice(&timestamp_ms.to_be_bytes());
    message.extend_from_slice(&tree_size.to_be_bytes());
    message.extend_from_slice(root_hash);
    message
}

/// Parses a decimal without sign, spaces or leading zeros, as tlog-checkpoint requires.
fn parse_decimal(text: &str) -> Option<u64> {
    let canonical = !text.is_empty()
        && text.bytes().all(|byte| byte.is_ascii_digit())
        && (text == "0" || !text.starts_with('0'));
    canonical.then(|| text.parse().ok()).flatten()
}

#[cfg(test)]
mod tests;
