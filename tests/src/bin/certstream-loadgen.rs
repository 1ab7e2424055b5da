//! `certstream-loadgen`: opens many clients on a certstream server, counts what they receive and
//! reports delivery latency, throughput, heartbeats, disconnects and missing messages.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use certstream_shared::config::LogLevel;
use certstream_shared::telemetry;
use certstream_tests::loadgen::client::Endpoint;
use certstream_tests::loadgen::{self, LoadConfig, StreamKind, Transport};
use clap::Parser;

/// Open many certstream clients and measure what they receive.
#[derive(Debug, Parser)]
#[command(name = "certstream-loadgen", version)]
struct Args {
    /// Server address as host:port: the HTTP port for ws and sse, the TCP port for tcp.
    #[arg(long, default_value = "127.0.0.1:8080")]
    target: String,
    /// How clients connect.
    #[arg(long, value_enum, default_value_t = Transport::Ws)]
    transport: Transport,
    /// Which stream clients read.
    #[arg(long, value_enum, default_value_t = StreamKind::Lite)]
    stream: StreamKind,
    /// Number of clients.
    #[arg(long, default_value_t = 100)]
    clients: usize,
    /// Connections started per second during ramp-up.
    #[arg(long, default_value_t = 500.0)]
    connects_per_sec: f64,
    /// Maximum run time in seconds, ramp-up included.
    #[arg(long, default_value_t = 30.0)]
    duration_secs: f64,
    /// Stop early once every client has received this many messages (heartbeats excluded) or
    /// lost its connection.
    #[arg(long)]
    stop_after_messages: Option<u64>,
    /// Print the report as JSON instead of text.
    #[arg(long)]
    json: bool,
    /// Also write the JSON report to this file.
    #[arg(long, value_name = "PATH")]
    json_out: Option<PathBuf>,
    /// Tokio worker threads; default: one per CPU.
    #[arg(long)]
    worker_threads: Option<usize>,
}

fn main() -> ExitCode {
    let args = Args::parse();
    telemetry::init_tracing(LogLevel::Info);
    match run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!(error = format!("{error:#}"), "Load generator failed");
            ExitCode::FAILURE
        }
    }
}

fn run(args: Args) -> anyhow::Result<()> {
    if args.clients == 0 {
        anyhow::bail!("--clients must be at least 1");
    }
    if !(args.connects_per_sec > 0.0 && args.connects_per_sec.is_finite()) {
        anyhow::bail!(
            "--connects-per-sec must be a positive number, got {}",
            args.connects_per_sec
        );
    }
    if !(args.duration_secs > 0.0 && args.duration_secs.is_finite()) {
        anyhow::bail!(
            "--duration-secs must be a positive number, got {}",
            args.duration_secs
        );
    }
    warn_if_too_few_file_descriptors(args.clients);

    let mut runtime = tokio::runtime::Builder::new_multi_thread();
    runtime.enable_all();
    if let Some(threads) = args.worker_threads {
        runtime.worker_threads(threads);
    }
    let runtime = runtime
        .build()
        .context("failed to start the Tokio runtime")?;

    let config = LoadConfig {
        endpoint: Endpoint::new(args.transport, args.stream, &args.target),
        clients: args.clients,
        connects_per_sec: args.connects_per_sec,
        duration: Duration::from_secs_f64(args.duration_secs),
        stop_after_messages: args.stop_after_messages,
    };
    tracing::info!(
        address = config.endpoint.address,
        clients = config.clients,
        "Load generator starting"
    );
    let report = runtime.block_on(loadgen::run(config));
    // Client tasks have all ended; do not wait for stray connection drops.
    runtime.shutdown_timeout(Duration::from_secs(1));

    let json = serde_json::to_string_pretty(&report).context("failed to serialize the report")?;
    if let Some(path) = &args.json_out {
        std::fs::write(path, format!("{json}\n"))
            .with_context(|| format!("failed to write {}", path.display()))?;
    }
    if args.json {
        println!("{json}");
    } else {
        print!("{report}");
    }
    Ok(())
}

/// Logs a warning when the open file limit (`ulimit -n`) is below one descriptor per client
/// plus a margin, since the extra connections would fail with "Too many open files".
fn warn_if_too_few_file_descriptors(clients: usize) {
    let Ok(limits) = std::fs::read_to_string("/proc/self/limits") else {
        return;
    };
    let soft_limit = limits
        .lines()
        .find(|line| line.starts_with("Max open files"))
        .and_then(|line| line.split_whitespace().nth(3))
        .and_then(|value| value.parse::<usize>().ok());
    if let Some(soft_limit) = soft_limit {
        if soft_limit < clients + 32 {
            tracing::warn!(
                clients,
                soft_limit,
                "Open file limit is below one per client plus 32: raise it with `ulimit -n`"
            );
        }
    }
}
