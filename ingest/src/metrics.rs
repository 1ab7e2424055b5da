//! Prometheus metrics of ingest, registered once per process in the shared registry (ingest,
//! decoder and gateway share one registry in single-process mode).
//!
//! Watchers take a [`WatcherMetrics`] with the labelled handles of their log, built once when
//! the watcher starts.

use std::sync::LazyLock;

use prometheus::{IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts};

use certstream_shared::telemetry;

/// Closed set of `kind` label values of `certstream_ingest_errors_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// A log request exceeded `ct_log_request_timeout_secs`.
    Timeout,
    /// The connection to a log failed or broke before a response arrived.
    Connection,
    /// A log returned a status other than 2xx and 429.
    HttpStatus,
    /// A log returned 429 Too Many Requests.
    RateLimited,
    /// A log response was not the expected JSON (HTML error page, truncated body).
    Decode,
    /// The bus did not store a batch.
    Publish,
    /// The key-value bucket did not store a cursor.
    CursorSave,
    /// A log reported a tree smaller than one it reported before.
    Rollback,
    /// A checkpoint was malformed or its signature did not verify with the log's key.
    Signature,
    /// A data tile or issuer certificate did not match what the log committed to (wrong width,
    /// wrong `leaf_index`, unparsable leaf, issuer hash mismatch).
    InvalidEntry,
}

impl ErrorKind {
    pub const ALL: [ErrorKind; 10] = [
        ErrorKind::Timeout,
        ErrorKind::Connection,
        ErrorKind::HttpStatus,
        ErrorKind::RateLimited,
        ErrorKind::Decode,
        ErrorKind::Publish,
        ErrorKind::CursorSave,
        ErrorKind::Rollback,
        ErrorKind::Signature,
        ErrorKind::InvalidEntry,
    ];

    /// Label value.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::Timeout => "timeout",
            ErrorKind::Connection => "connection",
            ErrorKind::HttpStatus => "http_status",
            ErrorKind::RateLimited => "rate_limited",
            ErrorKind::Decode => "decode",
            ErrorKind::Publish => "publish",
            ErrorKind::CursorSave => "cursor_save",
            ErrorKind::Rollback => "rollback",
            ErrorKind::Signature => "signature",
            ErrorKind::InvalidEntry => "invalid_entry",
        }
    }

    fn position(self) -> usize {
        ErrorKind::ALL
            .iter()
            .position(|kind| *kind == self)
            .unwrap_or_default()
    }
}

struct IngestMetrics {
    entries_published: IntCounterVec,
    tree_size: IntGaugeVec,
    next_index: IntGaugeVec,
    errors: IntCounterVec,
    lease_held: IntGaugeVec,
}

static METRICS: LazyLock<IngestMetrics> = LazyLock::new(|| IngestMetrics {
    entries_published: telemetry::register(counter_vec(
        "certstream_ingest_entries_published_total",
        "CT log entries the bus has stored.",
        &["log"],
    )),
    tree_size: telemetry::register(gauge_vec(
        "certstream_ingest_tree_size",
        "Highest tree size a CT log has reported.",
    )),
    next_index: telemetry::register(gauge_vec(
        "certstream_ingest_next_index",
        "Index of the next entry ingest fetches from a CT log.",
    )),
    errors: telemetry::register(counter_vec(
        "certstream_ingest_errors_total",
        "Failed CT log requests, failed publishes and tree heads that went backwards, by kind.",
        &["log", "kind"],
    )),
    lease_held: telemetry::register(gauge_vec(
        "certstream_ingest_lease_held",
        "1 while this ingest replica holds the lease of a CT log on NATS and polls it, else 0.",
    )),
});

/// Labelled metric handles of one log.
#[derive(Clone)]
pub struct WatcherMetrics {
    pub entries_published: IntCounter,
    pub tree_size: IntGauge,
    pub next_index: IntGauge,
    pub lease_held: IntGauge,
    errors: [IntCounter; ErrorKind::ALL.len()],
}

impl WatcherMetrics {
    pub fn for_log(log_id: &str) -> Self {
        let metrics = &*METRICS;
        WatcherMetrics {
            entries_published: metrics.entries_published.with_label_values(&[log_id]),
            tree_size: metrics.tree_size.with_label_values(&[log_id]),
            next_index: metrics.next_index.with_label_values(&[log_id]),
            lease_held: metrics.lease_held.with_label_values(&[log_id]),
            errors: ErrorKind::ALL
                .map(|kind| metrics.errors.with_label_values(&[log_id, kind.as_str()])),
        }
    }

    pub fn error(&self, kind: ErrorKind) -> &IntCounter {
        &self.errors[kind.position()]
    }
}

/// Converts a count to a gauge value, saturating above `i64::MAX`.
pub fn gauge_value(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

fn counter_vec(name: &str, help: &str, labels: &[&str]) -> IntCounterVec {
    IntCounterVec::new(Opts::new(name, help), labels)
        .unwrap_or_else(|err| panic!("metric {name} has an invalid definition: {err}"))
}

fn gauge_vec(name: &str, help: &str) -> IntGaugeVec {
    IntGaugeVec::new(Opts::new(name, help), &["log"])
        .unwrap_or_else(|err| panic!("metric {name} has an invalid definition: {err}"))
}
