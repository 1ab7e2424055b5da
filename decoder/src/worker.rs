//! The decoder loop: takes raw batches from the shared consumer, decodes every entry, publishes
//! its three frames and acknowledges the batch once all of them are written to the bus.

use std::sync::LazyLock;
use std::time::Duration;

use certstream_shared::bus::RawDelivery;
use certstream_shared::raw::RawBatch;
use certstream_shared::telemetry::register;
use certstream_shared::{Bus, BusError, StreamKind};
use prometheus::{IntCounter, IntCounterVec, Opts};
use tokio_util::sync::CancellationToken;

use crate::{decode_entry, Decoded};

/// Delay before a batch whose frames could not be published is delivered again.
const RETRY_DELAY: Duration = Duration::from_secs(2);

static ENTRIES: LazyLock<IntCounterVec> = LazyLock::new(|| {
    register(
        IntCounterVec::new(
            Opts::new("certstream_decoder_entries_total", "Entries decoded, by outcome"),
            &["outcome"],
        )
        .expect("valid metric definition"),
    )
});

static DEAD_LETTERS: LazyLock<IntCounter> = LazyLock::new(|| {
    register(
        IntCounter::new(
            "certstream_decoder_dead_letters_total",
            "Raw batches sent to the dead-letter subject because they cannot be read",
        )
        .expect("valid metric definition"),
    )
});

/// Decodes raw batches until `shutdown` is cancelled or the bus closes.
pub async fn run(bus: Bus, shutdown: CancellationToken) -> anyhow::Result<()> {
    let mut consumer = bus.raw_consumer().await?;
    tracing::info!("Decoder started");
    loop {
        let delivery = tokio::select! {
            biased;
            _ = shutdown.cancelled() => break,
            delivery = consumer.next() => delivery,
        };
        match delivery {
            Some(Ok(delivery)) => handle_delivery(&bus, delivery).await,
            Some(Err(err)) => {
                tracing::warn!(error = %err, "Receiving raw batches failed, retrying");
                tokio::time::sleep(RETRY_DELAY).await;
            }
            None => break,
        }
    }
    tracing::info!("Decoder stopped");
    Ok(())
}

async fn handle_delivery(bus: &Bus, delivery: RawDelivery) {
    let batch = match delivery.batch() {
        Ok(batch) => batch,
        Err(err) => {
            dead_letter(bus, &delivery, "unknown", &format!("invalid raw batch: {err}")).await;
            return;
        }
    };
    match publish_batch(bus, &batch).await {
        Ok(()) => {
            if let Err(err) = delivery.ack().await {
                tracing::warn!(log_id = %batch.log.id, error = %err, "Acknowledging raw batch failed, it will be delivered again");
            }
        }
        Err(err) if delivery.last_attempt => {
            dead_letter(bus, &delivery, &batch.log.id, &err.to_string()).await;
        }
        Err(err) => {
            tracing::warn!(log_id = %batch.log.id, error = %err, "Publishing frames failed, batch will be retried");
            if let Err(err) = delivery.retry_later(RETRY_DELAY).await {
                tracing::warn!(log_id = %batch.log.id, error = %err, "Requesting redelivery failed");
            }
        }
    }
}

/// Decodes every entry of the batch and publishes its frames, then flushes the bus.
async fn publish_batch(bus: &Bus, batch: &RawBatch) -> Result<(), BusError> {
    for entry in &batch.entries {
        let Decoded { frames, fallback } = match decode_entry(&batch.log, entry, batch.seen) {
            Ok(decoded) => decoded,
            Err(err) => {
                ENTRIES.with_label_values(&[err.kind()]).inc();
                tracing::warn!(log_id = %batch.log.id, index = entry.index, error = %err, "Entry cannot be decoded, skipped");
                continue;
            }
        };
        let outcome = if fallback { "fallback" } else { "ok" };
        ENTRIES.with_label_values(&[outcome]).inc();
        bus.publish_frame(StreamKind::Full, &batch.log.id, frames.full).await?;
        bus.publish_frame(StreamKind::Lite, &batch.log.id, frames.lite).await?;
        bus.publish_frame(StreamKind::Domains, &batch.log.id, frames.domains).await?;
    }
    bus.flush().await
}

async fn dead_letter(bus: &Bus, delivery: &RawDelivery, log_id: &str, reason: &str) {
    DEAD_LETTERS.inc();
    tracing::error!(log_id, error = reason, "Raw batch sent to the dead-letter subject");
    if let Err(err) = bus.publish_dead_letter(log_id, delivery.payload_bytes(), reason).await {
        tracing::error!(log_id, error = %err, "Publishing dead letter failed, raw batch lost");
    }
    if let Err(err) = delivery.ack().await {
        tracing::warn!(log_id, error = %err, "Acknowledging dead-lettered batch failed");
    }
}
