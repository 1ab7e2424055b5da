//! The summary of a run, printed as text or serialized as JSON.

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::Ordering;

use serde::Serialize;

use super::client::{ClientEnd, ClientOutcome};
use super::histogram::Histogram;
use super::recorder::Recorder;
use super::LoadConfig;

/// Latency percentiles in milliseconds. Each percentile is the upper bound of a histogram bucket,
/// at most 0.8 % above the true value; `max` is exact.
#[derive(Debug, Clone, Serialize)]
pub struct LatencySummary {
    pub samples: u64,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub p999_ms: f64,
    pub max_ms: f64,
}

/// Messages per connected client.
#[derive(Debug, Clone, Serialize)]
pub struct PerClient {
    pub min: u64,
    pub max: u64,
    pub mean: f64,
    /// Connected clients that received fewer messages than the best client.
    pub clients_below_max: usize,
    /// Sum over connected clients of (best client's count - this client's count): an estimate
    /// of dropped messages, since messages carry no sequence numbers.
    pub messages_missing: u64,
}

/// Count of one error kind with its first message.
#[derive(Debug, Clone, Serialize)]
pub struct ErrorSummary {
    pub kind: String,
    pub count: u64,
    pub example: String,
}

/// Everything one run measured.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub transport: String,
    pub stream: String,
    pub address: String,
    pub clients_requested: usize,
    pub clients_started: usize,
    pub clients_connected: usize,
    pub connect_failures: usize,
    /// Connections the server or network ended before the run stopped.
    pub disconnects: usize,
    /// Seconds until every started client had connected or failed; `null` if the run ended
    /// first.
    pub ramp_secs: Option<f64>,
    pub run_secs: f64,
    /// Messages other than heartbeats, summed over all clients.
    pub messages: u64,
    pub heartbeats: u64,
    /// Seconds from the first to the last message of any client.
    pub delivery_window_secs: Option<f64>,
    /// `messages / delivery_window_secs`.
    pub messages_per_sec: Option<f64>,
    pub per_client: Option<PerClient>,
    /// Latency from `data.seen` to receipt.
    pub latency: Option<LatencySummary>,
    /// Per delivery: receipt time minus the earliest receipt of the same entry by any client.
    /// It shows how long the fan-out to all clients takes without a gateway timestamp, and
    /// does not include the time to the first client.
    pub fanout_spread: Option<LatencySummary>,
    pub messages_without_seen: u64,
    /// Messages stamped later than they arrived (clock steps); counted as 0 ms.
    pub negative_latencies: u64,
    pub errors: Vec<ErrorSummary>,
}

impl Report {
    pub fn build(
        config: &LoadConfig,
        recorder: &Recorder,
        outcomes: &[ClientOutcome],
        ramp_secs: Option<f64>,
        run_secs: f64,
    ) -> Report {
        let connected: Vec<&ClientOutcome> = outcomes
            .iter()
            .filter(|outcome| !matches!(outcome.end, ClientEnd::ConnectFailed(_)))
            .collect();
        let disconnects = outcomes
            .iter()
            .filter(|outcome| matches!(outcome.end, ClientEnd::Disconnected(_)))
            .count();
        for outcome in outcomes {
            if let ClientEnd::Disconnected(reason) = &outcome.end {
                recorder.record_error(&format!("disconnected: {reason}"));
            }
        }

        let messages = recorder.messages.load(Ordering::Relaxed);
        let delivery_window_secs = recorder.delivery_window_secs();
        Report {
            transport: format!("{:?}", config.endpoint.transport).to_lowercase(),
            stream: config.endpoint.stream.as_str().to_string(),
            address: config.endpoint.address.clone(),
            clients_requested: config.clients,
            clients_started: outcomes.len(),
            clients_connected: connected.len(),
            connect_failures: outcomes.len() - connected.len(),
            disconnects,
            ramp_secs,
            run_secs,
            messages,
            heartbeats: recorder.heartbeats.load(Ordering::Relaxed),
            delivery_window_secs,
            messages_per_sec: delivery_window_secs.map(|secs| messages as f64 / secs),
            per_client: per_client(&connected),
            latency: summarize(&recorder.latency_us),
            fanout_spread: summarize(&fanout_spread(outcomes)),
            messages_without_seen: recorder.messages_without_seen.load(Ordering::Relaxed),
            negative_latencies: recorder.negative_latencies.load(Ordering::Relaxed),
            errors: recorder
                .errors()
                .into_iter()
                .map(|(kind, tally)| ErrorSummary {
                    kind,
                    count: tally.count,
                    example: tally.example,
                })
                .collect(),
        }
    }
}

fn per_client(connected: &[&ClientOutcome]) -> Option<PerClient> {
    let counts: Vec<u64> = connected
        .iter()
        .map(|outcome| outcome.counts.messages)
        .collect();
    let max = *counts.iter().max()?;
    let min = *counts.iter().min()?;
    Some(PerClient {
        min,
        max,
        mean: counts.iter().sum::<u64>() as f64 / counts.len() as f64,
        clients_below_max: counts.iter().filter(|&&count| count < max).count(),
        messages_missing: counts.iter().map(|&count| max - count).sum(),
    })
}

fn fanout_spread(outcomes: &[ClientOutcome]) -> Histogram {
    let mut first_receipt: HashMap<u64, u64> = HashMap::new();
    for outcome in outcomes {
        for &(entry, received_us) in &outcome.counts.deliveries {
            first_receipt
                .entry(entry)
                .and_modify(|first| *first = (*first).min(received_us))
                .or_insert(received_us);
        }
    }
    let spread = Histogram::new();
    for outcome in outcomes {
        for &(entry, received_us) in &outcome.counts.deliveries {
            spread.record(received_us - first_receipt[&entry]);
        }
    }
    spread
}

fn summarize(histogram: &Histogram) -> Option<LatencySummary> {
    let millis = |quantile: f64| histogram.value_at_quantile(quantile).unwrap_or(0) as f64 / 1e3;
    (histogram.count() > 0).then(|| LatencySummary {
        samples: histogram.count(),
        p50_ms: millis(0.5),
        p90_ms: millis(0.9),
        p99_ms: millis(0.99),
        p999_ms: millis(0.999),
        max_ms: histogram.max() as f64 / 1e3,
    })
}

fn optional(value: Option<f64>, precision: usize) -> String {
    value.map_or("n/a".to_string(), |value| format!("{value:.precision$}"))
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "target          {} {} {}",
            self.transport, self.stream, self.address
        )?;
        writeln!(
            f,
            "clients         {} connected of {} requested ({} connect failures, {} disconnects)",
            self.clients_connected, self.clients_requested, self.connect_failures, self.disconnects
        )?;
        writeln!(
            f,
            "time            ramp-up {} s, run {:.1} s",
            optional(self.ramp_secs, 1),
            self.run_secs
        )?;
        writeln!(
            f,
            "messages        {} ({} heartbeats) in {} s: {} messages/s",
            self.messages,
            self.heartbeats,
            optional(self.delivery_window_secs, 2),
            optional(self.messages_per_sec, 0)
        )?;
        if let Some(per_client) = &self.per_client {
            writeln!(
                f,
                "per client      min {} max {} mean {:.1}; {} clients below max, {} messages missing",
                per_client.min,
                per_client.max,
                per_client.mean,
                per_client.clients_below_max,
                per_client.messages_missing
            )?;
        }
        match &self.latency {
            Some(latency) => writeln!(
                f,
                "latency (ms)    p50 {:.1} p90 {:.1} p99 {:.1} p99.9 {:.1} max {:.1} ({} samples)",
                latency.p50_ms,
                latency.p90_ms,
                latency.p99_ms,
                latency.p999_ms,
                latency.max_ms,
                latency.samples
            )?,
            None => writeln!(f, "latency (ms)    n/a (no message with data.seen)")?,
        }
        if let Some(spread) = &self.fanout_spread {
            writeln!(
                f,
                "fan-out spread  p50 {:.1} p90 {:.1} p99 {:.1} p99.9 {:.1} max {:.1} ms after the first client",
                spread.p50_ms, spread.p90_ms, spread.p99_ms, spread.p999_ms, spread.max_ms
            )?;
        }
        if self.messages_without_seen > 0 || self.negative_latencies > 0 {
            writeln!(
                f,
                "                {} messages without data.seen, {} stamped in the future",
                self.messages_without_seen, self.negative_latencies
            )?;
        }
        for error in &self.errors {
            writeln!(
                f,
                "error           {} x {}: {}",
                error.count, error.kind, error.example
            )?;
        }
        Ok(())
    }
}
