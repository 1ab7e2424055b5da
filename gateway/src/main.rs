//! `certstream-gateway`: serves certstream clients from NATS, or with `--standalone` runs
//! ingest, decoder and gateway in one process without NATS.

use certstream_shared::config::ConfigError;
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
    check_bus_settings(&settings);
    let listeners = certstream_gateway::bind(&settings).await?;
    let shutdown = shutdown::on_signal();
    if settings.standalone {
        return certstream_gateway::standalone::run(settings, listeners, shutdown).await;
    }
    let bus = Bus::from_settings(&settings).await?;
    certstream_gateway::run(settings, bus, listeners, shutdown).await
}

/// Exits with the usage code 64 unless exactly one of NATS and `--standalone` is chosen.
fn check_bus_settings(settings: &Settings) {
    let problem = match (settings.standalone, settings.uses_nats()) {
        (true, true) => "--standalone runs without NATS: remove --nats-url / CERTSTREAM_NATS_URL, or drop --standalone",
        (false, false) => {
            "certstream-gateway needs a NATS server: set --nats-url or CERTSTREAM_NATS_URL, \
             or run everything in one process with --standalone"
        }
        _ => return,
    };
    ConfigError::Usage(problem.to_string()).exit();
}
