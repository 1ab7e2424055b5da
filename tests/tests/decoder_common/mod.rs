//! Helpers of the decoder end-to-end tests: a bus connection of the test itself, raw batches
//! built from the fixture entries, JetStream API requests and frame collection.
//!
//! The test publishes raw batches and reads frames with its own NATS client (the async-nats
//! client inside [`certstream_shared::bus::NatsBus`]), so only the decoder runs as a process.
//! JetStream state is read through the JetStream API subjects (`$JS.API.…`), which any NATS
//! client can request.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::time::Duration;

use certstream_shared::bus::NatsBus;
use certstream_shared::raw::{LogSource, RawBatch, RawEntry};
use certstream_shared::{Bus, Settings};
use certstream_tests::fake_log::{FakeLog, FakeLogConfig, Growth, LogFixture, LogSpec};
use futures::StreamExt;
use serde_json::Value;

/// Raw stream, dead-letter stream and consumer names: the defaults of the settings table.
pub const RAW_STREAM: &str = "CERTSTREAM_RAW";
pub const DEAD_LETTER_STREAM: &str = "CERTSTREAM_DEADLETTER";
pub const CONSUMER: &str = "certstream-decoder";

/// Connects the test's own bus client to `url` with default settings.
pub async fn connect(url: &str) -> Bus {
    let settings = Settings::try_from_args(["decoder-test", "--nats-url", url])
        .expect("settings with a NATS URL");
    tokio::time::timeout(Duration::from_secs(20), Bus::from_settings(&settings))
        .await
        .expect("connecting to nats-server timed out")
        .expect("connecting to nats-server")
}

/// Returns the NATS connection behind a bus created by [`connect`].
pub fn nats(bus: &Bus) -> &NatsBus {
    match bus {
        Bus::Nats(nats) => nats,
        Bus::Memory(_) => panic!("the test bus must be a NATS bus"),
    }
}

/// Sends a request to a JetStream API subject and returns the JSON response, failing the test on
/// an API error. A `Value::Null` body is sent as an empty payload, as info requests require.
pub async fn jetstream_api(bus: &Bus, subject: &str, body: Value) -> Value {
    let payload = match body {
        Value::Null => String::new(),
        body => body.to_string(),
    };
    let response = tokio::time::timeout(
        Duration::from_secs(10),
        nats(bus)
            .client()
            .request(subject.to_string(), payload.into()),
    )
    .await
    .unwrap_or_else(|_| panic!("{subject}: no response within 10 s"))
    .unwrap_or_else(|err| panic!("{subject}: request failed: {err}"));
    let value: Value = serde_json::from_slice(&response.payload)
        .unwrap_or_else(|err| panic!("{subject}: response is not JSON: {err}"));
    assert!(
        value.get("error").is_none(),
        "{subject}: JetStream API error {}",
        value["error"]
    );
    value
}

/// Returns the message count of a stream, or `None` when the stream does not exist.
pub async fn stream_messages(bus: &Bus, stream: &str) -> Option<u64> {
    let response = nats(bus)
        .client()
        .request(format!("$JS.API.STREAM.INFO.{stream}"), "".into())
        .await
        .expect("stream info request");
    let value: Value = serde_json::from_slice(&response.payload).expect("stream info JSON");
    value["state"]["messages"].as_u64()
}

/// Returns the decoder consumer's state (`num_pending`, `num_ack_pending`, `num_redelivered`, …).
pub async fn consumer_info(bus: &Bus) -> Value {
    jetstream_api(
        bus,
        &format!("$JS.API.CONSUMER.INFO.{RAW_STREAM}.{CONSUMER}"),
        Value::Null,
    )
    .await
}

/// Waits until the decoder consumer has no pending and no unacknowledged message and the raw
/// work-queue stream is empty. Panics with the consumer state after `timeout`.
pub async fn wait_until_all_acked(bus: &Bus, timeout: Duration) -> Value {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        let info = consumer_info(bus).await;
        let raw_left = stream_messages(bus, RAW_STREAM).await;
        if info["num_pending"] == 0 && info["num_ack_pending"] == 0 && raw_left == Some(0) {
            return info;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "raw messages still pending after {timeout:?}: raw stream holds {raw_left:?}, \
             consumer state {info}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Returns the log source of the batches built by [`batches`].
pub fn navigli_source() -> LogSource {
    LogSource {
        id: "navigli".to_string(),
        name: "Test Log 'Navigli'".to_string(),
        url: "https://navigli.test/".to_string(),
    }
}

/// Reads the 1024 navigli fixture entries as RFC 6962 `get-entries` items from the fake log
/// (which converts the Static CT tiles), then stops the fake log.
pub async fn navigli_entries() -> Vec<RawEntry> {
    let growth = Growth {
        initial_size: 1024,
        step: 0,
        interval: Duration::ZERO,
    };
    let fake = FakeLog::start(FakeLogConfig {
        page_size: 256,
        logs: vec![LogSpec {
            fixture: LogFixture::Navigli,
            growth,
        }],
        ..FakeLogConfig::default()
    })
    .await
    .expect("fake CT log starts");
    let base = fake.log_url(LogFixture::Navigli);
    let client = reqwest::Client::new();
    let mut entries = Vec::new();
    while entries.len() < 1024 {
        let start = entries.len();
        let url = format!("{base}ct/v1/get-entries?start={start}&end=1023");
        let page: Value = client
            .get(&url)
            .timeout(Duration::from_secs(10))
            .send()
            .await
            .and_then(|response| response.error_for_status())
            .unwrap_or_else(|err| panic!("GET {url} failed: {err}"))
            .json()
            .await
            .unwrap_or_else(|err| panic!("GET {url}: invalid JSON: {err}"));
        let items = page["entries"].as_array().expect("entries array");
        assert!(!items.is_empty(), "GET {url} returned no entries");
        for item in items {
            entries.push(RawEntry {
                index: entries.len() as u64,
                leaf_input: item["leaf_input"].as_str().expect("leaf_input").to_string(),
                extra_data: item["extra_data"].as_str().expect("extra_data").to_string(),
                cert_link: None,
            });
        }
    }
    fake.shutdown().await.expect("fake CT log stops");
    entries
}

/// Splits `entries` into raw batches of `batch_size` consecutive entries of the navigli source.
pub fn batches(entries: &[RawEntry], batch_size: usize) -> Vec<RawBatch> {
    entries
        .chunks(batch_size)
        .map(|chunk| RawBatch {
            log: navigli_source(),
            seen: 1_700_000_000.0,
            entries: chunk.to_vec(),
        })
        .collect()
}

/// Frames received on one subject wildcard, counted per `data.cert_index`.
#[derive(Debug, Default)]
pub struct Collected {
    pub by_index: BTreeMap<u64, Vec<Value>>,
    pub total: usize,
}

impl Collected {
    pub fn duplicates(&self) -> usize {
        self.total - self.by_index.len()
    }
}

/// Subscribes to `subject` and collects certificate frames in a task until `stop` entries are
/// seen at least once and `quiet` passes without a new frame, or `timeout` passes.
pub async fn collect_frames(
    bus: &Bus,
    subject: &str,
    stop: usize,
    quiet: Duration,
    timeout: Duration,
) -> (
    tokio::task::JoinHandle<Collected>,
    tokio::sync::watch::Receiver<usize>,
) {
    let mut subscriber = nats(bus)
        .client()
        .subscribe(subject.to_string())
        .await
        .unwrap_or_else(|err| panic!("subscribing to {subject} failed: {err}"));
    nats(bus)
        .client()
        .flush()
        .await
        .expect("flush subscription");
    let (progress, progress_receiver) = tokio::sync::watch::channel(0usize);
    let subject = subject.to_string();
    let task = tokio::spawn(async move {
        let mut collected = Collected::default();
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let wait = if collected.by_index.len() >= stop {
                quiet
            } else {
                deadline.saturating_duration_since(tokio::time::Instant::now())
            };
            let message = match tokio::time::timeout(wait, subscriber.next()).await {
                Ok(Some(message)) => message,
                Ok(None) | Err(_) => break,
            };
            let value: Value = serde_json::from_slice(&message.payload)
                .unwrap_or_else(|err| panic!("{subject}: frame is not JSON: {err}"));
            let index = value["data"]["cert_index"]
                .as_u64()
                .unwrap_or_else(|| panic!("{subject}: frame without data.cert_index: {value}"));
            collected.by_index.entry(index).or_default().push(value);
            collected.total += 1;
            progress.send_replace(collected.total);
        }
        collected
    });
    (task, progress_receiver)
}

/// Reads the value of `certstream_decoder_entries_total{outcome="ok"}` from a decoder's
/// `/metrics` on `address` (as printed in its "Metrics listening" line).
pub async fn decoded_ok(address: &str) -> u64 {
    let url = format!("http://{address}/metrics");
    let text = reqwest::Client::new()
        .get(&url)
        .timeout(Duration::from_secs(5))
        .send()
        .await
        .and_then(|response| response.error_for_status())
        .unwrap_or_else(|err| panic!("GET {url} failed: {err}"))
        .text()
        .await
        .expect("metrics text");
    text.lines()
        .find(|line| line.starts_with("certstream_decoder_entries_total{outcome=\"ok\"}"))
        .and_then(|line| line.split_whitespace().last())
        .map_or(0, |value| value.parse().expect("counter value"))
}

/// Returns the `addr=` field of a "Metrics listening" log line.
pub fn metrics_address(line: &str) -> String {
    let start = line.find("addr=").expect("addr field") + "addr=".len();
    line[start..]
        .split_whitespace()
        .next()
        .expect("address after addr=")
        .to_string()
}
