//! `certstream-ingest`: polls CT logs and publishes their raw entries to NATS JetStream.

use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    certstream_shared::service::run_nats_stage(
        "certstream-ingest",
        "Polls Certificate Transparency logs and publishes their raw entries to NATS JetStream",
        certstream_ingest::run,
    )
    .await
}
