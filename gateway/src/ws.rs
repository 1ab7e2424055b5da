//! WebSocket clients: one task per connection that writes every message of its stream as a Text
//! frame, pings, sends heartbeats and reads (and ignores) whatever the client sends.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket};
use certstream_shared::StreamKind;
use futures::{SinkExt, StreamExt};
use tokio::sync::broadcast::error::RecvError;
use tokio::time::{interval_at, Instant, MissedTickBehavior};

use crate::metrics::{self, DisconnectReason};
use crate::AppState;

/// Largest frame or message a client may send; larger ones close the connection.
pub const MAX_INBOUND_BYTES: usize = 64 * 1024;

/// Interval between WebSocket pings.
const PING_INTERVAL: Duration = Duration::from_secs(30);

/// Interval between heartbeat messages.
const HEARTBEAT_INTERVAL: Duration = Duration::from_secs(30);

/// How long after a ping a silent client is disconnected.
const IDLE_TIMEOUT: Duration = Duration::from_secs(90);

/// How long one write may take before the client counts as stalled.
const WRITE_DEADLINE: Duration = Duration::from_secs(10);

/// Close code 1001 "going away", sent when the server shuts down.
const CLOSE_GOING_AWAY: u16 = 1001;

/// Close code 1000 "normal closure".
const CLOSE_NORMAL: u16 = 1000;

const TRANSPORT: &str = "ws";

/// Serves one upgraded WebSocket connection until either side ends it.
pub async fn serve_client(socket: WebSocket, kind: StreamKind, state: Arc<AppState>) {
    let connected = metrics::clients(TRANSPORT, kind);
    connected.inc();
    let reason = relay_messages(socket, kind, &state).await;
    connected.dec();
    metrics::disconnected(TRANSPORT, reason);
    tracing::debug!(stream = kind.as_str(), reason = ?reason, "WebSocket client disconnected");
}

async fn relay_messages(socket: WebSocket, kind: StreamKind, state: &AppState) -> DisconnectReason {
    let (mut sink, mut inbound) = socket.split();
    let mut messages = state.hub.subscribe(kind);
    let sent = metrics::messages_sent(TRANSPORT, kind);
    let dropped = metrics::messages_dropped(TRANSPORT, kind);

    let mut ping = interval_at(Instant::now() + PING_INTERVAL, PING_INTERVAL);
    ping.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut heartbeat = interval_at(Instant::now() + HEARTBEAT_INTERVAL, HEARTBEAT_INTERVAL);
    heartbeat.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut last_inbound = Instant::now();

    loop {
        let outbound = tokio::select! {
            biased;
            _ = state.shutdown.cancelled() => {
                let _ = close(&mut sink, CLOSE_GOING_AWAY, "server shutting down").await;
                return DisconnectReason::Shutdown;
            }
            received = inbound.next() => match received {
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return DisconnectReason::ClientClosed,
                Some(Ok(_)) => {
                    last_inbound = Instant::now();
                    continue;
                }
            },
            message = messages.recv() => match message {
                Ok(frame) => {
                    sent.inc();
                    Message::Text(frame)
                }
                Err(RecvError::Lagged(count)) => {
                    dropped.inc_by(count);
                    continue;
                }
                Err(RecvError::Closed) => {
                    let _ = close(&mut sink, CLOSE_GOING_AWAY, "server shutting down").await;
                    return DisconnectReason::Shutdown;
                }
            },
            _ = ping.tick() => {
                if last_inbound.elapsed() > IDLE_TIMEOUT {
                    let _ = close(&mut sink, CLOSE_NORMAL, "idle timeout").await;
                    return DisconnectReason::IdleTimeout;
                }
                Message::Ping(bytes::Bytes::new())
            }
            _ = heartbeat.tick() => Message::Text(heartbeat_message()),
        };
        match tokio::time::timeout(WRITE_DEADLINE, sink.send(outbound)).await {
            Ok(Ok(())) => {}
            Ok(Err(_)) | Err(_) => return DisconnectReason::WriteFailed,
        }
    }
}

async fn close<S>(sink: &mut S, code: u16, reason: &'static str) -> Result<(), axum::Error>
where
    S: futures::Sink<Message, Error = axum::Error> + Unpin,
{
    let frame = CloseFrame {
        code,
        reason: Utf8Bytes::from_static(reason),
    };
    tokio::time::timeout(WRITE_DEADLINE, sink.send(Message::Close(Some(frame))))
        .await
        .unwrap_or(Ok(()))
}

/// `{"message_type":"heartbeat","timestamp":<float Unix seconds>}`.
pub fn heartbeat_message() -> Utf8Bytes {
    let timestamp = certstream_shared::raw::unix_now();
    Utf8Bytes::from(
        serde_json::json!({"message_type": "heartbeat", "timestamp": timestamp}).to_string(),
    )
}
