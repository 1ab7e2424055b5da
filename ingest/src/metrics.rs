//! Prometheus metrics of ingest, registered once per process in the shared registry (ingest,
//! decoder and gateway share one registry in single-process mode).
//!
//! Watchers take a [`WatcherMetrics`] with the labelled handles of their log, built once when
//! the watcher starts.

use std::sync::LazyLock;

use prometheus::{Gauge, GaugeVec, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts};

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
    lag: IntGaugeVec,
    coverage: GaugeVec,
    circuit_open: IntGaugeVec,
}

static METRICS: LazyLock<IngestMetrics> = LazyLock::new(|| {
    IngestMetrics {
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
    lag: telemetry::register(gauge_vec(
        "certstream_ingest_lag_entries",
        "Entries a CT log has beyond the next index ingest fetches: tree size minus next index.",
    )),
    coverage: telemetry::register(
        GaugeVec::new(
            Opts::new(
                "certstream_ingest_coverage_ratio",
                "Share of a CT log published since its watcher started: (next index - start index) / \
                 (tree size - start index), where the start index is the next index at that \
                 start, or 1 when the tree has not grown past it."),
            &["log"],
        )
        .unwrap_or_else(|err| {
            panic!("metric certstream_ingest_coverage_ratio has an invalid definition: {err}")
        }),
    ),
    circuit_open: telemetry::register(gauge_vec(
        "certstream_ingest_circuit_open",
        "1 while requests to a CT log are paused after repeated failures, until one succeeds.",
    )),
    lease_held: telemetry::register(gauge_vec(
        "certstream_ingest_lease_held",
        "1 while this ingest replica holds the lease of a CT log on NATS and polls it, else 0.",
    )),
}
});

/// Labelled metric handles of one log.
#[derive(Clone)]
pub struct WatcherMetrics {
    pub entries_published: IntCounter,
    pub tree_size: IntGauge,
    pub next_index: IntGauge,
    pub lease_held: IntGauge,
    pub circuit_open: IntGauge,
    lag: IntGauge,
    coverage: Gauge,
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
            circuit_open: metrics.circuit_open.with_label_values(&[log_id]),
            lag: metrics.lag.with_label_values(&[log_id]),
            coverage: metrics.coverage.with_label_values(&[log_id]),
            errors: ErrorKind::ALL
                .map(|kind| metrics.errors.with_label_values(&[log_id, kind.as_str()])),
        }
    }

    /// Sets the position gauges from a cursor. `start_index` is the next index the watcher
    /// started at, which the coverage ratio counts from.
    pub fn record_position(&self, next_index: u64, tree_size: u64, start_index: u64) {
        self.next_index.set(gauge_value(next_index));
        self.tree_size.set(gauge_value(tree_size));
        self.lag
            .set(gauge_value(tree_size.saturating_sub(next_index)));
        self.coverage
            .set(coverage_ratio(next_index, tree_size, start_index));
    }

    pub fn error(&self, kind: ErrorKind) -> &IntCounter {
        &self.errors[kind.position()]
    }
}

/// Returns the share of the entries from `start_index` up to `tree_size` that lie below
/// `next_index`, so have been published, or 1 when that range is empty.
pub fn coverage_ratio(next_index: u64, tree_size: u64, start_index: u64) -> f64 {
    let total = tree_size.saturating_sub(start_index);
    if total == 0 {
        return 1.0;
    }
    let read = next_index.saturating_sub(start_index).min(total);
    read as f64 / total as f64
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn coverage_ratio_counts_from_start() {
        assert_eq!(coverage_ratio(150, 200, 100), 0.5);
        assert_eq!(coverage_ratio(200, 200, 100), 1.0);
        assert_eq!(coverage_ratio(100, 300, 100), 0.0);
    }

    #[test]
    fn coverage_ratio_of_empty_range_is_one() {
        assert_eq!(coverage_ratio(100, 100, 100), 1.0);
        assert_eq!(coverage_ratio(100, 50, 100), 1.0);
    }

    #[test]
    fn record_position_sets_lag() {
        let metrics = WatcherMetrics::for_log("metrics_test_log");
        metrics.record_position(120, 200, 100);
        assert_eq!(metrics.lag.get(), 80);
        assert_eq!(metrics.next_index.get(), 120);
        assert_eq!(metrics.tree_size.get(), 200);
        assert_eq!(metrics.coverage.get(), 0.2);
    }
}
