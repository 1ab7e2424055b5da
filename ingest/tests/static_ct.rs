//! The watcher against the fake Static CT log of `certstream-tests`, which serves the 1024
//! navigli entries as a signed checkpoint, gzip data tiles (with and without
//! `Content-Encoding`), partial tiles at the tip and issuer certificates.

mod support;

use std::sync::Arc;
use std::time::Duration;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use certstream_ingest::backoff::RetryPolicy;
use certstream_ingest::cursor::CursorStore;
use certstream_ingest::log_client::LogClient;
use certstream_ingest::log_list::{FollowedLog, LogApi, LogList};
use certstream_ingest::metrics::{ErrorKind, WatcherMetrics};
use certstream_ingest::rfc6962::http_client;
use certstream_ingest::static_ct::issuers::IssuerCache;
use certstream_ingest::watcher::{Watcher, WatcherConfig};
use certstream_shared::raw::RawBatch;
use certstream_shared::Bus;
use certstream_tests::fake_log::{leaf_hash, root_hash, FakeLog, FakeLogConfig, Growth};

use support::{batches_through, indices, memory_bus, next_batch};

/// Maximum wait for the batches the watcher should publish.
const BATCH_WAIT: Duration = Duration::from_secs(20);

/// RFC 6962 root of the navigli log at tree size 1024.
const NAVIGLI_ROOT_1024: &str = "EMfGG85uIddeOXt5/wdQGP3IQd0COCqoLg9Q6CsPLJA=";

fn config() -> WatcherConfig {
    WatcherConfig {
        poll_interval: Duration::from_millis(50),
        batch_size: 100,
        backfill_entries: 100_000,
        retry: RetryPolicy {
            max_attempts: 5,
            initial_delay: Duration::from_millis(20),
            max_delay: Duration::from_millis(100),
            pause: Duration::from_millis(200),
        },
    }
}

/// Starts the fake log paused at 778 entries; it grows to 1024 once started.
async fn static_log(partial_tiles: bool) -> FakeLog {
    let growth = Growth {
        initial_size: 778,
        step: 246,
        interval: Duration::from_millis(300),
    };
    let config = FakeLogConfig {
        partial_tiles,
        ..FakeLogConfig::static_ct(growth)
    };
    FakeLog::start_paused(config)
        .await
        .expect("fake log starts")
}

/// Returns the tiled log of the list the fake log writes, with `log_id` as its id.
fn followed_log(fake: &FakeLog, log_id: &str) -> FollowedLog {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("log_list.json");
    fake.write_log_list(&path).unwrap();
    let list = LogList::parse(&std::fs::read(&path).unwrap(), "fake").unwrap();
    let mut followed = list.followed();
    assert_eq!(followed.len(), 1, "the fake list has one tiled log");
    let mut log = followed.remove(0);
    assert!(matches!(log.api, LogApi::StaticCt { .. }), "{:?}", log.api);
    log.source.id = log_id.to_string();
    log
}

struct RunningWatcher {
    shutdown: CancellationToken,
    task: JoinHandle<()>,
}

impl RunningWatcher {
    fn start(log: &FollowedLog, bus: Bus, issuers: &Arc<IssuerCache>) -> Self {
        let http = http_client(Duration::from_secs(5)).unwrap();
        let client = LogClient::new(log, http, issuers).expect("P-256 key is accepted");
        let cursors = Arc::new(CursorStore::in_memory());
        let watcher = Watcher::new(log.source.clone(), client, bus, cursors, config());
        let shutdown = CancellationToken::new();
        let task = tokio::spawn(watcher.run(shutdown.clone()));
        RunningWatcher { shutdown, task }
    }

    async fn stop(self) {
        self.shutdown.cancel();
        tokio::time::timeout(Duration::from_secs(5), self.task)
            .await
            .expect("watcher stops within 5 s")
            .unwrap();
    }
}

fn cert_link(batches: &[RawBatch], index: u64) -> String {
    batches
        .iter()
        .flat_map(|batch| &batch.entries)
        .find(|entry| entry.index == index)
        .and_then(|entry| entry.cert_link.clone())
        .unwrap_or_else(|| panic!("entry {index} has no cert_link"))
}

#[tokio::test]
async fn growing_static_log_streamed_once() {
    let fake = static_log(true).await;
    let log = followed_log(&fake, "static_grow");
    let base = log.source.url.trim_end_matches('/').to_string();
    let (bus, mut consumer) = memory_bus().await;
    let issuers = Arc::new(IssuerCache::new());
    let watcher = RunningWatcher::start(&log, bus, &issuers);

    let mut batches = batches_through(&mut consumer, 777, BATCH_WAIT).await;
    fake.start_growing();
    batches.extend(batches_through(&mut consumer, 1023, BATCH_WAIT).await);
    let extra = next_batch(&mut consumer, Duration::from_millis(300)).await;
    watcher.stop().await;

    assert!(extra.is_none(), "unexpected batch {extra:?}");
    assert_eq!(indices(&batches), (0..1024).collect::<Vec<u64>>());
    assert_eq!(cert_link(&batches, 0), format!("{base}/tile/data/000"));
    assert_eq!(cert_link(&batches, 300), format!("{base}/tile/data/001"));
    assert_eq!(
        cert_link(&batches, 770),
        format!("{base}/tile/data/003.p/10")
    );
    assert_eq!(cert_link(&batches, 1000), format!("{base}/tile/data/003"));
    let leaf_hashes: Vec<[u8; 32]> = batches
        .iter()
        .flat_map(|batch| &batch.entries)
        .map(|entry| leaf_hash(&BASE64.decode(&entry.leaf_input).unwrap()))
        .collect();
    assert_eq!(BASE64.encode(root_hash(&leaf_hashes)), NAVIGLI_ROOT_1024);
    for batch in &batches {
        for entry in &batch.entries {
            let decoded = certstream_decoder::decode_entry(&batch.log, entry, batch.seen)
                .unwrap_or_else(|err| panic!("entry {} does not decode: {err}", entry.index));
            assert!(
                !decoded.fallback,
                "entry {} needed the fallback",
                entry.index
            );
        }
    }
    assert_eq!(issuers.len(), 5, "distinct issuers of the navigli chains");
    let metrics = WatcherMetrics::for_log("static_grow");
    assert_eq!(metrics.entries_published.get(), 1024);
    assert_eq!(metrics.error(ErrorKind::Signature).get(), 0);
    assert_eq!(metrics.error(ErrorKind::InvalidEntry).get(), 0);
}

#[tokio::test]
async fn missing_partial_tile_falls_back_to_full() {
    let fake = static_log(false).await;
    let log = followed_log(&fake, "static_fallback");
    let base = log.source.url.trim_end_matches('/').to_string();
    let (bus, mut consumer) = memory_bus().await;
    let watcher = RunningWatcher::start(&log, bus, &Arc::new(IssuerCache::new()));

    let mut batches = batches_through(&mut consumer, 767, BATCH_WAIT).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let before_growth = next_batch(&mut consumer, Duration::ZERO).await;
    fake.start_growing();
    batches.extend(batches_through(&mut consumer, 1023, BATCH_WAIT).await);
    watcher.stop().await;

    assert!(before_growth.is_none(), "{before_growth:?}");
    assert_eq!(indices(&batches), (0..1024).collect::<Vec<u64>>());
    assert_eq!(cert_link(&batches, 770), format!("{base}/tile/data/003"));
    let not_found = WatcherMetrics::for_log("static_fallback")
        .error(ErrorKind::HttpStatus)
        .get();
    assert!(not_found >= 1, "the full tile was missing at first");
}

#[tokio::test]
async fn checkpoint_of_other_key_rejected() {
    let fake = static_log(true).await;
    let other = static_log(true).await;
    let mut log = followed_log(&fake, "static_wrong_key");
    let LogApi::StaticCt { key: other_key, .. } = followed_log(&other, "other").api else {
        unreachable!("followed_log returns a Static CT log")
    };
    if let LogApi::StaticCt { key, .. } = &mut log.api {
        *key = other_key;
    }
    let (bus, mut consumer) = memory_bus().await;
    let watcher = RunningWatcher::start(&log, bus, &Arc::new(IssuerCache::new()));

    let batch = next_batch(&mut consumer, Duration::from_millis(800)).await;
    watcher.stop().await;

    assert!(batch.is_none(), "published without a valid signature");
    let rejected = WatcherMetrics::for_log("static_wrong_key")
        .error(ErrorKind::Signature)
        .get();
    assert!(rejected >= 2, "{rejected} rejected checkpoints");
}
