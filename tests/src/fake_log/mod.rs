//! A fake Certificate Transparency log server for end-to-end tests.
//!
//! One HTTP server on 127.0.0.1 serves several logs under path prefixes (`/live/`,
//! `/navigli/` over RFC 6962, `/navigli-static/` over the Static CT API), each filled from a
//! committed fixture and growing over time with a freshly signed tree head at every step. It also writes a Google v3 log list that points at
//! itself. Expected client output for the served entries is in [`crate::expected`].

mod config;
mod entries;
mod http;
mod log_list;
mod merkle;
mod signer;
mod static_ct;
mod static_http;
mod tree;

use std::future::IntoFuture;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use futures::future::join_all;
use time::OffsetDateTime;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

pub use config::{ConfigError, FakeLogConfig, Growth, LogFixture, LogSpec, DEFAULT_PAGE_SIZE};
pub use merkle::{leaf_hash, root_hash, Hash};
pub use signer::{note_key_id, tree_head_signature_input, P256_SPKI_PREFIX};
pub use static_ct::TileError;
pub use static_http::{checkpoint_text, parse_tile_path};
pub use tree::SignedTreeHead;

use entries::LogEntries;
use tree::LogState;

/// Time the server gets to finish in-flight requests after [`FakeLog::shutdown`].
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// A running fake CT log server. Dropping it stops the server and the growth tasks.
pub struct FakeLog {
    address: SocketAddr,
    logs: Vec<Arc<LogState>>,
    started: OffsetDateTime,
    shutdown: CancellationToken,
    server: JoinHandle<std::io::Result<()>>,
    /// Whether the growth tasks were started.
    growing: AtomicBool,
}

impl FakeLog {
    /// Loads the fixtures, binds 127.0.0.1 on `config.port` and starts serving and growing.
    pub async fn start(config: FakeLogConfig) -> anyhow::Result<FakeLog> {
        let fake = Self::start_paused(config).await?;
        fake.start_growing();
        Ok(fake)
    }

    /// Like [`FakeLog::start`], but the trees stay at their initial size until
    /// [`FakeLog::start_growing`] is called, so a test can connect its clients first.
    pub async fn start_paused(config: FakeLogConfig) -> anyhow::Result<FakeLog> {
        config.validate()?;
        let logs = load_logs(&config)?;
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, config.port))
            .await
            .with_context(|| format!("failed to bind 127.0.0.1:{}", config.port))?;
        let address = listener
            .local_addr()
            .context("failed to read the bound address")?;

        let shutdown = CancellationToken::new();
        let app = http::router(
            &logs,
            config.page_size,
            config.partial_tiles,
            &address.to_string(),
        );
        let server = tokio::spawn(
            axum::serve(listener, app)
                .with_graceful_shutdown(shutdown.clone().cancelled_owned())
                .into_future(),
        );
        tracing::info!(address = %address, logs = logs.len(), "Fake CT log listening");

        Ok(FakeLog {
            address,
            logs,
            started: OffsetDateTime::now_utc(),
            shutdown,
            server,
            growing: AtomicBool::new(false),
        })
    }

    /// Starts growing every log; later calls do nothing.
    pub fn start_growing(&self) {
        if self.growing.swap(true, Ordering::SeqCst) {
            return;
        }
        for log in &self.logs {
            tokio::spawn(log.clone().grow(self.shutdown.clone()));
        }
    }

    /// Returns the server URL without a trailing slash, for example `http://127.0.0.1:41234`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.address)
    }

    /// Returns the URL of one log as the log list publishes it, with a trailing slash.
    pub fn log_url(&self, log: LogFixture) -> String {
        format!("{}/{}/", self.base_url(), log.name())
    }

    /// Writes a Google v3 log list naming every served log to `path`.
    pub fn write_log_list(&self, path: &Path) -> anyhow::Result<()> {
        log_list::write_log_list(path, &self.logs, &self.base_url(), self.started)
    }

    /// Returns the current tree size of `log`, or `None` if the server does not serve it.
    pub fn tree_size(&self, log: LogFixture) -> Option<u64> {
        self.log(log).map(|state| state.head().tree_size)
    }

    /// Returns the current signed tree head of `log`, or `None` if the server does not serve it.
    pub fn tree_head(&self, log: LogFixture) -> Option<Arc<SignedTreeHead>> {
        self.log(log).map(|state| state.head())
    }

    /// Returns the number of fixture entries of `log` (its final tree size), or `None` if the
    /// server does not serve it.
    pub fn log_entries(&self, log: LogFixture) -> Option<u64> {
        self.log(log).map(|state| state.total_entries())
    }

    /// Returns the number of fixture entries over all served logs (1044 for live and navigli).
    pub fn total_entries(&self) -> u64 {
        self.logs.iter().map(|state| state.total_entries()).sum()
    }

    /// Returns whether every served log has all of its fixture entries in its tree.
    pub fn is_fully_grown(&self) -> bool {
        self.logs
            .iter()
            .all(|state| state.head().tree_size == state.total_entries())
    }

    /// Waits until every served log is fully grown. Fails after `timeout` with the tree sizes
    /// reached, or at once if a log does not grow at all (growth step 0 below the full size).
    pub async fn wait_fully_grown(&self, timeout: Duration) -> anyhow::Result<()> {
        if let Some(stuck) = self.logs.iter().find(|state| !state.will_be_full()) {
            anyhow::bail!(
                "log {} has growth step 0 and stays at {} of {} entries",
                stuck.fixture.name(),
                stuck.head().tree_size,
                stuck.total_entries()
            );
        }
        let waits = self.logs.iter().map(|state| wait_log_grown(state));
        match tokio::time::timeout(timeout, join_all(waits)).await {
            Ok(_) => Ok(()),
            Err(_) => anyhow::bail!(
                "timed out after {timeout:?} waiting for the fake logs to grow: {}",
                self.size_summary()
            ),
        }
    }

    /// Stops the server and the growth tasks, and waits up to 5 seconds for in-flight requests.
    pub async fn shutdown(mut self) -> anyhow::Result<()> {
        self.shutdown.cancel();
        let server = &mut self.server;
        match tokio::time::timeout(SHUTDOWN_GRACE, server).await {
            Ok(joined) => joined
                .context("fake CT log server task failed")?
                .context("fake CT log server failed"),
            Err(_) => {
                tracing::warn!(grace = ?SHUTDOWN_GRACE, "Fake CT log server did not stop in time");
                self.server.abort();
                Ok(())
            }
        }
    }

    fn log(&self, log: LogFixture) -> Option<&Arc<LogState>> {
        self.logs.iter().find(|state| state.fixture == log)
    }

    fn size_summary(&self) -> String {
        let sizes: Vec<String> = self
            .logs
            .iter()
            .map(|state| {
                let name = state.fixture.name();
                format!(
                    "{name} {}/{}",
                    state.head().tree_size,
                    state.total_entries()
                )
            })
            .collect();
        sizes.join(", ")
    }
}

impl Drop for FakeLog {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

fn load_logs(config: &FakeLogConfig) -> anyhow::Result<Vec<Arc<LogState>>> {
    let mut logs = Vec::new();
    for spec in &config.logs {
        let name = spec.fixture.name();
        let entries = LogEntries::load(spec.fixture)
            .with_context(|| format!("failed to load the fixture of log {name}"))?;
        let state = LogState::new(spec.fixture, entries, spec.growth)
            .with_context(|| format!("failed to set up log {name}"))?;
        logs.push(Arc::new(state));
    }
    Ok(logs)
}

/// Waits until the tree of `state` contains every entry. The sender lives in `state`, so the channel cannot
/// close while this borrows it.
async fn wait_log_grown(state: &LogState) {
    let total = state.total_entries();
    let mut heads = state.subscribe();
    let _ = heads.wait_for(|head| head.tree_size == total).await;
}

#[cfg(test)]
mod tests;
