//! `certstream-decoder`: decodes raw CT entries from NATS into certstream messages.

use certstream_shared::{admin, shutdown, telemetry, Bus, Settings};

#[tokio::main]
async fn main() {
    let settings = Settings::load(
        "certstream-decoder",
        "Decodes raw CT entries from NATS JetStream and publishes the lite, full and domains-only messages",
    )
    .unwrap_or_else(|err| err.exit());
    telemetry::init_tracing(settings.log_level);
    if let Err(err) = run(settings).await {
        tracing::error!(error = %format!("{err:#}"), "Decoder failed");
        std::process::exit(1);
    }
}

async fn run(settings: Settings) -> anyhow::Result<()> {
    if !settings.uses_nats() {
        anyhow::bail!(
            "certstream-decoder needs a NATS server: set --nats-url or CERTSTREAM_NATS_URL \
             (to run without NATS, use certstream-gateway --standalone)"
        );
    }
    let bus = Bus::from_settings(&settings).await?;
    let shutdown = shutdown::on_signal();
    let admin = tokio::spawn({
        let (settings, bus, shutdown) = (settings.clone(), bus.clone(), shutdown.clone());
        async move { admin::serve(&settings, bus, shutdown).await }
    });
    certstream_decoder::worker::run(bus, shutdown).await?;
    admin.await?

}
