//! The decoder loop: takes raw batches from the shared consumer, decodes every entry, publishes
//! its three frames and acknowledges the batch once all of them are written to the bus.

use std::sync::LazyLock;
use std::time::Duration;

use certstream_shared::bus::RawDelivery;
use certstream_shared::raw::RawBatch;
use certstream_shared::subjects::slug;
use certstream_shared::telemetry::register;
use certstream_shared::{Bus, BusError, StreamKind};
use prometheus::{IntCounter, IntCounterVec, Opts};
use tokio_util::sync::CancellationToken;

use crate::{decode_entry_partial, Decoded};

/// Delay before a batch whose frames could not be published is delivered again.
const RETRY_DELAY: Duration = Duration::from_secs(2);

static ENTRIES: LazyLock<IntCounterVec> = LazyLock::new(|| {
    register(
        IntCounterVec::new(
            Opts::new(
                "certstream_decoder_entries_total",
                "Entries decoded, by outcome: ok, fallback (lenient certificate or extra_data), \
                 or the leaf_input error kind (frames then carry only what could be extracted)",
            ),
            &["outcome"],
        )
        .expect("valid metric definition"),
    )
});

static DEAD_LETTERS: LazyLock<IntCounter> = LazyLock::new(|| {
    register(
        IntCounter::new(
            "certstream_decoder_dead_letters_total",
            "Raw batches stored in the dead-letter stream after their last delivery failed",
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
            let log_id = log_id_of_invalid_batch(&delivery.payload_bytes());
            let reason = format!("invalid raw batch: {err}");
            if delivery.last_attempt {
                dead_letter(bus, &delivery, &log_id, &reason).await;
            } else {
                // Another replica (for example a newer version during a rolling update) may read
                // it, so the message is retried until its last delivery.
                tracing::warn!(
                    log_id,
                    error = reason,
                    "Raw batch cannot be read, it will be delivered again"
                );
                retry_later(&delivery, &log_id).await;
            }
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
            retry_later(&delivery, &batch.log.id).await;
        }
    }
}

/// Returns the subject token for the dead letter of a payload that is not a valid raw batch: its
/// `log.id` when the payload is JSON that has one (made subject-safe), otherwise `unknown`.
fn log_id_of_invalid_batch(payload: &[u8]) -> String {
    serde_json::from_slice::<serde_json::Value>(payload)
        .ok()
        .and_then(|value| value["log"]["id"].as_str().map(slug))
        .unwrap_or_else(|| "unknown".to_string())
}

/// Decodes every entry of the batch and publishes its frames, then flushes the bus. An entry
/// whose `leaf_input` does not parse still yields frames with what could be extracted.
async fn publish_batch(bus: &Bus, batch: &RawBatch) -> Result<(), BusError> {
    for entry in &batch.entries {
        let (Decoded { frames, fallback }, error) =
            decode_entry_partial(&batch.log, entry, batch.seen);
        let outcome = match &error {
            Some(err) => {
                tracing::warn!(log_id = %batch.log.id, index = entry.index, error = %err, "Entry cannot be parsed, publishing the fields that could be extracted");
                err.kind()
            }
            None if fallback => "fallback",
            None => "ok",
        };
        ENTRIES.with_label_values(&[outcome]).inc();
        bus.publish_frame(StreamKind::Full, &batch.log.id, frames.full)
            .await?;
        bus.publish_frame(StreamKind::Lite, &batch.log.id, frames.lite)
            .await?;
        bus.publish_frame(StreamKind::Domains, &batch.log.id, frames.domains)
            .await?;
    }
    bus.flush().await
}

async fn retry_later(delivery: &RawDelivery, log_id: &str) {
    if let Err(err) = delivery.retry_later(RETRY_DELAY).await {
        tracing::warn!(log_id, error = %err, "Requesting redelivery failed, the ack wait will expire instead");
    }
}

/// Stores the raw message in the dead-letter stream and acknowledges it. When storing fails the
/// message is delivered again later instead, so it is never dropped.
async fn dead_letter(bus: &Bus, delivery: &RawDelivery, log_id: &str, reason: &str) {
    if let Err(err) = bus
        .publish_dead_letter(log_id, delivery.payload_bytes(), reason)
        .await
    {
        tracing::error!(log_id, error = %err, "Storing dead letter failed, the raw batch will be delivered again");
        retry_later(delivery, log_id).await;
        return;
    }
    DEAD_LETTERS.inc();
    tracing::error!(
        log_id,
        error = reason,
        "Raw batch stored in the dead-letter stream"
    );
    if let Err(err) = delivery.ack().await {
        tracing::warn!(log_id, error = %err, "Acknowledging dead-lettered batch failed");
    }
}
