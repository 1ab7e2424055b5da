//! Counters that every client task updates as messages arrive: totals, the latency histogram,
//! the first and last delivery time, and error kinds.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use tokio_util::sync::CancellationToken;

use super::histogram::Histogram;
use super::message::{classify, MessageKind};

/// Deliveries a client keeps for the fan-out spread; later ones are only counted. At 16 bytes
/// each this bounds the memory per client to 160 KB.
pub const MAX_DELIVERIES_PER_CLIENT: usize = 10_000;

/// Messages one client received.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClientCounts {
    /// Messages other than heartbeats.
    pub messages: u64,
    pub heartbeats: u64,
    /// The first [`MAX_DELIVERIES_PER_CLIENT`] deliveries that carry an entry id: (entry id,
    /// receipt Unix time in microseconds).
    pub deliveries: Vec<(u64, u64)>,
}

/// Count of one error kind and its first example.
#[derive(Debug, Clone)]
pub struct ErrorTally {
    pub count: u64,
    pub example: String,
}

/// Shared state of one run.
pub struct Recorder {
    /// Delivery latency (receipt time minus `data.seen`) in microseconds.
    pub latency_us: Histogram,
    pub messages: AtomicU64,
    pub heartbeats: AtomicU64,
    /// Messages without `data.seen`, for example domains-only messages.
    pub messages_without_seen: AtomicU64,
    /// Messages whose `data.seen` is later than their receipt time; recorded as 0 latency.
    pub negative_latencies: AtomicU64,
    /// Unix time of the first and last message, in microseconds (`u64::MAX` and 0 until then).
    first_message_us: AtomicU64,
    last_message_us: AtomicU64,
    pub connected: AtomicUsize,
    pub connect_failures: AtomicUsize,
    /// Clients that reached `stop_after_messages` or whose connection ended.
    finished: AtomicUsize,
    clients: usize,
    stop_after_messages: Option<u64>,
    stop: CancellationToken,
    errors: Mutex<BTreeMap<String, ErrorTally>>,
}

impl Recorder {
    /// Creates a recorder for `clients` clients that cancels `stop` once every client has
    /// received `stop_after_messages` messages or ended.
    pub fn new(clients: usize, stop_after_messages: Option<u64>, stop: CancellationToken) -> Self {
        Recorder {
            latency_us: Histogram::new(),
            messages: AtomicU64::new(0),
            heartbeats: AtomicU64::new(0),
            messages_without_seen: AtomicU64::new(0),
            negative_latencies: AtomicU64::new(0),
            first_message_us: AtomicU64::new(u64::MAX),
            last_message_us: AtomicU64::new(0),
            connected: AtomicUsize::new(0),
            connect_failures: AtomicUsize::new(0),
            finished: AtomicUsize::new(0),
            clients,
            stop_after_messages,
            stop,
            errors: Mutex::new(BTreeMap::new()),
        }
    }

    pub fn client_connected(&self) {
        self.connected.fetch_add(1, Ordering::Relaxed);
    }

    pub fn client_connect_failed(&self) {
        self.connect_failures.fetch_add(1, Ordering::Relaxed);
    }

    /// Marks a client whose connection ended before the run stopped as done, unless it had
    /// already reached the message target.
    pub fn client_ended(&self, counts: &ClientCounts) {
        if self
            .stop_after_messages
            .is_none_or(|target| counts.messages < target)
        {
            self.client_finished();
        }
    }

    fn client_finished(&self) {
        let finished = self.finished.fetch_add(1, Ordering::AcqRel) + 1;
        if self.stop_after_messages.is_some() && finished >= self.clients {
            self.stop.cancel();
        }
    }

    /// Classifies one text message and counts it.
    pub fn record_text(&self, text: &str, counts: &mut ClientCounts) {
        match classify(text) {
            Ok(MessageKind::Heartbeat) => self.record_heartbeat(counts),
            Ok(MessageKind::Update { seen, entry }) => self.record_update(seen, entry, counts),
            Err(err) => self.record_error(&format!("invalid message: {err}")),
        }
    }

    pub fn record_heartbeat(&self, counts: &mut ClientCounts) {
        counts.heartbeats += 1;
        self.heartbeats.fetch_add(1, Ordering::Relaxed);
    }

    fn record_update(&self, seen: Option<f64>, entry: Option<u64>, counts: &mut ClientCounts) {
        let now_us = unix_micros();
        counts.messages += 1;
        if let Some(entry) = entry {
            if counts.deliveries.len() < MAX_DELIVERIES_PER_CLIENT {
                counts.deliveries.push((entry, now_us));
            }
        }
        self.messages.fetch_add(1, Ordering::Relaxed);
        self.first_message_us.fetch_min(now_us, Ordering::Relaxed);
        self.last_message_us.fetch_max(now_us, Ordering::Relaxed);
        match seen {
            Some(seen) => {
                let latency_us = now_us as f64 - seen * 1e6;
                if latency_us < 0.0 {
                    self.negative_latencies.fetch_add(1, Ordering::Relaxed);
                }
                self.latency_us.record(latency_us.max(0.0) as u64);
            }
            None => {
                self.messages_without_seen.fetch_add(1, Ordering::Relaxed);
            }
        }
        if Some(counts.messages) == self.stop_after_messages {
            self.client_finished();
        }
    }

    /// Counts an error by its kind: the text up to the first `:`.
    pub fn record_error(&self, message: &str) {
        let kind = message.split(':').next().unwrap_or(message).to_string();
        let mut errors = self.errors.lock().expect("error tally lock");
        errors
            .entry(kind)
            .or_insert_with(|| ErrorTally {
                count: 0,
                example: message.to_string(),
            })
            .count += 1;
    }

    /// Error kinds and their counts, sorted by kind.
    pub fn errors(&self) -> BTreeMap<String, ErrorTally> {
        self.errors.lock().expect("error tally lock").clone()
    }

    /// Seconds from the first to the last message, or `None` before two messages arrived at
    /// different times.
    pub fn delivery_window_secs(&self) -> Option<f64> {
        let first = self.first_message_us.load(Ordering::Relaxed);
        let last = self.last_message_us.load(Ordering::Relaxed);
        (first != u64::MAX && last > first).then(|| (last - first) as f64 / 1e6)
    }
}

fn unix_micros() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |now| now.as_micros() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stop_after_all_clients_reach_target() {
        let stop = CancellationToken::new();
        let recorder = Recorder::new(2, Some(2), stop.clone());
        let message = r#"{"message_type":"certificate_update","data":{"seen":1.5,"cert_index":3,
            "source":{"url":"http://127.0.0.1/"}}}"#;
        let mut first = ClientCounts::default();
        let mut second = ClientCounts::default();

        recorder.record_text(message, &mut first);
        recorder.record_text(message, &mut first);
        recorder.record_text(message, &mut first);
        assert!(!stop.is_cancelled(), "one client is still below the target");

        recorder.record_text(message, &mut second);
        recorder.record_text(message, &mut second);
        assert!(stop.is_cancelled());
        assert_eq!(first.messages, 3);
        assert_eq!(first.deliveries.len(), 3);
        assert_eq!(recorder.messages.load(Ordering::Relaxed), 5);
        assert_eq!(recorder.latency_us.count(), 5);
    }

    #[test]
    fn invalid_messages_are_tallied_by_kind() {
        let recorder = Recorder::new(1, None, CancellationToken::new());
        let mut counts = ClientCounts::default();

        recorder.record_text("garbage", &mut counts);
        recorder.record_text("{}", &mut counts);

        let errors = recorder.errors();
        assert_eq!(errors["invalid message"].count, 2);
        assert_eq!(counts, ClientCounts::default());
    }
}
