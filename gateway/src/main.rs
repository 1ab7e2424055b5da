//! `certstream-gateway`: serves certstream clients from NATS, or with `--standalone` runs
//! ingest, decoder and gateway in one process without NATS.

use certstream_shared::{shutdown, telemetry, Bus, Settings};

#[tokio::main]
async fn main() {
    let settings = Settings::load(
        "certstream-gateway",
        "Streams newly logged CT certificates to WebSocket clients; --standalone runs the whole pipeline in one process",
    )
    .unwrap_or_else(|err| err.exit());
    telemetry::init_tracing(settings.log_level);
    if let Err(err) = run(settings).await {
        tracing::error!(error = %format!("{err:#}"), "Gateway failed");
        std::process::exit(1);
    }
}

async fn run(settings: Settings) -> anyhow::Result<()> {
    let listeners = certstream_gateway::bind(&settings).await?;
    let shutdown = shutdown::on_signal();
    if settings.standalone {
        if settings.uses_nats() {
            anyhow::bail!("--standalone runs without NATS: remove --nats-url / CERTSTREAM_NATS_URL, or drop --standalone");
        }
        return certstream_gateway::standalone::run(settings, listeners, shutdown).await;
    }
    if !settings.uses_nats() {
        anyhow::bail!(
            "certstream-gateway needs a NATS server: set --nats-url or CERTSTREAM_NATS_URL, \
             or run everything in one process with --standalone"
        );
    }
    let bus = Bus::from_settings(&settings).await?;
    certstream_gateway::run(settings, bus, listeners, shutdown).await
}
