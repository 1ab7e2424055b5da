//! Faults of RFC 6962 logs that a watcher must survive without stopping and without skipping or
//! repeating an index. The faults are short pages, 400 and 5xx from `get-entries` at the tip,
//! 429 with `Retry-After` in both forms, HTML, truncated and slow bodies, and a tree head that
//! goes backwards below a saved cursor.

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

struct RunningWatcher {
    shutdown: CancellationToken,
    task: JoinHandle<()>,
}

impl RunningWatcher {
    /// Starts a watcher of `log_id` on `log` with pages of up to 5 entries, short retry delays
    /// and the request `timeout`.
    fn start(
        log: &FakeLog,
        log_id: &str,
        bus: Bus,
        cursors: Arc<CursorStore>,
        timeout: Duration,
    ) -> Self {
        let source = LogSource {
            id: log_id.to_string(),
            name: format!("Test '{log_id}'"),
            url: log.url(log_id),
        };
        let config = WatcherConfig {
            poll_interval: Duration::from_millis(20),
            batch_size: 5,
            backfill_entries: 100,
            retry: RetryPolicy {
                max_attempts: 3,
                initial_delay: Duration::from_millis(10),
                max_delay: Duration::from_millis(40),
                pause: Duration::from_millis(100),
            },
        };
        let client = LogClient::Rfc6962(Rfc6962Client::new(
            http_client(timeout).unwrap(),
            &source.url,
        ));
        let watcher = Watcher::new(source, client, bus, cursors, config);
        let shutdown = CancellationToken::new();
        let task = tokio::spawn(watcher.run(shutdown.clone()));
        RunningWatcher { shutdown, task }
    }

    async fn stop(self) {
        assert!(!self.task.is_finished(), "the watcher stopped by itself");
        self.shutdown.cancel();
        tokio::time::timeout(Duration::from_secs(5), self.task)
            .await
            .expect("watcher did not stop within 5 s")
            .unwrap();
    }
}

fn errors(log_id: &str, kind: ErrorKind) -> u64 {
    WatcherMetrics::for_log(log_id).error(kind).get()
}

/// Streams a log of `tree_size` entries whose next requests fail with `failures`, and checks
/// that every index arrives once and in order.
async fn stream_through(
    log_id: &str,
    tree_size: u64,
    page_cap: u64,
    failures: &[Failure],
) -> FakeLog {
    let log = FakeLog::start(tree_size, page_cap).await;
    log.fail_next(failures);
    let (bus, mut consumer) = memory_bus().await;
    let cursors = Arc::new(CursorStore::in_memory());
    let watcher = RunningWatcher::start(&log, log_id, bus, cursors, Duration::from_secs(1));

    let batches = batches_through(&mut consumer, tree_size - 1, BATCH_WAIT).await;
    let extra = next_batch(&mut consumer, QUIET_WAIT).await;
    watcher.stop().await;

    assert_eq!(indices(&batches), (0..tree_size).collect::<Vec<u64>>());
    assert!(extra.is_none(), "unexpected batch {extra:?}");
    for batch in &batches {
        assert!(
            batch.entries.len() as u64 <= page_cap,
            "page of {}",
            batch.entries.len()
        );
    }
    assert_eq!(
        log.pending_failures(),
        0,
        "every scripted failure was served"
    );
    log
}

#[tokio::test]
async fn short_pages_never_skip() {
    stream_through("short_pages", 11, 2, &[]).await;

    assert_eq!(
        WatcherMetrics::for_log("short_pages")
            .entries_published
            .get(),
        11
    );
}

#[tokio::test]
async fn tip_400_and_5xx_retried() {
    let failures = [
        Failure::EntriesStatus(400),
        Failure::EntriesStatus(502),
        Failure::EntriesStatus(503),
    ];

    stream_through("tip_status", 7, 3, &failures).await;

    assert_eq!(errors("tip_status", ErrorKind::HttpStatus), 3);
}

#[tokio::test]
async fn retry_after_seconds_honoured() {
    let log = stream_through("retry_seconds", 4, 5, &[Failure::RateLimited("1")]).await;

    let sth_times = log.request_times("/get-sth");
    let waited = sth_times[1] - sth_times[0];
    assert!(
        waited >= Duration::from_millis(950),
        "retried after {waited:?}"
    );
    assert_eq!(errors("retry_seconds", ErrorKind::RateLimited), 1);
    assert_eq!(errors("retry_seconds", ErrorKind::HttpStatus), 0);
}

#[tokio::test]
async fn retry_after_date_honoured() {
    let date = httpdate::fmt_http_date(std::time::SystemTime::now() + Duration::from_secs(2));
    let date: &'static str = Box::leak(date.into_boxed_str());

    let log = stream_through("retry_date", 4, 5, &[Failure::RateLimited(date)]).await;

    let sth_times = log.request_times("/get-sth");
    let waited = sth_times[1] - sth_times[0];
    // The date has whole seconds, so 2 s ahead is at least 1 s ahead.
    assert!(
        waited >= Duration::from_millis(950),
        "retried after {waited:?}"
    );
    assert_eq!(errors("retry_date", ErrorKind::RateLimited), 1);
}

#[tokio::test]
async fn html_and_truncated_bodies_retried() {
    let failures = [Failure::Html, Failure::Truncated, Failure::Truncated];

    stream_through("bodies", 6, 5, &failures).await;

    assert_eq!(errors("bodies", ErrorKind::Decode), 3);
}

#[tokio::test]
async fn slow_body_times_out() {
    stream_through(
        "slow_body",
        6,
        5,
        &[Failure::SlowBody(Duration::from_secs(3))],
    )
    .await;

    assert_eq!(errors("slow_body", ErrorKind::Timeout), 1);
}

#[tokio::test]
async fn shrunk_head_below_cursor_ignored() {
    let log = FakeLog::start(10, 5).await;
    let (bus, mut consumer) = memory_bus().await;
    let cursors = Arc::new(CursorStore::in_memory());
    cursors.set(
        &log.url("shrunk"),
        Cursor {
            next_index: 10,
            tree_size: 10,
        },
    );
    log.report_sizes(&[6, 6, 3]);
    let watcher = RunningWatcher::start(
        &log,
        "shrunk",
        bus,
        Arc::clone(&cursors),
        Duration::from_secs(1),
    );

    tokio::time::sleep(Duration::from_millis(300)).await;
    let during_rollback = next_batch(&mut consumer, Duration::ZERO).await;
    log.grow_to(12);
    let batches = batches_through(&mut consumer, 11, BATCH_WAIT).await;
    watcher.stop().await;

    assert!(during_rollback.is_none(), "{during_rollback:?}");
    assert_eq!(indices(&batches), [10, 11]);
    assert_eq!(errors("shrunk", ErrorKind::Rollback), 3);
    assert_eq!(
        cursors.get(&log.url("shrunk")),
        Some(Cursor {
            next_index: 12,
            tree_size: 12
        })
    );
}
