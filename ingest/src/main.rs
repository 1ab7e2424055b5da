//! `certstream-ingest`: polls CT logs and publishes their raw entries to NATS JetStream.

use std::process::ExitCode;

use certstream_shared::{shutdown, telemetry, Bus, Settings};

#[tokio::main]
async fn main() -> ExitCode {
    let settings = match Settings::load(
        "certstream-ingest",
        "Polls Certificate Transparency logs and publishes their raw entries to NATS JetStream",
    ) {
        Ok(settings) => settings,
        Err(err) => err.exit(),
    };
    telemetry::init_tracing(settings.log_level);

    match run(settings).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("certstream-ingest: {err:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(settings: Settings) -> anyhow::Result<()> {
    if settings.nats_url.is_none() {
        anyhow::bail!(
            "missing NATS URL: certstream-ingest as a separate process publishes to NATS, so set \
             --nats-url or CERTSTREAM_NATS_URL; to run everything in one process without NATS, \
             use `certstream-gateway --standalone`"
        );
    }
    let bus = Bus::from_settings(&settings).await?;
    let shutdown = shutdown::on_signal();
    certstream_ingest::run(settings, bus, shutdown).await
}
