//! The gateway: relays the pre-serialized certstream messages from the bus to clients.
//!
//! - [`fanout`]: bus subscriptions and the per-stream broadcast channels.
//! - [`feed`]: what each client receives, and the slow-client policy shared by all transports.
//! - [`ws`], [`sse`], [`tcp`]: one task per client of each transport.
//! - [`access`]: client IP, connection limits and bearer tokens; [`reload`] replaces these rules
//!   when the watched configuration file changes.
//! - [`tls`]: TLS on the HTTP port from PEM files.
//! - [`routes`]: the HTTP router (stream endpoints, `/health`, `/metrics`, `/example.json`).
//! - [`standalone`]: ingest, decoder and gateway in one process over the in-process bus.

pub mod access;
pub mod fanout;
pub mod feed;
mod metrics;
mod page;
pub mod reload;
pub mod routes;
pub mod sse;
pub mod standalone;
pub mod tcp;
pub mod tls;
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
    pub access: Arc<access::Access>,
    pub started: tokio::time::Instant,
    /// WebSocket settings of every upgrade, with the deflate pool all connections share.
    pub ws_options: yawc::Options,
}

/// The sockets the gateway serves: HTTP (WebSocket, SSE and the rest) and optionally raw TCP.
pub struct Listeners {
    pub http: TcpListener,
    pub tcp: Option<TcpListener>,
}

/// Binds the configured host and ports: the HTTP port, and the TCP port when TCP is enabled.
pub async fn bind(settings: &Settings) -> anyhow::Result<Listeners> {
    let address = SocketAddr::new(settings.host, settings.port);
    let http = TcpListener::bind(address)
        .await
        .map_err(|err| anyhow::anyhow!("cannot listen on {address}: {err}"))?;
    let tcp = match settings.tcp_enabled {
        true => Some(bind_tcp(settings).await?),
        false => None,
    };
    Ok(Listeners { http, tcp })
}

/// Binds the raw TCP port on the configured host.
async fn bind_tcp(settings: &Settings) -> anyhow::Result<TcpListener> {
    let address = SocketAddr::new(settings.host, settings.tcp_port);
    TcpListener::bind(address)
        .await
        .map_err(|err| anyhow::anyhow!("cannot listen on {address} for raw TCP clients: {err}"))
}

/// Loads the TLS configuration when both the certificate and the key file are set.
fn tls_config(
    settings: &Settings,
) -> anyhow::Result<Option<Arc<tokio_rustls::rustls::ServerConfig>>> {
    match (&settings.tls_cert_file, &settings.tls_key_file) {
        (Some(cert), Some(key)) => tls::load_config(cert, key).map(Some),
        (None, None) => Ok(None),
        _ => anyhow::bail!("TLS needs both CERTSTREAM_TLS_CERT_FILE and CERTSTREAM_TLS_KEY_FILE"),
    }
}

/// Serves clients on the listeners with messages from `bus` until `shutdown` is cancelled, then
/// closes every client connection (close code 1001) and returns.
pub async fn run(
    settings: Settings,
    bus: Bus,
    listeners: Listeners,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let Listeners {
        http: listener,
        tcp: tcp_listener,
    } = listeners;
    let tls = tls_config(&settings)?;
    let access =
        Arc::new(access::Access::from_settings(&settings).map_err(|err| anyhow::anyhow!(err))?);
    if tcp_listener.is_some() && settings.auth_enabled {
        anyhow::bail!(
            "raw TCP clients cannot send a token: disable CERTSTREAM_TCP_ENABLED or CERTSTREAM_AUTH_ENABLED"
        );
    }
    let hub = Hub::new(settings.buffer_size.get());
    let relays = TaskTracker::new();
    fanout::start_relays(&bus, hub.clone(), &relays, shutdown.clone()).await?;

    let state = Arc::new(AppState {
        settings,
        hub,
        bus,
        shutdown: shutdown.clone(),
        clients: TaskTracker::new(),
        access,
        started: tokio::time::Instant::now(),
        ws_options: ws::upgrade_options(),
    });
    if state.settings.hot_reload_enabled {
        let Some(path) = state.settings.hot_reload_watch_path.clone() else {
            anyhow::bail!("CERTSTREAM_HOT_RELOAD_ENABLED needs CERTSTREAM_HOT_RELOAD_WATCH_PATH, the file to watch");
        };
        let args = std::env::args_os().collect();
        relays.spawn(reload::watch(
            path,
            args,
            state.access.clone(),
            shutdown.clone(),
        ));
    }
    if let Some(tcp_listener) = tcp_listener {
        relays.spawn(tcp::serve(tcp_listener, state.clone()));
    }
    let address = listener.local_addr()?;
    tracing::info!(addr = %address, tls = tls.is_some(), "Gateway listening");

    let app = routes::router(state.clone()).into_make_service_with_connect_info::<SocketAddr>();
    let served = match tls {
        // `tap_io` adapts the listener to axum's `ConnectInfo<SocketAddr>`, which axum implements
        // for plain TCP listeners and for tapped ones.
        Some(config) => {
            let listener =
                axum::serve::ListenerExt::tap_io(tls::TlsListener::new(listener, config), |_| {});
            axum::serve(listener, app)
                .with_graceful_shutdown(shutdown.clone().cancelled_owned())
                .await
        }
        None => {
            axum::serve(listener, app)
                .with_graceful_shutdown(shutdown.clone().cancelled_owned())
                .await
        }
    };
    served.map_err(|err| anyhow::anyhow!("gateway server on {address} failed: {err}"))?;

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
