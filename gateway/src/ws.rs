//! WebSocket clients: one task per connection that writes every message of its stream as a Text
//! frame, pings, sends heartbeats and reads (and ignores) whatever the client sends.
//!
//! The protocol is yawc's, because tungstenite has no extension support: a client that offers
//! permessage-deflate (RFC 7692) gets compressed messages, and any other client gets the plain
//! frames it got before.

use std::num::NonZeroUsize;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ws::Utf8Bytes;
use bytes::Bytes;
use certstream_shared::StreamKind;
use futures::stream::{SplitSink, SplitStream};
use futures::{SinkExt, StreamExt};
use tokio::time::Instant;
use yawc::close::CloseCode;
use yawc::{CompressionLevel, DeflatePool, Frame, HttpWebSocket, OpCode, Options, UpgradeFut};

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
/// text), and a larger buffer would dominate the memory of an idle connection.
pub const READ_BUFFER_BYTES: usize = 4 * 1024;

/// Bytes collected in the write buffer before it is written to the socket without an explicit
/// flush.
pub const WRITE_BUFFER_BYTES: usize = 64 * 1024;

/// Messages shorter than this go out uncompressed even on a compressing connection: deflate
/// saves next to nothing on them, and the heartbeat is one of them.
const COMPRESSION_THRESHOLD_BYTES: usize = 128;

/// Builds the WebSocket options of every upgrade.
///
/// permessage-deflate is accepted when the client offers it, at zlib level 1 and with
/// `server_no_context_takeover`. Without context takeover the compressor is reset after each
/// message, so its state (an estimated 256 KiB at zlib's default window and memory level) goes
/// back to a pool shared by all connections instead of staying with each client. The pool keeps
/// one idle state per CPU, because a message is compressed in one call and a worker thread
/// compresses one message at a time.
///
/// NOTE: each compressing client deflates every message itself. Without context takeover the
/// output is the same for all of them, but yawc has no way to send a frame compressed elsewhere.
pub fn upgrade_options() -> Options {
    let pool_capacity = std::thread::available_parallelism().map_or(1, NonZeroUsize::get);
    Options::default()
        // yawc rejects a frame or message whose payload reaches the limit, and the +1 keeps a
        // payload of exactly 64 KiB allowed, as it was with tungstenite.
        .with_limits(MAX_INBOUND_BYTES + 1, MAX_INBOUND_BYTES + 1)
        .with_read_buffer_capacity(READ_BUFFER_BYTES)
        // The write buffer grows with the first message instead of starting at 8 KiB.
        .with_write_buffer_capacity(0)
        .with_backpressure_boundary(WRITE_BUFFER_BYTES)
        .with_utf8()
        .with_compression_level(CompressionLevel::fast())
        .server_no_context_takeover()
        .with_compression_threshold(COMPRESSION_THRESHOLD_BYTES)
        .with_deflate_pool(DeflatePool::new(pool_capacity))
}

/// Serves one upgraded WebSocket connection until either side ends it.
pub async fn serve_client(
    upgrade: UpgradeFut,
    kind: StreamKind,
    state: Arc<AppState>,
    permit: Permit,
) {
    let socket = match upgrade.await {
        Ok(socket) => socket,
        Err(err) => {
            tracing::debug!(error = %err, "WebSocket upgrade failed");
            return;
        }
    };
    // Splitting right away moves the connection into the split halves' shared allocation, so the
    // task's future does not also keep room for it.
    let (sink, inbound) = socket.split();
    let feed = ClientFeed::new(
        state.hub.subscribe(kind),
        Transport::WebSocket,
        kind,
        &state.settings,
    );
    let reason = relay_messages(sink, inbound, feed, &state).await;
    feed::record_disconnect(Transport::WebSocket, kind, reason);
    drop(permit);
}

async fn relay_messages(
    mut sink: SplitSink<HttpWebSocket, Frame>,
    mut inbound: SplitStream<HttpWebSocket>,
    mut feed: ClientFeed,
    state: &AppState,
) -> DisconnectReason {
    let settings = &state.settings;
    let write_timeout = Duration::from_secs(settings.client_write_timeout_secs.get());
    let idle_timeout = Duration::from_secs(settings.ws_idle_timeout_secs.get());
    let mut ping = feed::ticker(Duration::from_secs(settings.ws_ping_interval_secs.get()));
    let mut heartbeat = feed::ticker(Duration::from_secs(settings.heartbeat_interval_secs));
    let mut last_inbound = Instant::now();

    loop {
        let outbound = tokio::select! {
            biased;
            _ = state.shutdown.cancelled() => {
                close(&mut sink, CLOSE_GOING_AWAY, "server shutting down".to_string(), write_timeout).await;
                return DisconnectReason::Shutdown;
            }
            // yawc queues the pong to a ping and the reply to a close frame itself, and ends the
            // stream on an error such as an oversized or invalid frame.
            received = inbound.next() => match received {
                None => return DisconnectReason::ClientClosed,
                Some(frame) if frame.opcode() == OpCode::Close => {
                    // Reading past the close frame writes the queued reply, then ends the stream.
                    let _ = tokio::time::timeout(write_timeout, inbound.next()).await;
                    return DisconnectReason::ClientClosed;
                }
                Some(_) => {
                    last_inbound = Instant::now();
                    continue;
                }
            },
            event = feed.next() => match event {
                FeedEvent::Message(frame) => text_frame(frame),
                FeedEvent::TooSlow { dropped } => {
                    let reason = format!("client too slow: {dropped} messages dropped");
                    close(&mut sink, CLOSE_TOO_SLOW, reason, write_timeout).await;
                    return DisconnectReason::TooSlow;
                }
                FeedEvent::Closed => {
                    close(&mut sink, CLOSE_GOING_AWAY, "server shutting down".to_string(), write_timeout).await;
                    return DisconnectReason::Shutdown;
                }
            },
            _ = feed::tick(&mut ping) => {
                if last_inbound.elapsed() > idle_timeout {
                    close(&mut sink, CLOSE_NORMAL, "idle timeout".to_string(), write_timeout).await;
                    return DisconnectReason::IdleTimeout;
                }
                Frame::ping(Bytes::new())
            }
            _ = feed::tick(&mut heartbeat) => text_frame(feed::heartbeat_message()),
        };
        let written = tokio::time::timeout(write_timeout, async {
            if outbound.opcode() == OpCode::Text {
                write_burst(&mut sink, outbound, &mut feed).await
            } else {
                sink.send(outbound).await.map(|()| None)
            }
        })
        .await;
        match written {
            Ok(Ok(None)) => {}
            Ok(Ok(Some(dropped))) => {
                let reason = format!("client too slow: {dropped} messages dropped");
                close(&mut sink, CLOSE_TOO_SLOW, reason, write_timeout).await;
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
    first: Frame,
    feed: &mut ClientFeed,
) -> Result<Option<u64>, yawc::WebSocketError>
where
    S: futures::Sink<Frame, Error = yawc::WebSocketError> + Unpin,
{
    sink.feed(first).await?;
    for _ in 1..MAX_MESSAGES_PER_FLUSH {
        match feed.try_next() {
            Some(FeedEvent::Message(frame)) => sink.feed(text_frame(frame)).await?,
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

/// Wraps a shared message in a Text frame. The frame refers to the same bytes as every other
/// client's frame; a copy is made only by compression or when the frame is encoded.
fn text_frame(message: Utf8Bytes) -> Frame {
    Frame::text(Bytes::from(message))
}

/// Sends a close frame, waiting at most `write_timeout`; the connection ends either way.
async fn close<S>(sink: &mut S, code: u16, reason: String, write_timeout: Duration)
where
    S: futures::Sink<Frame, Error = yawc::WebSocketError> + Unpin,
{
    let frame = Frame::close(CloseCode::from(code), reason);
    let _ = tokio::time::timeout(write_timeout, sink.send(frame)).await;
}
