//! The gateway: relays the pre-serialized certstream messages from the bus to clients.
//!
//! - [`fanout`]: bus subscriptions and the per-stream broadcast channels.
//! - [`ws`]: one task per WebSocket client.
//! - [`routes`]: the HTTP router (stream endpoints, `/health`, `/metrics`, `/example.json`).
//! - [`standalone`]: ingest, decoder and gateway in one process over the in-process bus.

pub mod fanout;
mod metrics;
pub mod routes;
pub mod standalone;
pub mod ws;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use certstream_shared::{Bus, Settings};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::fanout::Hub;

/// How long shutdown waits for client connections to close before giving up on them.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// State shared by all request handlers.
pub struct AppState {
    pub settings: Settings,
    pub hub: Arc<Hub>,
    pub bus: Bus,
    /// Cancelled when the server shuts down; client loops send a close frame and end.
    pub shutdown: CancellationToken,
    /// Client connection tasks, so shutdown can wait for their close frames.
    pub clients: TaskTracker,
}

/// Binds the configured host and port.
pub async fn bind(settings: &Settings) -> anyhow::Result<TcpListener> {
    let address = SocketAddr::new(settings.host, settings.port);
    TcpListener::bind(address)
        .await
        .map_err(|err| anyhow::anyhow!("cannot listen on {address}: {err}"))
}

/// Serves clients on `listener` with messages from `bus` until `shutdown` is cancelled, then
/// closes every client connection (close code 1001) and returns.
pub async fn run(
    settings: Settings,
    bus: Bus,
    listener: TcpListener,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let hub = Hub::new(settings.buffer_size.get());
    let relays = TaskTracker::new();
    fanout::start_relays(&bus, hub.clone(), &relays, shutdown.clone()).await?;

    let state = Arc::new(AppState {
        settings,
        hub,
        bus,
        shutdown: shutdown.clone(),
        clients: TaskTracker::new(),
    });
    let address = listener.local_addr()?;
    tracing::info!(addr = %address, "Gateway listening");

    let app = routes::router(state.clone()).into_make_service_with_connect_info::<SocketAddr>();
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown.clone().cancelled_owned())
        .await
        .map_err(|err| anyhow::anyhow!("gateway server on {address} failed: {err}"))?;

    state.clients.close();
    relays.close();
    if tokio::time::timeout(SHUTDOWN_GRACE, state.clients.wait())
        .await
        .is_err()
    {
        tracing::warn!(
            remaining = state.clients.len(),
            "Clients still open after the shutdown grace period"
        );
    }
    relays.wait().await;
    tracing::info!("Gateway stopped");
    Ok(())
}
