//! `fake-ct-log`: serves the fixture CT logs on 127.0.0.1 until SIGINT or SIGTERM.
//!
//! Prints `base_url=http://127.0.0.1:PORT` on stdout once listening and writes a log list that
//! points at the server. Every log uses the same growth settings.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use certstream_shared::config::LogLevel;
use certstream_shared::{shutdown, telemetry};
use certstream_tests::fake_log::{FakeLog, FakeLogConfig, Growth, DEFAULT_PAGE_SIZE};
use clap::Parser;

/// Serve the fixture CT logs (live, navigli) over the RFC 6962 API on 127.0.0.1.
#[derive(Debug, Parser)]
#[command(name = "fake-ct-log", version)]
struct Args {
    /// Path of the Google v3 log_list.json to write. It lists every served log.
    #[arg(long)]
    log_list_out: PathBuf,
    /// TCP port on 127.0.0.1, or 0 for a port the OS picks.
    #[arg(long, default_value_t = 0)]
    port: u16,
    /// Maximum entries per get-entries response.
    #[arg(long, default_value_t = DEFAULT_PAGE_SIZE)]
    page_size: usize,
    /// Tree size of each log at start, in entries. At most 20, the size of the live log.
    #[arg(long, default_value_t = Growth::default().initial_size)]
    initial_size: u64,
    /// Entries added to each log per growth step. 0 keeps the initial size.
    #[arg(long, default_value_t = Growth::default().step)]
    step: u64,
    /// Time between growth steps, in milliseconds.
    #[arg(long, default_value_t = Growth::default().interval.as_millis() as u64)]
    interval_ms: u64,
    /// Seconds to serve the initial trees before growing, so clients can connect to a
    /// certstream server first (a server streams only what it reads after a client connects).
    #[arg(long, default_value_t = 0)]
    start_after_secs: u64,
    /// Serve the initial trees until the process receives SIGUSR1, then grow (overrides
    /// --start-after-secs). Benchmarks use it to connect every client before the first entry.
    #[arg(long)]
    start_on_sigusr1: bool,
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    telemetry::init_tracing(LogLevel::Info);
    match run(args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!(error = format!("{error:#}"), "Fake CT log failed");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: Args) -> anyhow::Result<()> {
    let growth = Growth {
        initial_size: args.initial_size,
        step: args.step,
        interval: Duration::from_millis(args.interval_ms),
    };
    let mut config = FakeLogConfig::with_growth(growth);
    config.port = args.port;
    config.page_size = args.page_size;

    let fake_log = FakeLog::start_paused(config).await?;
    fake_log.write_log_list(&args.log_list_out)?;
    let mut stdout = std::io::stdout();
    writeln!(stdout, "base_url={}", fake_log.base_url()).context("failed to write stdout")?;
    stdout.flush().context("failed to flush stdout")?;

    let stop = shutdown::on_signal();
    let mut start_signal =
        tokio::signal::unix::signal(tokio::signal::unix::SignalKind::user_defined1())
            .context("failed to listen for SIGUSR1")?;
    let start = async {
        if args.start_on_sigusr1 {
            start_signal.recv().await;
        } else {
            tokio::time::sleep(Duration::from_secs(args.start_after_secs)).await;
        }
    };
    tokio::select! {
        _ = stop.cancelled() => {}
        _ = start => {
            tracing::info!("Fake CT log growing");
            fake_log.start_growing();
            stop.cancelled().await;
        }
    }
    fake_log.shutdown().await?;
    tracing::info!("Fake CT log stopped");
    Ok(())
}
