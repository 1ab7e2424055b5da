//! WebSocket clients: one task per connection that writes every message of its stream as a Text
//! frame, pings, sends heartbeats and reads (and ignores) whatever the client sends.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket};
use certstream_shared::StreamKind;
use futures::{SinkExt, StreamExt};
use tokio::time::Instant;

use crate::access::Permit;
use crate::feed::{self, ClientFeed, FeedEvent, Transport};
use crate::metrics::DisconnectReason;
use crate::AppState;

/// Largest frame or message a client may send; larger ones close the connection.
pub const MAX_INBOUND_BYTES: usize = 64 * 1024;

/// Close code 1000 "normal closure".
const CLOSE_NORMAL: u16 = 1000;

/// Close code 1001 "going away", sent when the server shuts down.
const CLOSE_GOING_AWAY: u16 = 1001;

/// Close code for a client disconnected because it kept falling behind.
const CLOSE_TOO_SLOW: u16 = 4000;

/// Serves one upgraded WebSocket connection until either side ends it.
pub async fn serve_client(
    socket: WebSocket,
    kind: StreamKind,
    state: Arc<AppState>,
    permit: Permit,
) {
    let feed = ClientFeed::new(
        state.hub.subscribe(kind),
        Transport::WebSocket,
        kind,
        &state.settings,
    );
    let reason = relay_messages(socket, feed, &state).await;
    feed::record_disconnect(Transport::WebSocket, kind, reason);
    drop(permit);
}

async fn relay_messages(
    socket: WebSocket,
    mut feed: ClientFeed,
    state: &AppState,
) -> DisconnectReason {
    let settings = &state.settings;
    let write_timeout = Duration::from_secs(settings.client_write_timeout_secs.get());
    let idle_timeout = Duration::from_secs(settings.ws_idle_timeout_secs.get());
    let (mut sink, mut inbound) = socket.split();
    let mut ping = feed::ticker(Duration::from_secs(settings.ws_ping_interval_secs.get()));
    let mut heartbeat = feed::ticker(Duration::from_secs(settings.heartbeat_interval_secs));
    let mut last_inbound = Instant::now();

    loop {
        let outbound = tokio::select! {
            biased;
            _ = state.shutdown.cancelled() => {
                close(&mut sink, CLOSE_GOING_AWAY, "server shutting down".into(), write_timeout).await;
                return DisconnectReason::Shutdown;
            }
            received = inbound.next() => match received {
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return DisconnectReason::ClientClosed,
                Some(Ok(_)) => {
                    last_inbound = Instant::now();
                    continue;
                }
            },
            event = feed.next() => match event {
                FeedEvent::Message(frame) => Message::Text(frame),
                FeedEvent::TooSlow { dropped } => {
                    let reason = format!("client too slow: {dropped} messages dropped");
                    close(&mut sink, CLOSE_TOO_SLOW, reason.into(), write_timeout).await;
                    return DisconnectReason::TooSlow;
                }
                FeedEvent::Closed => {
                    close(&mut sink, CLOSE_GOING_AWAY, "server shutting down".into(), write_timeout).await;
                    return DisconnectReason::Shutdown;
                }
            },
            _ = feed::tick(&mut ping) => {
                if last_inbound.elapsed() > idle_timeout {
                    close(&mut sink, CLOSE_NORMAL, "idle timeout".into(), write_timeout).await;
                    return DisconnectReason::IdleTimeout;
                }
                Message::Ping(bytes::Bytes::new())
            }
            _ = feed::tick(&mut heartbeat) => Message::Text(feed::heartbeat_message()),
        };
        match tokio::time::timeout(write_timeout, sink.send(outbound)).await {
            Ok(Ok(())) => {}
            Ok(Err(_)) => return DisconnectReason::ClientClosed,
            Err(_) => return DisconnectReason::WriteStalled,
        }
    }
}

/// Sends a close frame, waiting at most `write_timeout`; the connection ends either way.
async fn close<S>(sink: &mut S, code: u16, reason: Utf8Bytes, write_timeout: Duration)
where
    S: futures::Sink<Message, Error = axum::Error> + Unpin,
{
    let frame = CloseFrame { code, reason };
    let _ = tokio::time::timeout(write_timeout, sink.send(Message::Close(Some(frame)))).await;
}
