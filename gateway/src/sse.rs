//! Server-Sent Events: `GET /sse?stream=lite|full|domains` streams `data: <message>` events with
//! the same payloads as the WebSocket endpoints, and a `: heartbeat` comment every 15 seconds.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use certstream_shared::StreamKind;
use futures::stream;
use tokio_util::sync::CancellationToken;

use crate::access::Permit;
use crate::feed::{self, ClientFeed, FeedEvent, Transport};
use crate::metrics::DisconnectReason;
use crate::AppState;

/// Interval between `: heartbeat` comments, which also keep proxies from closing idle streams.
const HEARTBEAT_INTERVAL: Duration = Duration::from_secs(15);

/// Parses the `stream` query value; an unknown value is an error, never a silent default.
pub fn parse_stream(value: Option<&str>) -> Result<StreamKind, String> {
    match value {
        None | Some("lite") => Ok(StreamKind::Lite),
        Some("full") => Ok(StreamKind::Full),
        Some("domains") | Some("domains-only") => Ok(StreamKind::Domains),
        Some(other) => Err(format!(
            "unknown stream {other:?}: use stream=lite, stream=full or stream=domains\n"
        )),
    }
}

/// Starts an event stream for one client.
pub fn respond(kind: StreamKind, state: Arc<AppState>, permit: Permit) -> Response {
    let client = SseClient {
        feed: ClientFeed::new(
            state.hub.subscribe(kind),
            Transport::Sse,
            kind,
            &state.settings,
        ),
        heartbeat: feed::ticker(HEARTBEAT_INTERVAL),
        shutdown: state.shutdown.clone(),
        pending: VecDeque::new(),
        finished: false,
        kind,
        _permit: permit,
    };
    let body = Body::from_stream(stream::unfold(client, |mut client| async move {
        let chunk = client.next_chunk().await?;
        Some((Ok::<_, std::convert::Infallible>(chunk), client))
    }));
    (
        [
            (header::CONTENT_TYPE, "text/event-stream"),
            (header::CACHE_CONTROL, "no-cache"),
            // The stream is public data, so pages on any origin may read it with EventSource.
            (header::ACCESS_CONTROL_ALLOW_ORIGIN, "*"),
            // Tells nginx not to buffer the stream.
            (header::HeaderName::from_static("x-accel-buffering"), "no"),
        ],
        body,
    )
        .into_response()
}

struct SseClient {
    feed: ClientFeed,
    heartbeat: Option<tokio::time::Interval>,
    shutdown: CancellationToken,
    /// Chunks of the event being written: the shared message bytes sit between a fixed prefix
    /// and suffix, so no client copies a message.
    pending: VecDeque<Bytes>,
    finished: bool,
    kind: StreamKind,
    _permit: Permit,
}

impl SseClient {
    async fn next_chunk(&mut self) -> Option<Bytes> {
        if let Some(chunk) = self.pending.pop_front() {
            return Some(chunk);
        }
        if self.finished {
            return None;
        }
        tokio::select! {
            biased;
            _ = self.shutdown.cancelled() => self.finish(DisconnectReason::Shutdown, ": server shutting down\n\n".into()),
            event = self.feed.next() => match event {
                FeedEvent::Message(frame) => {
                    self.pending.push_back(Bytes::from(frame));
                    self.pending.push_back(Bytes::from_static(b"\n\n"));
                    Some(Bytes::from_static(b"data: "))
                }
                FeedEvent::TooSlow { dropped } => {
                    let comment = format!(": disconnected, client too slow: {dropped} messages dropped\n\n");
                    self.finish(DisconnectReason::TooSlow, comment.into())
                }
                FeedEvent::Closed => self.finish(DisconnectReason::Shutdown, ": server shutting down\n\n".into()),
            },
            _ = feed::tick(&mut self.heartbeat) => Some(Bytes::from_static(b": heartbeat\n\n")),
        }
    }

    fn finish(&mut self, reason: DisconnectReason, last: Bytes) -> Option<Bytes> {
        self.finished = true;
        feed::record_disconnect(Transport::Sse, self.kind, reason);
        Some(last)
    }
}
