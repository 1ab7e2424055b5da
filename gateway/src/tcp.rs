//! Raw TCP: newline-delimited JSON. The client may send `f` (full) or `d` (domains) as its first
//! byte; anything else, or nothing within one second, selects the lite stream.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Buf;
use certstream_shared::StreamKind;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::access::Permit;
use crate::feed::{self, ClientFeed, FeedEvent, Transport};
use crate::metrics::{self, DisconnectReason};
use crate::AppState;

/// How long the server waits for the stream selection byte.
const SELECTION_TIMEOUT: Duration = Duration::from_secs(1);

/// Pause after a failed accept (for example when out of file descriptors).
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// Accepts TCP clients until shutdown.
pub async fn serve(listener: TcpListener, state: Arc<AppState>) {
    if let Ok(address) = listener.local_addr() {
        tracing::info!(addr = %address, "TCP listening");
    }
    loop {
        let accepted = tokio::select! {
            biased;
            _ = state.shutdown.cancelled() => break,
            accepted = listener.accept() => accepted,
        };
        match accepted {
            Ok((socket, peer)) => {
                let state = state.clone();
                state
                    .clients
                    .clone()
                    .spawn(serve_client(socket, peer, state));
            }
            Err(err) => {
                tracing::warn!(error = %err, "Accepting a TCP client failed");
                tokio::time::sleep(ACCEPT_BACKOFF).await;
            }
        }
    }
}

async fn serve_client(mut socket: TcpStream, peer: SocketAddr, state: Arc<AppState>) {
    let permit = match state.access.acquire(peer.ip().to_canonical()) {
        Ok(permit) => permit,
        Err(rejection) => {
            metrics::rejected(rejection.as_label());
            let _ = tokio::time::timeout(
                SELECTION_TIMEOUT,
                socket.write_all(rejection.message().as_bytes()),
            )
            .await;
            return;
        }
    };
    let _ = socket.set_nodelay(true);
    let kind = select_stream(&mut socket).await;
    let feed = ClientFeed::new(
        state.hub.subscribe(kind),
        Transport::Tcp,
        kind,
        &state.settings,
    );
    let reason = relay_messages(socket, feed, &state).await;
    feed::record_disconnect(Transport::Tcp, kind, reason);
    drop::<Permit>(permit);
}

async fn select_stream(socket: &mut TcpStream) -> StreamKind {
    let mut first = [0u8; 1];
    match tokio::time::timeout(SELECTION_TIMEOUT, socket.read(&mut first)).await {
        Ok(Ok(1)) if first[0] == b'f' => StreamKind::Full,
        Ok(Ok(1)) if first[0] == b'd' => StreamKind::Domains,
        _ => StreamKind::Lite,
    }
}

async fn relay_messages(
    socket: TcpStream,
    mut feed: ClientFeed,
    state: &AppState,
) -> DisconnectReason {
    let write_timeout = Duration::from_secs(state.settings.client_write_timeout_secs.get());
    let mut heartbeat = feed::ticker(Duration::from_secs(state.settings.heartbeat_interval_secs));
    let (mut reader, mut writer) = socket.into_split();
    let mut discard = [0u8; 1024];
    loop {
        let line = tokio::select! {
            biased;
            _ = state.shutdown.cancelled() => return DisconnectReason::Shutdown,
            read = reader.read(&mut discard) => match read {
                Ok(0) | Err(_) => return DisconnectReason::ClientClosed,
                Ok(_) => continue,
            },
            event = feed.next() => match event {
                FeedEvent::Message(frame) => frame,
                FeedEvent::TooSlow { .. } => return DisconnectReason::TooSlow,
                FeedEvent::Closed => return DisconnectReason::Shutdown,
            },
            _ = feed::tick(&mut heartbeat) => feed::heartbeat_message(),
        };
        let mut chunks = Buf::chain(line.as_bytes(), &b"\n"[..]);
        match tokio::time::timeout(write_timeout, writer.write_all_buf(&mut chunks)).await {
            Ok(Ok(())) => {}
            Ok(Err(_)) => return DisconnectReason::ClientClosed,
            Err(_) => return DisconnectReason::WriteStalled,
        }
    }
}
