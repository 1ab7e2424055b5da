//! Gateway metrics, registered once in the shared registry.

use std::sync::LazyLock;

use certstream_shared::telemetry::register;
use certstream_shared::StreamKind;
use prometheus::{IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts};

static CLIENTS: LazyLock<IntGaugeVec> = LazyLock::new(|| {
    register(
        IntGaugeVec::new(
            Opts::new(
                "certstream_gateway_clients",
                "Connected clients by transport and stream",
            ),
            &["transport", "stream"],
        )
        .expect("valid metric definition"),
    )
});

static FRAMES_RECEIVED: LazyLock<IntCounterVec> = LazyLock::new(|| {
    register(
        IntCounterVec::new(
            Opts::new(
                "certstream_gateway_frames_received_total",
                "Messages received from the bus by stream",
            ),
            &["stream"],
        )
        .expect("valid metric definition"),
    )
});

static FRAMES_REJECTED: LazyLock<IntCounterVec> = LazyLock::new(|| {
    register(
        IntCounterVec::new(
            Opts::new(
                "certstream_gateway_frames_rejected_total",
                "Messages from the bus dropped because they are not valid UTF-8",
            ),
            &["stream"],
        )
        .expect("valid metric definition"),
    )
});

static FRAMES_LOST: LazyLock<IntCounterVec> = LazyLock::new(|| {
    register(
        IntCounterVec::new(
            Opts::new(
                "certstream_gateway_frames_lost_total",
                "Messages the gateway's own bus subscription missed because it fell behind",
            ),
            &["stream"],
        )
        .expect("valid metric definition"),
    )
});

static MESSAGES_SENT: LazyLock<IntCounterVec> = LazyLock::new(|| {
    register(
        IntCounterVec::new(
            Opts::new(
                "certstream_gateway_messages_sent_total",
                "Messages written to clients",
            ),
            &["transport", "stream"],
        )
        .expect("valid metric definition"),
    )
});

static MESSAGES_DROPPED: LazyLock<IntCounterVec> = LazyLock::new(|| {
    register(
        IntCounterVec::new(
            Opts::new(
                "certstream_gateway_messages_dropped_total",
                "Messages a client did not receive because it fell too far behind",
            ),
            &["transport", "stream"],
        )
        .expect("valid metric definition"),
    )
});

static DISCONNECTS: LazyLock<IntCounterVec> = LazyLock::new(|| {
    register(
        IntCounterVec::new(
            Opts::new(
                "certstream_gateway_disconnects_total",
                "Client connections ended, by reason",
            ),
            &["transport", "reason"],
        )
        .expect("valid metric definition"),
    )
});

pub fn clients(transport: &str, kind: StreamKind) -> IntGauge {
    CLIENTS.with_label_values(&[transport, kind.as_str()])
}

pub fn frames_received(kind: StreamKind) -> IntCounter {
    FRAMES_RECEIVED.with_label_values(&[kind.as_str()])
}

pub fn frames_rejected(kind: StreamKind) -> IntCounter {
    FRAMES_REJECTED.with_label_values(&[kind.as_str()])
}

pub fn frames_lost(kind: StreamKind) -> IntCounter {
    FRAMES_LOST.with_label_values(&[kind.as_str()])
}

pub fn messages_sent(transport: &str, kind: StreamKind) -> IntCounter {
    MESSAGES_SENT.with_label_values(&[transport, kind.as_str()])
}

pub fn messages_dropped(transport: &str, kind: StreamKind) -> IntCounter {
    MESSAGES_DROPPED.with_label_values(&[transport, kind.as_str()])
}

/// Reasons a client connection ends.
#[derive(Debug, Clone, Copy)]
pub enum DisconnectReason {
    ClientClosed,
    IdleTimeout,
    /// A write did not finish within the write timeout.
    WriteStalled,
    /// The client fell behind too often.
    TooSlow,
    Shutdown,
}

impl DisconnectReason {
    fn as_str(self) -> &'static str {
        match self {
            DisconnectReason::ClientClosed => "client_closed",
            DisconnectReason::IdleTimeout => "idle_timeout",
            DisconnectReason::WriteStalled => "write_stalled",
            DisconnectReason::TooSlow => "too_slow",
            DisconnectReason::Shutdown => "shutdown",
        }
    }
}

pub fn disconnected(transport: &str, reason: DisconnectReason) {
    DISCONNECTS
        .with_label_values(&[transport, reason.as_str()])
        .inc();
}

static REJECTED: LazyLock<IntCounterVec> = LazyLock::new(|| {
    register(
        IntCounterVec::new(
            Opts::new(
                "certstream_gateway_connections_rejected_total",
                "Connection attempts rejected before streaming, by reason",
            ),
            &["reason"],
        )
        .expect("valid metric definition"),
    )
});

pub fn rejected(reason: &str) {
    REJECTED.with_label_values(&[reason]).inc();
}
