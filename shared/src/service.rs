//! The common frame of the `certstream-ingest` and `certstream-decoder` binaries: settings,
//! tracing, the NATS connection, signals and the `/metrics` server around one pipeline stage.

use std::future::Future;
use std::process::ExitCode;

use tokio_util::sync::CancellationToken;

use crate::{admin, shutdown, telemetry, Bus, Settings};

/// Loads the settings, connects to NATS (required), serves `/metrics` and `/health`, and runs
/// `stage` until SIGINT or SIGTERM. Returns the process exit code.
pub async fn run_nats_stage<F, Fut>(binary: &'static str, about: &'static str, stage: F) -> ExitCode
where
    F: FnOnce(Settings, Bus, CancellationToken) -> Fut,
    Fut: Future<Output = anyhow::Result<()>>,
{
    let settings = Settings::load(binary, about).unwrap_or_else(|err| err.exit());
    if !settings.uses_nats() {
        crate::config::ConfigError::Usage(format!(
            "missing NATS URL: {binary} as a separate process talks to NATS, so set --nats-url or \
             CERTSTREAM_NATS_URL; to run everything in one process without NATS, use \
             `certstream-gateway --standalone`"
        ))
        .exit();
    }
    telemetry::init_tracing(settings.log_level);
    match run(settings, stage).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            tracing::error!(error = %format!("{err:#}"), "{binary} failed");
            eprintln!("{binary}: {err:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run<F, Fut>(settings: Settings, stage: F) -> anyhow::Result<()>
where
    F: FnOnce(Settings, Bus, CancellationToken) -> Fut,
    Fut: Future<Output = anyhow::Result<()>>,
{
    let bus = Bus::from_settings(&settings).await?;
    let shutdown = shutdown::on_signal();
    let mut admin = tokio::spawn({
        let (settings, bus, shutdown) = (settings.clone(), bus.clone(), shutdown.clone());
        async move { admin::serve(&settings, bus, shutdown).await }
    });
    // The metrics server failing (for example, its port in use) stops the process at once.
    let stage = stage(settings, bus, shutdown.clone());
    tokio::pin!(stage);
    let result = tokio::select! {
        result = &mut stage => result,
        served = &mut admin => {
            shutdown.cancel();
            served??;
            stage.await
        }
    };
    shutdown.cancel();
    result?;
    if !admin.is_finished() {
        admin.await??;
    }
    Ok(())
}
