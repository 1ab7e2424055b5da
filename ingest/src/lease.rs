//! Leases that let several ingest replicas on NATS share the logs: a log is polled only by the
//! replica whose id is stored under the log's key in the `<raw stream>_LEASES` bucket.
//!
//! A replica acquires a lease with a KV `create`, which fails while the key exists, and renews it
//! with an `update` at the revision it last wrote. The bucket's `max_age` removes a lease that is
//! not renewed within [`LEASE_TTL`], so the logs of a dead replica move to another one within
//! seconds. Running the watchers is the job of [`crate::supervisor`]; without NATS there are no
//! leases.

use std::hash::BuildHasher;
use std::time::Duration;

use async_nats::jetstream::{self, kv};
use bytes::Bytes;
use tokio::time::Instant;

/// Time after its last renewal at which the server removes a lease.
pub const LEASE_TTL: Duration = Duration::from_secs(10);

/// Pause between two renewals of a held lease, and between two acquisition attempts.
pub const RENEW_INTERVAL: Duration = Duration::from_secs(3);

/// Part of [`LEASE_TTL`] a holder gives up: it stops polling this long before the server could
/// hand the lease to another replica, to allow for request latency and timer skew.
const EXPIRY_MARGIN: Duration = Duration::from_secs(2);

/// Errors of the lease bucket.
#[derive(Debug, thiserror::Error)]
pub enum LeaseError {
    #[error("failed to open lease bucket {bucket}: {message}")]
    Open { bucket: String, message: String },
    #[error("lease {key} in bucket {bucket} was taken over or expired")]
    Lost { bucket: String, key: String },
    #[error("lease request for {key} in bucket {bucket} failed: {message}")]
    Request {
        bucket: String,
        key: String,
        message: String,
    },
}

/// A lease this replica holds.
#[derive(Debug)]
pub struct Lease {
    pub key: String,
    /// Revision of the last write, which the next renewal must match.
    revision: u64,
    /// Local time until which the lease is certainly still ours, computed from the moment the
    /// last successful write was sent.
    valid_until: Instant,
}

impl Lease {
    /// Local deadline after which the holder must stop polling the log.
    pub fn valid_until(&self) -> Instant {
        self.valid_until
    }
}

/// The lease bucket and the id this replica writes as lease value.
#[derive(Debug, Clone)]
pub struct LeaseBucket {
    bucket: String,
    store: kv::Store,
    replica_id: String,
}

impl LeaseBucket {
    /// Opens `bucket`, creating it in memory storage with `max_age` [`LEASE_TTL`] if it does not
    /// exist. Leases need no disk, because they are worthless after a server restart that
    /// outlasts their TTL anyway.
    pub async fn open(
        client: async_nats::Client,
        bucket: &str,
        replica_id: String,
    ) -> Result<Self, LeaseError> {
        let context = jetstream::new(client);
        let store = match context.get_key_value(bucket).await {
            Ok(store) => store,
            Err(_) => context
                .create_key_value(kv::Config {
                    bucket: bucket.to_string(),
                    description: "certstream ingest leases: replica id per log".to_string(),
                    history: 1,
                    max_age: LEASE_TTL,
                    storage: jetstream::stream::StorageType::Memory,
                    ..Default::default()
                })
                .await
                .map_err(|err| LeaseError::Open {
                    bucket: bucket.to_string(),
                    message: err.to_string(),
                })?,
        };
        Ok(LeaseBucket {
            bucket: bucket.to_string(),
            store,
            replica_id,
        })
    }

    pub fn replica_id(&self) -> &str {
        &self.replica_id
    }

    /// Acquires the lease `key`. Returns `None` while another replica holds it. A lease that
    /// already carries this replica's id (written before a lost renewal reply) is taken back.
    pub async fn try_acquire(&self, key: &str) -> Result<Option<Lease>, LeaseError> {
        let sent = Instant::now();
        match self.store.create(key, self.value()).await {
            Ok(revision) => return Ok(Some(self.lease(key, revision, sent))),
            Err(err) if err.kind() == kv::CreateErrorKind::AlreadyExists => {}
            Err(err) => return Err(self.request_error(key, &err)),
        }

        let entry = self
            .store
            .entry(key)
            .await
            .map_err(|err| self.request_error(key, &err))?;
        let Some(entry) = entry else {
            return Ok(None);
        };
        if entry.value.as_ref() != self.replica_id.as_bytes() {
            return Ok(None);
        }
        let mut lease = self.lease(key, entry.revision, sent);
        match self.renew(&mut lease).await {
            Ok(()) => Ok(Some(lease)),
            Err(LeaseError::Lost { .. }) => Ok(None),
            Err(err) => Err(err),
        }
    }

    /// Renews `lease` and moves its local deadline. Returns [`LeaseError::Lost`] when the key
    /// changed since the last write, because another replica took it over or it expired.
    pub async fn renew(&self, lease: &mut Lease) -> Result<(), LeaseError> {
        let sent = Instant::now();
        match self
            .store
            .update(&lease.key, self.value(), lease.revision)
            .await
        {
            Ok(revision) => {
                *lease = self.lease(&lease.key, revision, sent);
                Ok(())
            }
            Err(err) if err.kind() == kv::UpdateErrorKind::WrongLastRevision => {
                Err(LeaseError::Lost {
                    bucket: self.bucket.clone(),
                    key: lease.key.clone(),
                })
            }
            Err(err) => Err(self.request_error(&lease.key, &err)),
        }
    }

    /// Deletes `lease` if this replica still holds it, so another replica can take the log over
    /// at once instead of after [`LEASE_TTL`].
    pub async fn release(&self, lease: Lease) -> Result<(), LeaseError> {
        self.store
            .delete_expect_revision(&lease.key, Some(lease.revision))
            .await
            .map_err(|err| self.request_error(&lease.key, &err))
    }

    fn value(&self) -> Bytes {
        Bytes::from(self.replica_id.clone())
    }

    fn lease(&self, key: &str, revision: u64, sent: Instant) -> Lease {
        Lease {
            key: key.to_string(),
            revision,
            valid_until: sent + LEASE_TTL - EXPIRY_MARGIN,
        }
    }

    fn request_error(&self, key: &str, err: &dyn std::fmt::Display) -> LeaseError {
        LeaseError::Request {
            bucket: self.bucket.clone(),
            key: key.to_string(),
            message: err.to_string(),
        }
    }
}

/// Returns an id for this process: the `HOSTNAME` variable (the pod name on Kubernetes), the
/// process id and a random suffix, so two processes never share an id.
pub fn replica_id() -> String {
    let host = std::env::var("HOSTNAME")
        .ok()
        .filter(|host| !host.is_empty())
        .unwrap_or_else(|| "ingest".to_string());
    let random = std::collections::hash_map::RandomState::new().hash_one(std::process::id());
    format!("{host}-{}-{:08x}", std::process::id(), random as u32)
}
