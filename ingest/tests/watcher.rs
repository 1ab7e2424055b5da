//! The RFC 6962 watcher against a fake log on 127.0.0.1 that caps pages at 3 entries.

mod support;

use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use certstream_ingest::backoff::RetryPolicy;
use certstream_ingest::cursor::{Cursor, CursorStore};
use certstream_ingest::log_client::LogClient;
use certstream_ingest::metrics::{ErrorKind, WatcherMetrics};
use certstream_ingest::rfc6962::{http_client, Rfc6962Client};
use certstream_ingest::watcher::{Watcher, WatcherConfig};
use certstream_shared::raw::LogSource;
use certstream_shared::Bus;

use support::{batches_through, indices, memory_bus, next_batch, Failure, FakeLog};

/// Maximum wait for a batch the watcher should publish.
const BATCH_WAIT: Duration = Duration::from_secs(10);
/// Wait that shows nothing more is published.
const QUIET_WAIT: Duration = Duration::from_millis(400);

fn config(backfill_entries: u64) -> WatcherConfig {
    WatcherConfig {
        poll_interval: Duration::from_millis(20),
        batch_size: 5,
        backfill_entries,
        retry: RetryPolicy {
            max_attempts: 3,
            initial_delay: Duration::from_millis(10),
            max_delay: Duration::from_millis(40),
            pause: Duration::from_millis(100),
        },
    }
}

fn log_source(id: &str, url: String) -> LogSource {
    LogSource {
        id: id.to_string(),
        name: format!("Test '{id}'"),
        url,
    }
}

struct RunningWatcher {
    shutdown: CancellationToken,
    task: JoinHandle<()>,
}

impl RunningWatcher {
    fn start(
        log: LogSource,
        bus: Bus,
        cursors: Arc<CursorStore>,
        config: WatcherConfig,
        timeout: Duration,
    ) -> Self {
        let http = http_client(timeout).unwrap();
        let client = LogClient::Rfc6962(Rfc6962Client::new(http, &log.url));
        let watcher = Watcher::new(log, client, bus, cursors, config);
        let shutdown = CancellationToken::new();
        let task = tokio::spawn(watcher.run(shutdown.clone()));
        RunningWatcher { shutdown, task }
    }

    async fn stop(self) {
        self.shutdown.cancel();
        tokio::time::timeout(Duration::from_secs(5), self.task)
            .await
            .expect("watcher did not stop within 5 s")
            .unwrap();
    }
}

#[tokio::test]
async fn growing_log_published_once_in_order() {
    let log = FakeLog::start(10, 3).await;
    let (bus, mut consumer) = memory_bus().await;
    let cursors = Arc::new(CursorStore::in_memory());
    let source = log_source("grow", log.url("grow"));
    let watcher = RunningWatcher::start(
        source.clone(),
        bus,
        Arc::clone(&cursors),
        config(100),
        Duration::from_secs(5),
    );

    let mut batches = batches_through(&mut consumer, 9, BATCH_WAIT).await;
    log.grow_to(17);
    batches.extend(batches_through(&mut consumer, 16, BATCH_WAIT).await);
    log.grow_to(18);
    batches.extend(batches_through(&mut consumer, 17, BATCH_WAIT).await);
    let extra = next_batch(&mut consumer, QUIET_WAIT).await;
    watcher.stop().await;

    assert_eq!(indices(&batches), (0..18).collect::<Vec<u64>>());
    assert!(extra.is_none(), "unexpected batch {extra:?}");
    for batch in &batches {
        assert!(batch.entries.len() <= 3, "page of {}", batch.entries.len());
        assert_eq!(batch.log, source);
        assert!(batch.seen > 1.7e9);
    }
    let entry = &batches[0].entries[0];
    assert_eq!(entry.leaf_input, "leaf-0");
    assert_eq!(entry.extra_data, "extra-0");
    assert_eq!(entry.cert_link, None);
    assert_eq!(
        cursors.get(&source.url),
        Some(Cursor {
            next_index: 18,
            tree_size: 18
        })
    );

    let metrics = WatcherMetrics::for_log("grow");
    assert_eq!(metrics.entries_published.get(), 18);
    assert_eq!(metrics.next_index.get(), 18);
    assert_eq!(metrics.tree_size.get(), 18);
}

#[tokio::test]
async fn request_urls_have_no_double_slash() {
    let log = FakeLog::start(4, 3).await;
    let (bus, mut consumer) = memory_bus().await;
    let url = log.url("slash").trim_end_matches('/').to_string();
    let watcher = RunningWatcher::start(
        log_source("slash", url),
        bus,
        Arc::new(CursorStore::in_memory()),
        config(100),
        Duration::from_secs(5),
    );
    batches_through(&mut consumer, 3, BATCH_WAIT).await;
    watcher.stop().await;

    let requests = log.requests();
    assert!(requests.contains(&"/slash/ct/v1/get-sth".to_string()));
    assert!(requests.contains(&"/slash/ct/v1/get-entries?start=0&end=3".to_string()));
    assert!(requests.contains(&"/slash/ct/v1/get-entries?start=3&end=3".to_string()));
}

#[tokio::test]
async fn shrinking_tree_head_is_ignored() {
    let log = FakeLog::start(6, 3).await;
    let (bus, mut consumer) = memory_bus().await;
    let source = log_source("shrink", log.url("shrink"));
    let watcher = RunningWatcher::start(
        source.clone(),
        bus,
        Arc::new(CursorStore::in_memory()),
        config(100),
        Duration::from_secs(5),
    );
    let mut batches = batches_through(&mut consumer, 5, BATCH_WAIT).await;

    log.report_sizes(&[2, 2, 0]);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let during_rollback = next_batch(&mut consumer, Duration::ZERO).await;
    log.grow_to(8);
    batches.extend(batches_through(&mut consumer, 7, BATCH_WAIT).await);
    let extra = next_batch(&mut consumer, QUIET_WAIT).await;
    watcher.stop().await;

    assert!(during_rollback.is_none(), "{during_rollback:?}");
    assert!(extra.is_none(), "{extra:?}");
    assert_eq!(indices(&batches), (0..8).collect::<Vec<u64>>());
    let rollbacks = WatcherMetrics::for_log("shrink")
        .error(ErrorKind::Rollback)
        .get();
    assert_eq!(rollbacks, 3);
}

#[tokio::test]
async fn new_log_starts_at_backfill() {
    let log = FakeLog::start(100, 3).await;
    let (bus, mut consumer) = memory_bus().await;
    let watcher = RunningWatcher::start(
        log_source("backfill", log.url("backfill")),
        bus,
        Arc::new(CursorStore::in_memory()),
        config(5),
        Duration::from_secs(5),
    );
    let batches = batches_through(&mut consumer, 99, BATCH_WAIT).await;
    watcher.stop().await;

    assert_eq!(indices(&batches), (95..100).collect::<Vec<u64>>());
}

#[tokio::test]
async fn new_log_without_backfill_starts_at_head() {
    let log = FakeLog::start(100, 3).await;
    let (bus, mut consumer) = memory_bus().await;
    let watcher = RunningWatcher::start(
        log_source("head", log.url("head")),
        bus,
        Arc::new(CursorStore::in_memory()),
        config(0),
        Duration::from_secs(5),
    );
    tokio::time::sleep(Duration::from_millis(200)).await;
    let before_growth = next_batch(&mut consumer, Duration::ZERO).await;
    log.grow_to(102);
    let batches = batches_through(&mut consumer, 101, BATCH_WAIT).await;
    watcher.stop().await;

    assert!(before_growth.is_none(), "{before_growth:?}");
    assert_eq!(indices(&batches), [100, 101]);
}

#[tokio::test]
async fn saved_cursor_is_resumed() {
    let log = FakeLog::start(60, 3).await;
    let (bus, mut consumer) = memory_bus().await;
    let url = log.url("resume");
    let cursors = Arc::new(CursorStore::in_memory());
    cursors.set(
        &url,
        Cursor {
            next_index: 50,
            tree_size: 55,
        },
    );
    let watcher = RunningWatcher::start(
        log_source("resume", url),
        bus,
        cursors,
        config(5),
        Duration::from_secs(5),
    );
    let batches = batches_through(&mut consumer, 59, BATCH_WAIT).await;
    watcher.stop().await;

    assert_eq!(indices(&batches), (50..60).collect::<Vec<u64>>());
}

#[tokio::test]
async fn server_errors_are_retried() {
    let log = FakeLog::start(7, 3).await;
    let (bus, mut consumer) = memory_bus().await;
    // The first two get-sth requests fail.
    log.fail_next(&[Failure::Status(500), Failure::Status(503)]);
    let watcher = RunningWatcher::start(
        log_source("status", log.url("status")),
        bus,
        Arc::new(CursorStore::in_memory()),
        config(100),
        Duration::from_secs(5),
    );
    let batches = batches_through(&mut consumer, 6, BATCH_WAIT).await;
    watcher.stop().await;

    assert_eq!(indices(&batches), (0..7).collect::<Vec<u64>>());
    assert_eq!(log.pending_failures(), 0);
    let errors = WatcherMetrics::for_log("status")
        .error(ErrorKind::HttpStatus)
        .get();
    assert_eq!(errors, 2);
}

#[tokio::test]
async fn invalid_and_empty_responses_are_retried() {
    let log = FakeLog::start(4, 3).await;
    let (bus, mut consumer) = memory_bus().await;
    // The first get-sth receives the HTML body, and the first two get-entries an empty page.
    log.fail_next(&[Failure::Html, Failure::EmptyPage, Failure::EmptyPage]);
    let watcher = RunningWatcher::start(
        log_source("html", log.url("html")),
        bus,
        Arc::new(CursorStore::in_memory()),
        config(100),
        Duration::from_secs(5),
    );
    let batches = batches_through(&mut consumer, 3, BATCH_WAIT).await;
    watcher.stop().await;

    assert_eq!(indices(&batches), (0..4).collect::<Vec<u64>>());
    assert_eq!(log.pending_failures(), 0);
    let decode_errors = WatcherMetrics::for_log("html")
        .error(ErrorKind::Decode)
        .get();
    assert_eq!(decode_errors, 1);
}

#[tokio::test]
async fn timeout_is_retried() {
    let log = FakeLog::start(5, 3).await;
    let (bus, mut consumer) = memory_bus().await;
    log.fail_next(&[Failure::Delay(Duration::from_secs(3))]);
    let watcher = RunningWatcher::start(
        log_source("timeout", log.url("timeout")),
        bus,
        Arc::new(CursorStore::in_memory()),
        config(100),
        Duration::from_secs(1),
    );
    let batches = batches_through(&mut consumer, 4, BATCH_WAIT).await;
    watcher.stop().await;

    assert_eq!(indices(&batches), (0..5).collect::<Vec<u64>>());
    let timeouts = WatcherMetrics::for_log("timeout")
        .error(ErrorKind::Timeout)
        .get();
    assert_eq!(timeouts, 1);
}

#[tokio::test]
async fn repeated_failures_pause_then_recover() {
    let log = FakeLog::start(3, 3).await;
    let (bus, mut consumer) = memory_bus().await;
    log.fail_next(&[Failure::Status(500); 7]);
    let watcher = RunningWatcher::start(
        log_source("pause", log.url("pause")),
        bus,
        Arc::new(CursorStore::in_memory()),
        config(100),
        Duration::from_secs(5),
    );
    let batches = batches_through(&mut consumer, 2, BATCH_WAIT).await;
    watcher.stop().await;

    assert_eq!(indices(&batches), [0, 1, 2]);
    let errors = WatcherMetrics::for_log("pause")
        .error(ErrorKind::HttpStatus)
        .get();
    assert_eq!(errors, 7);
}

#[tokio::test]
async fn unreachable_log_keeps_retrying() {
    // Bind then drop a listener, so its port refuses connections.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let (bus, _consumer) = memory_bus().await;
    let watcher = RunningWatcher::start(
        log_source("refused", format!("http://{addr}/log/")),
        bus,
        Arc::new(CursorStore::in_memory()),
        config(100),
        Duration::from_secs(1),
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!watcher.task.is_finished());
    watcher.stop().await;

    let errors = WatcherMetrics::for_log("refused")
        .error(ErrorKind::Connection)
        .get();
    assert!(errors >= 2, "{errors} connection errors");
}
