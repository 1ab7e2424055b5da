//! Issuer certificates of Static CT logs, keyed by the SHA-256 fingerprint that data tiles use
//! in their chains. One cache serves every log, because a fingerprint names the same DER bytes
//! whichever log serves it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

/// SHA-256 of a DER certificate.
pub type Fingerprint = [u8; 32];

/// Issuer certificates fetched so far.
// NOTE: the cache is not bounded. Production logs reference a few hundred issuers in total, so
// it stays small, but a log serving millions of distinct issuers would grow it without limit.
#[derive(Debug, Default)]
pub struct IssuerCache {
    certificates: Mutex<HashMap<Fingerprint, Arc<[u8]>>>,
}

impl IssuerCache {
    pub fn new() -> Self {
        IssuerCache::default()
    }

    /// Returns the DER certificate with `fingerprint`, if it was fetched before.
    pub fn get(&self, fingerprint: &Fingerprint) -> Option<Arc<[u8]>> {
        self.lock().get(fingerprint).cloned()
    }

    /// Stores a certificate whose SHA-256 the caller has checked against `fingerprint`.
    pub fn insert(&self, fingerprint: Fingerprint, der: Vec<u8>) {
        self.lock().insert(fingerprint, der.into());
    }

    /// Number of cached certificates.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<Fingerprint, Arc<[u8]>>> {
        // The map stays consistent even if a holder panicked.
        self.certificates
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}
