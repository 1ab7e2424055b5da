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

/// Messages written to one client before a flush, when several are waiting. Writing a burst with
/// one flush costs one system call instead of one per message.
const MAX_MESSAGES_PER_FLUSH: usize = 64;

/// Size of the per-connection read buffer. Clients send little (pings, pongs, an occasional
/// text), and tungstenite's 128 KiB default would dominate the memory of an idle connection.
pub const READ_BUFFER_BYTES: usize = 4 * 1024;

/// Bytes tungstenite collects before it writes to the socket without an explicit flush.
pub const WRITE_BUFFER_BYTES: usize = 64 * 1024;

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
        let written = tokio::time::timeout(write_timeout, async {
            match outbound {
                Message::Text(_) => write_burst(&mut sink, outbound, &mut feed).await,
                other => sink.send(other).await.map(|()| None),
            }
        })
        .await;
        match written {
            Ok(Ok(None)) => {}
            Ok(Ok(Some(dropped))) => {
                let reason = format!("client too slow: {dropped} messages dropped");
                close(&mut sink, CLOSE_TOO_SLOW, reason.into(), write_timeout).await;
                return DisconnectReason::TooSlow;
            }
            Ok(Err(_)) => return DisconnectReason::ClientClosed,
            Err(_) => return DisconnectReason::WriteStalled,
        }
    }
}

/// Writes `first` and the messages already waiting (up to [`MAX_MESSAGES_PER_FLUSH`]), then
/// flushes once. Returns the number of lost messages when the feed reports the client too slow.
async fn write_burst<S>(
    sink: &mut S,
    first: Message,
    feed: &mut ClientFeed,
) -> Result<Option<u64>, axum::Error>
where
    S: futures::Sink<Message, Error = axum::Error> + Unpin,
{
    sink.feed(first).await?;
    for _ in 1..MAX_MESSAGES_PER_FLUSH {
        match feed.try_next() {
            Some(FeedEvent::Message(frame)) => sink.feed(Message::Text(frame)).await?,
            Some(FeedEvent::TooSlow { dropped }) => {
                sink.flush().await?;
                return Ok(Some(dropped));
            }
            Some(FeedEvent::Closed) | None => break,
        }
    }
    sink.flush().await?;
    Ok(None)
}

/// Sends a close frame, waiting at most `write_timeout`; the connection ends either way.
async fn close<S>(sink: &mut S, code: u16, reason: Utf8Bytes, write_timeout: Duration)
where
    S: futures::Sink<Message, Error = axum::Error> + Unpin,
{
    let frame = CloseFrame { code, reason };
    let _ = tokio::time::timeout(write_timeout, sink.send(Message::Close(Some(frame)))).await;
}
