//! A load generator for certstream servers: opens many clients, counts what each receives and
//! measures delivery latency from each message's `data.seen` stamp.
//!
//! `data.seen` is set by ingest when it fetched the entry, so the latency is end to end: log
//! fetch, decoding, the bus and the gateway's fan-out. It is only meaningful when the load
//! generator runs on the same machine (the same clock) as ingest.
//!
//! - [`client`]: one task per connection, over WebSocket, Server-Sent Events or raw TCP.
//! - [`recorder`]: the shared counters and latency histogram.
//! - [`report`]: the summary, as text or JSON.

pub mod client;
pub mod histogram;
pub mod message;
pub mod recorder;
pub mod report;

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::task::JoinSet;
use tokio::time::MissedTickBehavior;
use tokio_util::sync::CancellationToken;

use self::client::{run_client, ClientOutcome, Endpoint};
use self::recorder::Recorder;
use self::report::Report;

/// How clients connect.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Transport {
    /// WebSocket on `/`, `/full-stream` or `/domains-only`.
    Ws,
    /// Server-Sent Events on `/sse?stream=…`.
    Sse,
    /// Newline-delimited JSON on the server's TCP port.
    Tcp,
}

/// Which certstream stream clients read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum StreamKind {
    Lite,
    Full,
    Domains,
}

impl StreamKind {
    pub fn as_str(self) -> &'static str {
        match self {
            StreamKind::Lite => "lite",
            StreamKind::Full => "full",
            StreamKind::Domains => "domains",
        }
    }

    fn ws_path(self) -> &'static str {
        match self {
            StreamKind::Lite => "/",
            StreamKind::Full => "/full-stream",
            StreamKind::Domains => "/domains-only",
        }
    }

    /// First byte a TCP client sends to pick the stream; lite sends nothing.
    fn tcp_selector(self) -> Option<u8> {
        match self {
            StreamKind::Lite => None,
            StreamKind::Full => Some(b'f'),
            StreamKind::Domains => Some(b'd'),
        }
    }
}

/// Settings of one run.
#[derive(Debug, Clone)]
pub struct LoadConfig {
    pub endpoint: Endpoint,
    pub clients: usize,
    /// New connections started per second during the ramp-up.
    pub connects_per_sec: f64,
    /// Upper bound of the whole run, ramp-up included.
    pub duration: Duration,
    /// Stop early once every client has received this many messages (heartbeats excluded) or
    /// has lost its connection.
    pub stop_after_messages: Option<u64>,
}

/// Runs the clients and returns the summary. Ends after `config.duration` at the latest.
pub async fn run(config: LoadConfig) -> Report {
    let started = Instant::now();
    let deadline = tokio::time::Instant::now() + config.duration;
    let stop = CancellationToken::new();
    let recorder = Arc::new(Recorder::new(
        config.clients,
        config.stop_after_messages,
        stop.clone(),
    ));
    // One pooled HTTP client for every SSE connection; WebSocket and TCP clients do not use it.
    let http = reqwest::Client::builder()
        .build()
        .expect("HTTP client without TLS settings builds");
    let endpoint = Arc::new(config.endpoint.clone());

    let mut tasks = JoinSet::new();
    let mut ramp = tokio::time::interval(Duration::from_secs_f64(1.0 / config.connects_per_sec));
    ramp.set_missed_tick_behavior(MissedTickBehavior::Burst);
    for _ in 0..config.clients {
        tokio::select! {
            _ = ramp.tick() => {}
            _ = tokio::time::sleep_until(deadline) => break,
            _ = stop.cancelled() => break,
        }
        let (endpoint, http, recorder, stop) = (
            endpoint.clone(),
            http.clone(),
            recorder.clone(),
            stop.clone(),
        );
        tasks.spawn(async move { run_client(&endpoint, &http, &recorder, &stop).await });
    }
    let started_clients = tasks.len();
    tracing::info!(
        clients = started_clients,
        secs = format!("{:.1}", started.elapsed().as_secs_f64()),
        "All clients started"
    );

    let ramp_secs = wait_for_connects(&recorder, started_clients, started, deadline, &stop).await;

    tokio::select! {
        _ = tokio::time::sleep_until(deadline) => {}
        _ = stop.cancelled() => {}
    }
    let run_secs = started.elapsed().as_secs_f64();
    stop.cancel();

    let mut outcomes: Vec<ClientOutcome> = Vec::with_capacity(started_clients);
    while let Some(joined) = tasks.join_next().await {
        match joined {
            Ok(outcome) => outcomes.push(outcome),
            Err(err) => recorder.record_error(&format!("client task failed: {err}")),
        }
    }
    Report::build(&config, &recorder, &outcomes, ramp_secs, run_secs)
}

/// Waits until every started client has connected or failed, logs the
/// `Connected N of M clients` line that scripts wait for, and returns the seconds since
/// `started`. Returns early when the run ends first.
async fn wait_for_connects(
    recorder: &Recorder,
    started_clients: usize,
    started: Instant,
    deadline: tokio::time::Instant,
    stop: &CancellationToken,
) -> Option<f64> {
    let mut poll = tokio::time::interval(Duration::from_millis(20));
    loop {
        tokio::select! {
            _ = poll.tick() => {}
            _ = tokio::time::sleep_until(deadline) => return None,
            _ = stop.cancelled() => return None,
        }
        let connected = recorder.connected.load(Ordering::Relaxed);
        let failed = recorder.connect_failures.load(Ordering::Relaxed);
        if connected + failed >= started_clients {
            let secs = started.elapsed().as_secs_f64();
            tracing::info!(
                connected,
                failed,
                secs = format!("{secs:.1}"),
                "Connected {connected} of {started_clients} clients"
            );
            return Some(secs);
        }
    }
}
