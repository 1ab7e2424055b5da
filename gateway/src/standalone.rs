//! Single-process mode: ingest, decoder and gateway run as tasks of one process over the
//! in-process bus, so one command on one machine streams the logs with no NATS server.

use certstream_shared::bus::MemoryBus;
use certstream_shared::{Bus, Settings};
use tokio_util::sync::CancellationToken;

/// Runs the whole pipeline until `shutdown` is cancelled. The gateway stops first, then the
/// decoder, then ingest, which saves its cursors last.
pub async fn run(
    settings: Settings,
    listeners: crate::Listeners,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let bus = Bus::Memory(MemoryBus::new(settings.buffer_size.get()));

    // The gateway subscribes before anything is decoded, so the first messages reach clients.
    let ingest_stop = CancellationToken::new();
    let decoder_stop = CancellationToken::new();
    let mut gateway = tokio::spawn(crate::run(
        settings.clone(),
        bus.clone(),
        listeners,
        shutdown.clone(),
    ));
    let decoder = tokio::spawn(certstream_decoder::worker::run(
        bus.clone(),
        decoder_stop.clone(),
    ));
    let ingest = tokio::spawn(certstream_ingest::run(settings, bus, ingest_stop.clone()));

    // A gateway that fails at start (bad TLS files, invalid trusted proxies) ends the process
    // instead of leaving ingest and decoder running without clients.
    let gateway_result = tokio::select! {
        _ = shutdown.cancelled() => gateway.await,
        finished = &mut gateway => {
            shutdown.cancel();
            finished
        }
    };
    decoder_stop.cancel();
    let decoder_result = decoder.await;
    ingest_stop.cancel();
    let ingest_result = ingest.await;

    for (stage, result) in [
        ("gateway", gateway_result),
        ("decoder", decoder_result),
        ("ingest", ingest_result),
    ] {
        match result {
            Ok(Ok(())) => {}
            Ok(Err(err)) => return Err(err.context(format!("{stage} failed"))),
            Err(err) => anyhow::bail!("{stage} task panicked: {err}"),
        }
    }
    Ok(())
}
