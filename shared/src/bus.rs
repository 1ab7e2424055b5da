//! The bus between the stages: raw batches from ingest to the decoders (work queue, acknowledged)
//! and pre-serialized frames from the decoders to every gateway (fan-out, fire and forget).
//!
//! Two implementations share one interface: NATS (JetStream for raw batches, core subjects for
//! frames) and an in-process set of channels for single-process mode. The bus moves bytes and
//! batches; it does not decode or encode certificates.

use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream::{self, consumer::pull, stream};
use bytes::Bytes;
use futures::StreamExt;
use tokio::sync::{broadcast, mpsc, Mutex};

use crate::raw::RawBatch;
use crate::subjects::Subjects;
use crate::Settings;

/// Raw batches waiting for an in-process decoder; ingest waits when the queue is full.
const MEMORY_RAW_QUEUE: usize = 64;

/// Room left under the server's maximum payload for headers and the JSON envelope.
const PAYLOAD_HEADROOM: usize = 16 * 1024;

/// JetStream de-duplication window for raw batches published again after a crash.
const RAW_DUPLICATE_WINDOW: Duration = Duration::from_secs(600);

/// Age after which JetStream deletes a dead letter: long enough to ship a parser fix and replay.
const DEAD_LETTER_MAX_AGE: Duration = Duration::from_secs(30 * 24 * 3600);

/// Size limit of the dead-letter stream; when it is full the oldest dead letters are deleted.
const DEAD_LETTER_MAX_BYTES: i64 = 256 * 1024 * 1024;

/// Header of a dead letter that carries the decoding error.
pub const DEAD_LETTER_ERROR_HEADER: &str = "Certstream-Error";

/// The three streams a client can subscribe to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StreamKind {
    Lite,
    Full,
    Domains,
}

impl StreamKind {
    pub const ALL: [StreamKind; 3] = [StreamKind::Lite, StreamKind::Full, StreamKind::Domains];

    /// Token used in subjects, metrics labels and `/sse?stream=`.
    pub fn as_str(self) -> &'static str {
        match self {
            StreamKind::Lite => "lite",
            StreamKind::Full => "full",
            StreamKind::Domains => "domains",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        StreamKind::ALL
            .into_iter()
            .find(|kind| kind.as_str() == text)
    }

    fn position(self) -> usize {
        match self {
            StreamKind::Lite => 0,
            StreamKind::Full => 1,
            StreamKind::Domains => 2,
        }
    }
}

/// Failure of a bus operation.
#[derive(Debug, thiserror::Error)]
pub enum BusError {
    #[error("cannot connect to NATS at {url}: {source}")]
    Connect {
        url: String,
        #[source]
        source: async_nats::ConnectError,
    },
    #[error("invalid bus settings: {0}")]
    Settings(String),
    #[error("JetStream stream {stream}: {message}")]
    Stream { stream: String, message: String },
    #[error("publishing {what} failed: {message}")]
    Publish { what: String, message: String },
    #[error("subscribing to {subject} failed: {message}")]
    Subscribe { subject: String, message: String },
    #[error("encoding raw batch failed: {0}")]
    Encode(#[from] serde_json::Error),
    #[error("the in-process bus is closed")]
    Closed,
}

/// A connection to the bus; cheap to clone.
#[derive(Clone)]
pub enum Bus {
    Memory(MemoryBus),
    Nats(Arc<NatsBus>),
}

impl Bus {
    /// Connects to NATS when `nats_url` is set, otherwise creates an in-process bus.
    pub async fn from_settings(settings: &Settings) -> Result<Bus, BusError> {
        match &settings.nats_url {
            Some(url) => Ok(Bus::Nats(Arc::new(NatsBus::connect(url, settings).await?))),
            None => Ok(Bus::Memory(MemoryBus::new(settings.buffer_size.get()))),
        }
    }

    /// Publishes a batch of raw entries and returns once the bus has stored all of it.
    pub async fn publish_raw(&self, batch: RawBatch) -> Result<(), BusError> {
        match self {
            Bus::Memory(bus) => bus.publish_raw(batch).await,
            Bus::Nats(bus) => bus.publish_raw(batch).await,
        }
    }

    /// Opens the shared consumer of raw batches.
    pub async fn raw_consumer(&self) -> Result<RawConsumer, BusError> {
        match self {
            Bus::Memory(bus) => Ok(RawConsumer::Memory(bus.raw_receiver.clone())),
            Bus::Nats(bus) => bus.raw_consumer().await,
        }
    }

    /// Publishes one serialized message of one stream kind for one log.
    pub async fn publish_frame(
        &self,
        kind: StreamKind,
        log_id: &str,
        frame: Bytes,
    ) -> Result<(), BusError> {
        match self {
            Bus::Memory(bus) => {
                // Without subscribers the frame has nowhere to go, as on a NATS subject.
                let _ = bus.frames[kind.position()].send(frame);
                Ok(())
            }
            Bus::Nats(bus) => {
                let subject = bus.subjects.frames(kind, log_id);
                bus.client
                    .publish(subject.clone(), frame)
                    .await
                    .map_err(|err| BusError::Publish {
                        what: subject,
                        message: err.to_string(),
                    })
            }
        }
    }

    /// Stores a raw message that could not be decoded in the dead-letter stream (created on first
    /// use), with the reason in the `Certstream-Error` header, and returns once JetStream has
    /// stored it. The in-process bus has no storage and drops the message.
    pub async fn publish_dead_letter(
        &self,
        log_id: &str,
        payload: Bytes,
        reason: &str,
    ) -> Result<(), BusError> {
        match self {
            Bus::Memory(_) => Ok(()),
            Bus::Nats(bus) => bus.publish_dead_letter(log_id, payload, reason).await,
        }
    }

    /// Waits until frames published so far have been written to the server.
    pub async fn flush(&self) -> Result<(), BusError> {
        match self {
            Bus::Memory(_) => Ok(()),
            Bus::Nats(bus) => bus.client.flush().await.map_err(|err| BusError::Publish {
                what: "flush".to_string(),
                message: err.to_string(),
            }),
        }
    }

    /// Subscribes to one stream kind of every log.
    pub async fn subscribe_frames(&self, kind: StreamKind) -> Result<FrameSubscription, BusError> {
        match self {
            Bus::Memory(bus) => Ok(FrameSubscription::Memory(
                bus.frames[kind.position()].subscribe(),
            )),
            Bus::Nats(bus) => {
                let subject = bus.subjects.frames_all(kind);
                let subscriber = bus.client.subscribe(subject.clone()).await.map_err(|err| {
                    BusError::Subscribe {
                        subject,
                        message: err.to_string(),
                    }
                })?;
                Ok(FrameSubscription::Nats(subscriber))
            }
        }
    }

    /// Returns whether the bus can currently carry messages.
    pub fn is_connected(&self) -> bool {
        match self {
            Bus::Memory(_) => true,
            Bus::Nats(bus) => {
                bus.client.connection_state() == async_nats::connection::State::Connected
            }
        }
    }
}

// === impl MemoryBus ===

/// In-process bus for single-process mode.
#[derive(Clone)]
pub struct MemoryBus {
    raw_sender: mpsc::Sender<RawBatch>,
    raw_receiver: Arc<Mutex<mpsc::Receiver<RawBatch>>>,
    frames: Arc<[broadcast::Sender<Bytes>; 3]>,
}

impl MemoryBus {
    pub fn new(frame_buffer: usize) -> Self {
        let (raw_sender, raw_receiver) = mpsc::channel(MEMORY_RAW_QUEUE);
        let frames = std::array::from_fn(|_| broadcast::channel(frame_buffer).0);
        MemoryBus {
            raw_sender,
            raw_receiver: Arc::new(Mutex::new(raw_receiver)),
            frames: Arc::new(frames),
        }
    }

    async fn publish_raw(&self, batch: RawBatch) -> Result<(), BusError> {
        self.raw_sender
            .send(batch)
            .await
            .map_err(|_| BusError::Closed)
    }
}

// === impl NatsBus ===

/// NATS connection with the JetStream context for raw batches.
pub struct NatsBus {
    client: async_nats::Client,
    jetstream: jetstream::Context,
    subjects: Subjects,
    raw_stream: String,
    raw_max_bytes: i64,
    consumer_name: String,
    max_deliver: i64,
    ack_wait: Duration,
    dead_letter_stream: String,
    /// Largest raw message: the server's maximum payload minus headroom.
    max_raw_message: usize,
}

impl NatsBus {
    /// Connects, retrying while the server is not up yet, and creates the raw stream if needed.
    pub async fn connect(url: &str, settings: &Settings) -> Result<Self, BusError> {
        let subjects = Subjects::new(&settings.nats_subject_prefix).map_err(BusError::Settings)?;
        let client = async_nats::ConnectOptions::new()
            .name("certstream")
            .retry_on_initial_connect()
            .subscription_capacity(settings.buffer_size.get().max(1024) * 16)
            .event_callback(|event| async move {
                match event {
                    async_nats::Event::Connected => tracing::info!("NATS connected"),
                    async_nats::Event::Disconnected => tracing::warn!("NATS disconnected"),
                    async_nats::Event::SlowConsumer(sid) => {
                        tracing::warn!(subscription = sid, "NATS slow consumer, messages dropped")
                    }
                    other => tracing::debug!(event = %other, "NATS event"),
                }
            })
            .connect(url)
            .await
            .map_err(|source| BusError::Connect {
                url: url.to_string(),
                source,
            })?;
        let max_payload = client.server_info().max_payload;
        let bus = NatsBus {
            jetstream: jetstream::new(client.clone()),
            client,
            subjects,
            raw_stream: settings.nats_raw_stream.clone(),
            raw_max_bytes: i64::try_from(settings.nats_raw_max_bytes.get()).unwrap_or(i64::MAX),
            consumer_name: settings.nats_decoder_consumer.clone(),
            max_deliver: i64::from(settings.nats_decoder_max_deliver.get()),
            ack_wait: Duration::from_secs(settings.nats_decoder_ack_wait_secs.get()),
            dead_letter_stream: settings.nats_dead_letter_stream.clone(),
            max_raw_message: max_payload.saturating_sub(PAYLOAD_HEADROOM).max(64 * 1024),
        };
        Ok(bus)
    }

    pub fn client(&self) -> &async_nats::Client {
        &self.client
    }

    pub fn subjects(&self) -> &Subjects {
        &self.subjects
    }

    async fn raw_stream(&self) -> Result<stream::Stream, BusError> {
        let config = stream::Config {
            name: self.raw_stream.clone(),
            subjects: vec![self.subjects.raw_all()],
            retention: stream::RetentionPolicy::WorkQueue,
            storage: stream::StorageType::File,
            discard: stream::DiscardPolicy::New,
            max_bytes: self.raw_max_bytes,
            duplicate_window: RAW_DUPLICATE_WINDOW,
            ..Default::default()
        };
        self.jetstream
            .get_or_create_stream(config)
            .await
            .map_err(|err| BusError::Stream {
                stream: self.raw_stream.clone(),
                message: err.to_string(),
            })
    }

    async fn publish_raw(&self, batch: RawBatch) -> Result<(), BusError> {
        if batch.entries.is_empty() {
            return Ok(());
        }
        self.raw_stream().await?;
        let subject = self.subjects.raw(&batch.log.id);
        // Send every part first, then wait for all acknowledgements, so a large batch costs one
        // round trip instead of one per part.
        let mut pending = Vec::new();
        for part in batch.split_to_fit(self.max_raw_message) {
            let message_id = part.message_id();
            let payload = Bytes::from(serde_json::to_vec(&part)?);
            let publish = jetstream::message::PublishMessage::build()
                .message_id(message_id.as_str())
                .payload(payload);
            let ack = self
                .jetstream
                .send_publish(subject.clone(), publish)
                .await
                .map_err(|err| BusError::Publish {
                    what: message_id.clone(),
                    message: err.to_string(),
                })?;
            pending.push((message_id, ack));
        }
        for (message_id, ack) in pending {
            ack.await.map_err(|err| BusError::Publish {
                what: message_id,
                message: err.to_string(),
            })?;
        }
        Ok(())
    }

    async fn dead_letter_stream(&self) -> Result<stream::Stream, BusError> {
        let config = stream::Config {
            name: self.dead_letter_stream.clone(),
            subjects: vec![self.subjects.dead_letter("*")],
            retention: stream::RetentionPolicy::Limits,
            storage: stream::StorageType::File,
            discard: stream::DiscardPolicy::Old,
            max_age: DEAD_LETTER_MAX_AGE,
            max_bytes: DEAD_LETTER_MAX_BYTES,
            ..Default::default()
        };
        self.jetstream
            .get_or_create_stream(config)
            .await
            .map_err(|err| BusError::Stream {
                stream: self.dead_letter_stream.clone(),
                message: err.to_string(),
            })
    }

    async fn publish_dead_letter(
        &self,
        log_id: &str,
        payload: Bytes,
        reason: &str,
    ) -> Result<(), BusError> {
        self.dead_letter_stream().await?;
        let subject = self.subjects.dead_letter(log_id);
        let mut headers = async_nats::HeaderMap::new();
        headers.insert(
            DEAD_LETTER_ERROR_HEADER,
            reason.replace(['\r', '\n'], " ").as_str(),
        );
        let publish_error = |err: &dyn std::fmt::Display| BusError::Publish {
            what: subject.clone(),
            message: err.to_string(),
        };
        let ack = self
            .jetstream
            .publish_with_headers(subject.clone(), headers, payload)
            .await
            .map_err(|err| publish_error(&err))?;
        ack.await.map_err(|err| publish_error(&err))?;
        Ok(())
    }

    async fn raw_consumer(&self) -> Result<RawConsumer, BusError> {
        let stream = self.raw_stream().await?;
        let config = pull::Config {
            durable_name: Some(self.consumer_name.clone()),
            ack_policy: jetstream::consumer::AckPolicy::Explicit,
            // NOTE: fetched messages still queued in the decoder count against the ack wait too
            // (async-nats 0.52 pulls up to 200 at a time), so a short ack wait on a slow decoder
            // causes redeliveries and duplicate frames.
            ack_wait: self.ack_wait,
            // Unlimited: the decoder counts deliveries itself (`RawDelivery::last_attempt`), so a
            // message whose dead letter could not be stored is delivered again, not stranded.
            max_deliver: -1,
            max_ack_pending: 1024,
            ..Default::default()
        };
        let consumer = stream
            .get_or_create_consumer(&self.consumer_name, config)
            .await
            .map_err(|err| BusError::Stream {
                stream: self.raw_stream.clone(),
                message: err.to_string(),
            })?;
        let messages = consumer.messages().await.map_err(|err| BusError::Stream {
            stream: self.raw_stream.clone(),
            message: err.to_string(),
        })?;
        Ok(RawConsumer::Nats {
            messages: Box::new(messages),
            max_deliver: self.max_deliver,
        })
    }
}

// === Consumers ===

/// The shared consumer of raw batches.
pub enum RawConsumer {
    Memory(Arc<Mutex<mpsc::Receiver<RawBatch>>>),
    Nats {
        messages: Box<pull::Stream>,
        max_deliver: i64,
    },
}

impl RawConsumer {
    /// Waits for the next raw batch; `None` when the bus is closed.
    pub async fn next(&mut self) -> Option<Result<RawDelivery, BusError>> {
        match self {
            RawConsumer::Memory(receiver) => {
                let batch = receiver.lock().await.recv().await?;
                Some(Ok(RawDelivery {
                    payload: RawPayload::Decoded(batch),
                    message: None,
                    last_attempt: false,
                }))
            }
            RawConsumer::Nats {
                messages,
                max_deliver,
            } => {
                let message = match messages.next().await? {
                    Ok(message) => message,
                    Err(err) => {
                        return Some(Err(BusError::Subscribe {
                            subject: "raw consumer".to_string(),
                            message: err.to_string(),
                        }))
                    }
                };
                let delivered = message.info().map(|info| info.delivered).unwrap_or(1);
                let payload = RawPayload::Encoded(message.payload.clone());
                Some(Ok(RawDelivery {
                    payload,
                    message: Some(message),
                    last_attempt: delivered >= *max_deliver,
                }))
            }
        }
    }
}

/// A raw batch as received, before it is decoded from JSON.
pub enum RawPayload {
    Decoded(RawBatch),
    Encoded(Bytes),
}

/// One received raw batch; acknowledge it after its frames are published.
pub struct RawDelivery {
    pub payload: RawPayload,
    message: Option<jetstream::Message>,
    /// Whether this delivery reached `nats_decoder_max_deliver`: the decoder then sends the message
    /// to the dead-letter stream instead of asking for another delivery.
    pub last_attempt: bool,
}

impl RawDelivery {
    /// Returns the batch, decoded from JSON when it came from NATS.
    pub fn batch(&self) -> Result<RawBatch, serde_json::Error> {
        match &self.payload {
            RawPayload::Decoded(batch) => Ok(batch.clone()),
            RawPayload::Encoded(bytes) => serde_json::from_slice(bytes),
        }
    }

    /// Returns the encoded payload, for the dead-letter subject.
    pub fn payload_bytes(&self) -> Bytes {
        match &self.payload {
            RawPayload::Decoded(batch) => serde_json::to_vec(batch)
                .map(Bytes::from)
                .unwrap_or_default(),
            RawPayload::Encoded(bytes) => bytes.clone(),
        }
    }

    /// Tells the bus that the batch is fully handled.
    pub async fn ack(&self) -> Result<(), BusError> {
        match &self.message {
            None => Ok(()),
            Some(message) => message.ack().await.map_err(|err| BusError::Publish {
                what: "ack".to_string(),
                message: err.to_string(),
            }),
        }
    }

    /// Asks the bus to deliver the batch again after `delay`.
    pub async fn retry_later(&self, delay: Duration) -> Result<(), BusError> {
        match &self.message {
            None => Ok(()),
            Some(message) => message
                .ack_with(jetstream::AckKind::Nak(Some(delay)))
                .await
                .map_err(|err| BusError::Publish {
                    what: "nak".to_string(),
                    message: err.to_string(),
                }),
        }
    }
}

/// A subscription to one stream kind of every log.
pub enum FrameSubscription {
    Memory(broadcast::Receiver<Bytes>),
    Nats(async_nats::Subscriber),
}

/// Item of a frame subscription.
pub enum FrameEvent {
    Frame(Bytes),
    /// The subscriber fell behind and this many frames were lost.
    Lagged(u64),
}

impl FrameSubscription {
    /// Waits for the next frame; `None` when the subscription ended.
    pub async fn next(&mut self) -> Option<FrameEvent> {
        match self {
            FrameSubscription::Memory(receiver) => match receiver.recv().await {
                Ok(frame) => Some(FrameEvent::Frame(frame)),
                Err(broadcast::error::RecvError::Lagged(count)) => Some(FrameEvent::Lagged(count)),
                Err(broadcast::error::RecvError::Closed) => None,
            },
            FrameSubscription::Nats(subscriber) => subscriber
                .next()
                .await
                .map(|message| FrameEvent::Frame(message.payload)),
        }
    }
}
