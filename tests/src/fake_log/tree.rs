//! A growing log: its entries, its current signed tree head and the task that grows the tree.
//!
//! The tree head is published through a `watch` channel, so handlers read the latest head
//! without locking and waiters learn about each growth step.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use super::config::{ConfigError, Growth, LogFixture};
use super::entries::{LogEntries, ServedEntry};
use super::merkle::{root_hash, Hash};
use super::signer::{SignerError, TreeHeadSigner};

/// A tree head and its signature, as `get-sth` serves it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedTreeHead {
    /// Number of entries in the tree.
    pub tree_size: u64,
    /// Milliseconds since the Unix epoch.
    pub timestamp_ms: u64,
    /// RFC 6962 Merkle tree hash over the first `tree_size` entries.
    pub root_hash: Hash,
    /// TLS DigitallySigned TreeHeadSignature.
    pub signature: Vec<u8>,
}

/// One served log.
pub struct LogState {
    /// Which fixture the log serves.
    pub fixture: LogFixture,
    /// How the tree grows.
    pub growth: Growth,
    entries: Vec<ServedEntry>,
    leaf_hashes: Vec<Hash>,
    tile_leaves: Vec<Vec<u8>>,
    issuers: HashMap<Hash, Vec<u8>>,
    signer: TreeHeadSigner,
    head: watch::Sender<Arc<SignedTreeHead>>,
}

impl LogState {
    /// Creates the log with a new key and a signed tree head at `initial_size`.
    pub fn new(fixture: LogFixture, entries: LogEntries, growth: Growth) -> anyhow::Result<Self> {
        let initial_size = growth.initial_size;
        let total = entries.entries.len() as u64;
        if initial_size > total {
            return Err(ConfigError::InitialSizeTooLarge {
                log: fixture.name(),
                initial_size,
                entries: total,
            }
            .into());
        }
        let signer = TreeHeadSigner::generate()?;
        let head = sign_head(&signer, &entries.leaf_hashes, initial_size, 0)?;
        Ok(Self {
            fixture,
            growth,
            entries: entries.entries,
            leaf_hashes: entries.leaf_hashes,
            tile_leaves: entries.tile_leaves,
            issuers: entries.issuers,
            signer,
            head: watch::Sender::new(Arc::new(head)),
        })
    }

    /// Returns the current signed tree head.
    pub fn head(&self) -> Arc<SignedTreeHead> {
        self.head.borrow().clone()
    }

    /// Returns a receiver that is notified of every new tree head.
    pub fn subscribe(&self) -> watch::Receiver<Arc<SignedTreeHead>> {
        self.head.subscribe()
    }

    /// Number of fixture entries, the final tree size.
    pub fn total_entries(&self) -> u64 {
        self.entries.len() as u64
    }

    /// Returns the entries at indices `start..=end`. Both must be inside the fixture.
    pub fn entries(&self, start: u64, end: u64) -> &[ServedEntry] {
        &self.entries[start as usize..=end as usize]
    }

    /// Returns the TileLeaf bytes of the entries at indices `start..end`, or `None` when the
    /// fixture has no tiles or the range is outside it.
    pub fn tile_leaves(&self, start: u64, end: u64) -> Option<&[Vec<u8>]> {
        self.tile_leaves.get(start as usize..end as usize)
    }

    /// Returns the issuer certificate whose DER hashes to `fingerprint`.
    pub fn issuer(&self, fingerprint: &Hash) -> Option<&[u8]> {
        self.issuers.get(fingerprint).map(Vec::as_slice)
    }

    /// Returns the key that signs this log's tree heads.
    pub fn signer(&self) -> &TreeHeadSigner {
        &self.signer
    }

    /// Returns whether the tree will reach its full size: it is full already or grows.
    pub fn will_be_full(&self) -> bool {
        self.growth.step > 0 || self.head().tree_size == self.total_entries()
    }

    /// Grows the tree by `growth.step` entries every `growth.interval` until it contains every
    /// entry or `shutdown` is cancelled.
    pub async fn grow(self: Arc<Self>, shutdown: CancellationToken) {
        let log = self.fixture.name();
        let growth = self.growth;
        if growth.step == 0 {
            return;
        }
        loop {
            let size = self.head().tree_size;
            if size >= self.total_entries() {
                tracing::info!(log, tree_size = size, "Fake log fully grown");
                return;
            }
            tokio::select! {
                biased;
                _ = shutdown.cancelled() => return,
                _ = tokio::time::sleep(growth.interval) => {}
            }
            let new_size = size.saturating_add(growth.step).min(self.total_entries());
            if let Err(error) = self.publish(new_size) {
                tracing::error!(log, tree_size = new_size, error = %error, "Fake log stopped growing");
                return;
            }
            tracing::debug!(log, tree_size = new_size, "Fake log grew");
        }
    }

    /// Signs and publishes the tree head at `tree_size`.
    fn publish(&self, tree_size: u64) -> Result<(), SignerError> {
        let previous_timestamp = self.head.borrow().timestamp_ms;
        let head = sign_head(
            &self.signer,
            &self.leaf_hashes,
            tree_size,
            previous_timestamp,
        )?;
        self.head.send_replace(Arc::new(head));
        Ok(())
    }
}

/// Computes and signs the tree head over the first `tree_size` leaves. The timestamp is the
/// current time but never earlier than `min_timestamp_ms`, so timestamps do not go backwards
/// when the wall clock does.
fn sign_head(
    signer: &TreeHeadSigner,
    leaf_hashes: &[Hash],
    tree_size: u64,
    min_timestamp_ms: u64,
) -> Result<SignedTreeHead, SignerError> {
    let root_hash = root_hash(&leaf_hashes[..tree_size as usize]);
    let timestamp_ms = now_ms().max(min_timestamp_ms);
    let signature = signer.sign_tree_head(timestamp_ms, tree_size, &root_hash)?;
    Ok(SignedTreeHead {
        tree_size,
        timestamp_ms,
        root_hash,
        signature,
    })
}

fn now_ms() -> u64 {
    let since_epoch = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO);
    u64::try_from(since_epoch.as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn live_state(growth: Growth) -> Arc<LogState> {
        let entries = LogEntries::load(LogFixture::Live).expect("live fixture loads");
        Arc::new(LogState::new(LogFixture::Live, entries, growth).expect("state builds"))
    }

    #[test]
    fn initial_size_above_total_is_rejected() {
        let entries = LogEntries::load(LogFixture::Live).expect("live fixture loads");

        let growth = Growth {
            initial_size: 21,
            ..Growth::default()
        };

        let error = LogState::new(LogFixture::Live, entries, growth)
            .err()
            .expect("size 21 is rejected");

        assert_eq!(
            error.downcast_ref::<ConfigError>(),
            Some(&ConfigError::InitialSizeTooLarge {
                log: "live",
                initial_size: 21,
                entries: 20
            })
        );
    }

    #[tokio::test(start_paused = true)]
    async fn growth_publishes_each_step() {
        let state = live_state(Growth {
            initial_size: 3,
            step: 5,
            interval: Duration::from_millis(100),
        });
        let mut heads = state.subscribe();
        let task = tokio::spawn(state.clone().grow(CancellationToken::new()));

        let mut sizes = vec![heads.borrow_and_update().tree_size];
        while heads.changed().await.is_ok() {
            let head = heads.borrow_and_update().clone();
            let expected_root = root_hash(&state.leaf_hashes[..head.tree_size as usize]);
            assert_eq!(head.root_hash, expected_root, "size {}", head.tree_size);
            sizes.push(head.tree_size);
            if head.tree_size == 20 {
                break;
            }
        }
        task.await.expect("growth task ends");

        assert_eq!(sizes, [3, 8, 13, 18, 20]);
    }

    #[tokio::test(start_paused = true)]
    async fn growth_stops_on_shutdown() {
        let state = live_state(Growth {
            initial_size: 0,
            step: 1,
            interval: Duration::from_secs(1),
        });
        let shutdown = CancellationToken::new();
        let task = tokio::spawn(state.clone().grow(shutdown.clone()));

        tokio::time::sleep(Duration::from_millis(2500)).await;
        shutdown.cancel();
        task.await.expect("growth task ends");

        assert_eq!(state.head().tree_size, 2);
    }

    #[tokio::test(start_paused = true)]
    async fn zero_step_never_grows() {
        let state = live_state(Growth {
            initial_size: 4,
            step: 0,
            interval: Duration::ZERO,
        });

        state.clone().grow(CancellationToken::new()).await;

        assert_eq!(state.head().tree_size, 4);
        assert!(!state.will_be_full());
    }
}
