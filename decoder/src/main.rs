//! `certstream-decoder`: decodes raw CT entries from NATS into certstream messages.

use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    certstream_shared::service::run_nats_stage(
        "certstream-decoder",
        "Decodes raw CT entries from NATS JetStream and publishes the lite, full and domains-only messages",
        |_settings, bus, shutdown| certstream_decoder::worker::run(bus, shutdown),
    )
    .await
}
