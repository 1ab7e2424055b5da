//! Tracing output and the Prometheus registry that every service exposes.
//!
//! Log lines go to stderr in the compact `tracing` format. `RUST_LOG` overrides the configured
//! level with a full filter (for example `certstream_ingest=debug,info`).

use std::io::IsTerminal;
use std::sync::OnceLock;

use prometheus::{Encoder, Registry, TextEncoder};
use tracing_subscriber::EnvFilter;

use crate::config::LogLevel;

/// Installs the global tracing subscriber; later calls do nothing.
pub fn init_tracing(level: LogLevel) {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(level.as_str()));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_target(false)
        .try_init();
}

/// The process-wide registry all certstream metrics are registered in.
pub fn registry() -> &'static Registry {
    static REGISTRY: OnceLock<Registry> = OnceLock::new();
    REGISTRY.get_or_init(Registry::new)
}

/// Registers a metric in [`registry`] and returns it. Registering the same name twice (two
/// in-process services building the same metric) returns the first registration's collector
/// unchanged, so callers must build each metric once, in a `OnceLock` or `LazyLock`.
pub fn register<C>(collector: C) -> C
where
    C: prometheus::core::Collector + Clone + 'static,
{
    if let Err(err) = registry().register(Box::new(collector.clone())) {
        tracing::warn!(error = %err, "Metric registration failed");
    }
    collector
}

/// Renders every registered metric in the Prometheus text format.
pub fn render_metrics() -> String {
    let mut buffer = Vec::new();
    let encoder = TextEncoder::new();
    if let Err(err) = encoder.encode(&registry().gather(), &mut buffer) {
        tracing::warn!(error = %err, "Metric encoding failed");
    }
    String::from_utf8(buffer).unwrap_or_default()
}
