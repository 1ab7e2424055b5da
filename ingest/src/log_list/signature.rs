//! Verification of a log list's detached signature: Google publishes `log_list.sig` next to
//! `log_list.json`, an RSA PKCS#1 v1.5 signature with SHA-256 over the exact bytes of the list.
//!
//! Google's key ships with this crate (`log_lists/google_log_list_pubkey.pem`); the
//! `log_list_public_key` setting names another key for other lists. Finding and downloading the
//! `.sig` file is the job of the parent module.

use std::path::{Path, PathBuf};

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use ring::signature::{UnparsedPublicKey, RSA_PKCS1_2048_8192_SHA256};
use x509_parser::prelude::FromDer;
use x509_parser::x509::SubjectPublicKeyInfo;

/// Object identifier of `rsaEncryption`, the algorithm of a PKCS #1 RSA key.
const RSA_ENCRYPTION_OID: &str = "1.2.840.113549.1.1.1";

/// Errors of loading the key or checking a signature.
#[derive(Debug, thiserror::Error)]
pub enum SignatureError {
    #[error("failed to read log list public key {path}: {source}")]
    ReadKey {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("invalid log list public key {path}: {reason}; expected an RSA SubjectPublicKeyInfo in PEM or DER")]
    InvalidKey { path: PathBuf, reason: String },
    #[error("signature of log list {origin} does not verify with the configured public key")]
    Mismatch { origin: String },
}

/// An RSA public key that log list signatures must verify with.
#[derive(Debug, Clone)]
pub struct ListVerifier {
    /// DER `RSAPublicKey` (PKCS#1), the form ring takes.
    rsa_public_key: Vec<u8>,
}

/// Google's log list signing key, as published next to the v3 list.
const GOOGLE_PUBLIC_KEY_PEM: &[u8] = include_bytes!("../../log_lists/google_log_list_pubkey.pem");

impl ListVerifier {
    /// Returns the verifier of Google's log lists.
    pub fn google() -> Self {
        let der = pem_body(GOOGLE_PUBLIC_KEY_PEM).expect("the bundled Google key is valid PEM");
        ListVerifier::from_spki_der(&der).expect("the bundled Google key is an RSA key")
    }

    /// Reads a SubjectPublicKeyInfo file, PEM (`BEGIN PUBLIC KEY`) or DER.
    pub fn from_file(path: &Path) -> Result<Self, SignatureError> {
        let bytes = std::fs::read(path).map_err(|source| SignatureError::ReadKey {
            path: path.to_path_buf(),
            source,
        })?;
        let invalid = |reason: String| SignatureError::InvalidKey {
            path: path.to_path_buf(),
            reason,
        };
        let der = if bytes.starts_with(b"-----BEGIN") {
            pem_body(&bytes).map_err(invalid)?
        } else {
            bytes
        };
        ListVerifier::from_spki_der(&der).map_err(invalid)
    }

    /// Takes a DER SubjectPublicKeyInfo with an RSA key. The error is the reason it is not one.
    pub fn from_spki_der(der: &[u8]) -> Result<Self, String> {
        let (rest, spki) = SubjectPublicKeyInfo::from_der(der)
            .map_err(|err| format!("not a DER SubjectPublicKeyInfo: {err}"))?;
        if !rest.is_empty() {
            return Err(format!("{} bytes after the key", rest.len()));
        }
        let algorithm = spki.algorithm.algorithm.to_id_string();
        if algorithm != RSA_ENCRYPTION_OID {
            return Err(format!("key algorithm {algorithm} is not rsaEncryption"));
        }
        Ok(ListVerifier {
            rsa_public_key: spki.subject_public_key.data.to_vec(),
        })
    }

    /// Checks `signature` over `list`. `origin` names the list in the error.
    pub fn verify(
        &self,
        list: &[u8],
        signature: &[u8],
        origin: &str,
    ) -> Result<(), SignatureError> {
        UnparsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, &self.rsa_public_key)
            .verify(list, signature)
            .map_err(|_| SignatureError::Mismatch {
                origin: origin.to_string(),
            })
    }
}

/// Returns the URL of the signature published next to the list at `url`: the `.json` suffix
/// replaced by `.sig`, or `.sig` appended when there is none.
pub fn signature_url(url: &str) -> String {
    match url.strip_suffix(".json") {
        Some(base) => format!("{base}.sig"),
        None => format!("{url}.sig"),
    }
}

/// Returns the path of the signature next to the list file at `path`, with extension `sig`.
pub fn signature_path(path: &Path) -> PathBuf {
    path.with_extension("sig")
}

/// Decodes the base64 body of a PEM block.
fn pem_body(pem: &[u8]) -> Result<Vec<u8>, String> {
    let text = std::str::from_utf8(pem).map_err(|_| "PEM is not UTF-8".to_string())?;
    let body: String = text
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with("-----"))
        .collect();
    BASE64
        .decode(body)
        .map_err(|err| format!("PEM body is not base64: {err}"))
}

#[cfg(test)]
mod tests;
