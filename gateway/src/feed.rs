//! What one client of any transport receives: the messages of its stream, and the slow-client
//! policy that is the same for WebSocket, SSE and TCP.
//!
//! Policy: a client that falls more than `buffer_size` messages behind loses the oldest ones
//! (counted in `certstream_gateway_messages_dropped_total`). A client that falls behind
//! `client_max_lag_events` times within [`LAG_WINDOW`] is disconnected, and the close reason (or
//! the last SSE comment) gives how many messages it lost. A write that takes longer than
//! `client_write_timeout_secs` disconnects the client as stalled.

use std::collections::VecDeque;
use std::time::Duration;

use axum::extract::ws::Utf8Bytes;
use certstream_shared::{Settings, StreamKind};
use prometheus::IntCounter;
use tokio::sync::broadcast::{self, error::RecvError, error::TryRecvError};
use tokio::time::Instant;

use crate::metrics::{self, DisconnectReason};

/// Window in which repeated lag events disconnect a client.
pub const LAG_WINDOW: Duration = Duration::from_secs(60);

/// Transports, as used in metric labels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    WebSocket,
    Sse,
    Tcp,
}

impl Transport {
    pub fn as_str(self) -> &'static str {
        match self {
            Transport::WebSocket => "ws",
            Transport::Sse => "sse",
            Transport::Tcp => "tcp",
        }
    }
}

/// Next step of a client's feed.
pub enum FeedEvent {
    Message(Utf8Bytes),
    /// The client fell behind too often; disconnect it. Carries the messages it lost in total.
    TooSlow {
        dropped: u64,
    },
    /// The gateway is shutting down.
    Closed,
}

/// The message feed of one connected client.
pub struct ClientFeed {
    receiver: broadcast::Receiver<Utf8Bytes>,
    max_lag_events: usize,
    lag_events: VecDeque<Instant>,
    dropped: u64,
    sent_counter: IntCounter,
    dropped_counter: IntCounter,
    /// Keeps the connected-clients gauge up while the feed exists.
    _connected: ConnectedGuard,
}

impl ClientFeed {
    pub fn new(
        receiver: broadcast::Receiver<Utf8Bytes>,
        transport: Transport,
        kind: StreamKind,
        settings: &Settings,
    ) -> Self {
        ClientFeed {
            receiver,
            max_lag_events: settings.client_max_lag_events.get() as usize,
            lag_events: VecDeque::new(),
            dropped: 0,
            sent_counter: metrics::messages_sent(transport.as_str(), kind),
            dropped_counter: metrics::messages_dropped(transport.as_str(), kind),
            _connected: ConnectedGuard::new(transport, kind),
        }
    }

    /// Waits for the next message of the stream.
    pub async fn next(&mut self) -> FeedEvent {
        loop {
            match self.receiver.recv().await {
                Ok(frame) => {
                    self.sent_counter.inc();
                    return FeedEvent::Message(frame);
                }
                Err(RecvError::Lagged(count)) => {
                    if self.record_lag(count) {
                        return FeedEvent::TooSlow {
                            dropped: self.dropped,
                        };
                    }
                }
                Err(RecvError::Closed) => return FeedEvent::Closed,
            }
        }
    }

    /// Returns the next message if one is already waiting, without blocking. A lag that crosses
    /// the disconnect threshold is reported as `TooSlow`.
    pub fn try_next(&mut self) -> Option<FeedEvent> {
        loop {
            match self.receiver.try_recv() {
                Ok(frame) => {
                    self.sent_counter.inc();
                    return Some(FeedEvent::Message(frame));
                }
                Err(TryRecvError::Lagged(count)) => {
                    if self.record_lag(count) {
                        return Some(FeedEvent::TooSlow {
                            dropped: self.dropped,
                        });
                    }
                }
                Err(TryRecvError::Empty) | Err(TryRecvError::Closed) => return None,
            }
        }
    }

    /// Messages this client lost so far.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    /// Counts a lag event; returns whether the client crossed the disconnect threshold.
    fn record_lag(&mut self, count: u64) -> bool {
        self.dropped += count;
        self.dropped_counter.inc_by(count);
        let now = Instant::now();
        self.lag_events.push_back(now);
        while self
            .lag_events
            .front()
            .is_some_and(|&at| now.duration_since(at) > LAG_WINDOW)
        {
            self.lag_events.pop_front();
        }
        self.lag_events.len() >= self.max_lag_events
    }
}

/// Increments the connected-clients gauge for its lifetime.
struct ConnectedGuard(prometheus::IntGauge);

impl ConnectedGuard {
    fn new(transport: Transport, kind: StreamKind) -> Self {
        let gauge = metrics::clients(transport.as_str(), kind);
        gauge.inc();
        ConnectedGuard(gauge)
    }
}

impl Drop for ConnectedGuard {
    fn drop(&mut self) {
        self.0.dec();
    }
}

/// Records why a client left, in the metric and at debug level.
pub fn record_disconnect(transport: Transport, kind: StreamKind, reason: DisconnectReason) {
    metrics::disconnected(transport.as_str(), reason);
    tracing::debug!(transport = transport.as_str(), stream = kind.as_str(), reason = ?reason, "Client disconnected");
}

/// `{"message_type":"heartbeat","timestamp":<float Unix seconds>}`.
pub fn heartbeat_message() -> Utf8Bytes {
    let timestamp = certstream_shared::raw::unix_now();
    Utf8Bytes::from(format!(
        "{{\"message_type\":\"heartbeat\",\"timestamp\":{timestamp}}}"
    ))
}

/// Returns an interval whose first tick is one period from now, or `None` for a zero period.
pub fn ticker(period: Duration) -> Option<tokio::time::Interval> {
    if period.is_zero() {
        return None;
    }
    let mut interval = tokio::time::interval_at(Instant::now() + period, period);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    Some(interval)
}

/// Waits for the next tick, or forever when there is no ticker.
pub async fn tick(ticker: &mut Option<tokio::time::Interval>) {
    match ticker {
        Some(interval) => {
            interval.tick().await;
        }
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use certstream_shared::Settings;

    fn settings(max_lag_events: &str) -> Settings {
        Settings::try_from_args(["test", "--client-max-lag-events", max_lag_events]).unwrap()
    }

    /// A client that lags the configured number of times within the window is disconnected,
    /// and the event carries every message it lost.
    #[tokio::test]
    async fn repeated_lag_disconnects_client() {
        let (sender, receiver) = broadcast::channel(2);
        let mut feed = ClientFeed::new(
            receiver,
            Transport::WebSocket,
            StreamKind::Lite,
            &settings("2"),
        );
        for round in 0..2 {
            for n in 0..5 {
                sender
                    .send(Utf8Bytes::from(format!("{round}-{n}")))
                    .unwrap();
            }
            match feed.next().await {
                FeedEvent::Message(frame) => {
                    assert_eq!(round, 0, "first lag only drops");
                    assert_eq!(frame.as_str(), "0-3");
                    let FeedEvent::Message(next) = feed.next().await else {
                        panic!("second message expected")
                    };
                    assert_eq!(next.as_str(), "0-4");
                }
                FeedEvent::TooSlow { dropped } => {
                    assert_eq!(round, 1, "second lag disconnects");
                    assert_eq!(dropped, 6);
                }
                FeedEvent::Closed => panic!("channel is open"),
            }
        }
        assert_eq!(feed.dropped(), 6);
    }

    #[tokio::test]
    async fn closed_channel_ends_feed() {
        let (sender, receiver) = broadcast::channel(2);
        let mut feed = ClientFeed::new(receiver, Transport::Tcp, StreamKind::Full, &settings("5"));
        drop(sender);
        assert!(matches!(feed.next().await, FeedEvent::Closed));
    }
}
