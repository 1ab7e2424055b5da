//! Pieces shared by the three certstream services.
//!
//! - [`config`]: settings from flags, `CERTSTREAM_*` environment variables and a YAML file.
//! - [`raw`]: the raw CT entry batches that ingest publishes and decoders consume.
//! - [`subjects`]: NATS subject names and the slug used for a log inside a subject.
//! - [`admin`]: `/metrics` and `/health` for the ingest and decoder processes.
//! - [`bus`]: the bus between the stages, either NATS JetStream or an in-process channel set.
//! - [`telemetry`]: tracing setup and the Prometheus registry.
//! - [`service`]: the common frame of the ingest and decoder binaries.
//! - [`shutdown`]: the cancellation token that SIGINT and SIGTERM trigger.

pub mod admin;
pub mod bus;
pub mod config;
pub mod raw;
pub mod service;
pub mod shutdown;
pub mod subjects;
pub mod telemetry;

pub use bus::{Bus, BusError, StreamKind};
pub use config::Settings;
