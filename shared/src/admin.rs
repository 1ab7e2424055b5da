//! The small HTTP server of the ingest and decoder processes: `/metrics` (Prometheus text
//! format) and `/health` (200 while the bus is connected, 503 otherwise).

use std::net::SocketAddr;

use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::{telemetry, Bus, Settings};

/// Binds `host:metrics_port` and serves `/metrics` and `/health` until `shutdown` is cancelled.
pub async fn serve(
    settings: &Settings,
    bus: Bus,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let address = SocketAddr::new(settings.host, settings.metrics_port);
    let listener = TcpListener::bind(address)
        .await
        .map_err(|err| anyhow::anyhow!("cannot listen on {address} for /metrics: {err}"))?;
    tracing::info!(addr = %listener.local_addr()?, "Metrics listening");
    let router = Router::new().route("/metrics", get(metrics)).route(
        "/health",
        get(move || {
            let connected = bus.is_connected();
            async move {
                if connected {
                    (StatusCode::OK, "OK\n")
                } else {
                    (StatusCode::SERVICE_UNAVAILABLE, "bus disconnected\n")
                }
            }
        }),
    );
    axum::serve(listener, router)
        .with_graceful_shutdown(shutdown.cancelled_owned())
        .await
        .map_err(|err| anyhow::anyhow!("metrics server on {address} failed: {err}"))
}

/// Renders every registered metric as a Prometheus text response.
pub async fn metrics() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        telemetry::render_metrics(),
    )
}
