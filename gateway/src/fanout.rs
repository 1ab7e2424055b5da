//! Fan-out: one bus subscription per stream kind feeds a broadcast channel that every client of
//! that kind reads. A frame is validated as UTF-8 once on arrival and then shared by reference
//! count, so the cost per client is a clone of a pointer and a socket write.

use std::sync::{Arc, RwLock};

use axum::extract::ws::Utf8Bytes;
use certstream_shared::bus::{FrameEvent, FrameSubscription};
use certstream_shared::{Bus, StreamKind};
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::metrics;

/// The per-kind channels and the latest message of each kind.
pub struct Hub {
    channels: [broadcast::Sender<Utf8Bytes>; 3],
    latest: [RwLock<Option<Utf8Bytes>>; 3],
}

impl Hub {
    /// Creates the channels; `buffer` is how many messages a client may fall behind before it
    /// loses messages.
    pub fn new(buffer: usize) -> Arc<Self> {
        Arc::new(Hub {
            channels: std::array::from_fn(|_| broadcast::channel(buffer).0),
            latest: std::array::from_fn(|_| RwLock::new(None)),
        })
    }

    pub fn subscribe(&self, kind: StreamKind) -> broadcast::Receiver<Utf8Bytes> {
        self.channels[index(kind)].subscribe()
    }

    /// Returns the most recent message of a stream kind, if any arrived yet.
    pub fn latest(&self, kind: StreamKind) -> Option<Utf8Bytes> {
        self.latest[index(kind)]
            .read()
            .ok()
            .and_then(|latest| latest.clone())
    }

    fn publish(&self, kind: StreamKind, frame: Utf8Bytes) {
        if let Ok(mut latest) = self.latest[index(kind)].write() {
            *latest = Some(frame.clone());
        }
        // An error only means that no client of this kind is connected.
        let _ = self.channels[index(kind)].send(frame);
    }
}

fn index(kind: StreamKind) -> usize {
    match kind {
        StreamKind::Lite => 0,
        StreamKind::Full => 1,
        StreamKind::Domains => 2,
    }
}

/// Subscribes to the three stream kinds on the bus and starts one relay task per kind.
pub async fn start_relays(
    bus: &Bus,
    hub: Arc<Hub>,
    tasks: &TaskTracker,
    shutdown: CancellationToken,
) -> Result<(), certstream_shared::BusError> {
    for kind in StreamKind::ALL {
        let subscription = bus.subscribe_frames(kind).await?;
        tasks.spawn(relay(kind, subscription, hub.clone(), shutdown.clone()));
    }
    Ok(())
}

async fn relay(
    kind: StreamKind,
    mut subscription: FrameSubscription,
    hub: Arc<Hub>,
    shutdown: CancellationToken,
) {
    let received = metrics::frames_received(kind);
    loop {
        let event = tokio::select! {
            biased;
            _ = shutdown.cancelled() => break,
            event = subscription.next() => event,
        };
        match event {
            Some(FrameEvent::Frame(bytes)) => match Utf8Bytes::try_from(bytes) {
                Ok(frame) => {
                    received.inc();
                    hub.publish(kind, frame);
                }
                Err(err) => {
                    metrics::frames_rejected(kind).inc();
                    tracing::warn!(stream = kind.as_str(), error = %err, "Frame from the bus is not UTF-8, dropped");
                }
            },
            Some(FrameEvent::Lagged(count)) => {
                metrics::frames_lost(kind).inc_by(count);
                tracing::warn!(
                    stream = kind.as_str(),
                    lost = count,
                    "Relay fell behind the bus"
                );
            }
            None => {
                tracing::error!(stream = kind.as_str(), "Bus subscription ended");
                break;
            }
        }
    }
}
