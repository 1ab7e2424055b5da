//! The set of running watchers, one per followed log, keyed by log URL. Applying a new log list
//! starts watchers for added logs and stops those of removed logs.
//!
//! On NATS each log's task first acquires the log's lease ([`crate::lease`]) and runs the
//! watcher only while it holds it. This module does not load lists or save cursors, because the
//! crate root does both.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use certstream_shared::Bus;

use crate::cursor::kv::cursor_key;
use crate::cursor::CursorStore;
use crate::lease::{Lease, LeaseBucket, LeaseError, RENEW_INTERVAL};
use crate::log_client::LogClient;
use crate::log_list::FollowedLog;
use crate::metrics::WatcherMetrics;
use crate::politeness::PolitenessLimits;
use crate::static_ct::issuers::IssuerCache;
use crate::watcher::{Watcher, WatcherConfig};

/// Settings and handles shared by every watcher.
#[derive(Clone)]
pub struct WatcherContext {
    pub http: reqwest::Client,
    pub bus: Bus,
    pub cursors: Arc<CursorStore>,
    pub config: WatcherConfig,
    /// Issuer certificates of every Static CT log.
    pub issuers: Arc<IssuerCache>,
    /// The lease bucket on NATS. `None` runs every watcher without a lease.
    pub leases: Option<LeaseBucket>,
    /// Request budgets per operator and the cap on concurrent entry fetches.
    pub politeness: Arc<PolitenessLimits>,
}

struct RunningWatcher {
    stop: CancellationToken,
    task: JoinHandle<()>,
}

/// Running watchers.
pub struct Supervisor {
    context: WatcherContext,
    /// Parent of every watcher's token, cancelled at shutdown.
    shutdown: CancellationToken,
    watchers: HashMap<String, RunningWatcher>,
}

impl Supervisor {
    pub fn new(context: WatcherContext, shutdown: CancellationToken) -> Self {
        Supervisor {
            context,
            shutdown,
            watchers: HashMap::new(),
        }
    }

    /// Number of running watchers.
    pub fn len(&self) -> usize {
        self.watchers.len()
    }

    pub fn is_empty(&self) -> bool {
        self.watchers.is_empty()
    }

    /// Makes the running watchers match `logs`: starts one for each new URL and stops those
    /// whose URL is gone. A log already watched keeps its watcher and id.
    pub async fn apply(&mut self, logs: Vec<FollowedLog>) {
        let listed: HashSet<&str> = logs.iter().map(|log| log.source.url.as_str()).collect();

        let removed: Vec<String> = self
            .watchers
            .keys()
            .filter(|url| !listed.contains(url.as_str()))
            .cloned()
            .collect();
        for url in removed {
            if let Some(watcher) = self.watchers.remove(&url) {
                tracing::info!(url = %url, "Log no longer in the log list, stopping its watcher");
                stop_and_wait(&url, watcher).await;
            }
        }

        for log in logs {
            if !self.watchers.contains_key(&log.source.url) {
                self.start(log);
            }
        }
    }

    /// Stops every watcher and waits until all have returned.
    pub async fn stop_all(&mut self) {
        for watcher in self.watchers.values() {
            watcher.stop.cancel();
        }
        for (url, watcher) in self.watchers.drain() {
            stop_and_wait(&url, watcher).await;
        }
    }

    /// Starts the watcher of `log`, or logs why its client cannot be built and skips it until
    /// the next list.
    fn start(&mut self, log: FollowedLog) {
        let client = match LogClient::new(&log, self.context.http.clone(), &self.context.issuers) {
            Ok(client) => client,
            Err(err) => {
                tracing::error!(log_id = %log.source.id, url = %log.source.url, error = %err, "Log not followed");
                return;
            }
        };
        let stop = self.shutdown.child_token();
        let url = log.source.url.clone();
        let factory = WatcherFactory {
            log,
            client,
            context: self.context.clone(),
        };
        let task = match self.context.leases.clone() {
            Some(leases) => {
                let span =
                    tracing::info_span!("lease", log_id = %factory.log.source.id, url = %url);
                tokio::spawn(run_with_lease(leases, factory, stop.clone()).instrument(span))
            }
            None => tokio::spawn(factory.build().run(stop.clone())),
        };
        self.watchers.insert(url, RunningWatcher { stop, task });
    }
}

/// Everything needed to build a log's watcher again after each lease acquisition.
struct WatcherFactory {
    log: FollowedLog,
    client: LogClient,
    context: WatcherContext,
}

impl WatcherFactory {
    /// Builds the watcher, resuming from the cursor currently in the store.
    fn build(&self) -> Watcher {
        Watcher::new(
            self.log.source.clone(),
            self.client.clone(),
            self.context.bus.clone(),
            Arc::clone(&self.context.cursors),
            self.context.config,
        )
        .with_politeness(self.context.politeness.for_operator(&self.log.operator))
    }
}

/// Reason a replica stopped holding a lease.
enum HoldOutcome {
    /// The supervisor stopped the log, and the lease is still held.
    Stopped(Lease),
    /// The lease was taken over, expired or could not be renewed in time.
    Lost,
}

/// Runs the watcher of one log whenever this replica holds the log's lease, until `stop`.
async fn run_with_lease(leases: LeaseBucket, factory: WatcherFactory, stop: CancellationToken) {
    let url = factory.log.source.url.clone();
    let key = cursor_key(&url);
    let metrics = WatcherMetrics::for_log(&factory.log.source.id);
    loop {
        let Some(lease) = acquire(&leases, &key, &stop).await else {
            return;
        };
        if let Err(err) = factory.context.cursors.reload(&url).await {
            tracing::warn!(error = %err, "Reading the cursor after acquiring the lease failed, releasing the lease");
            release(&leases, lease).await;
            if sleep_or_stop(RENEW_INTERVAL, &stop).await {
                return;
            }
            continue;
        }
        tracing::info!(replica = %leases.replica_id(), "Lease acquired");
        metrics.lease_held.set(1);

        let watcher_stop = stop.child_token();
        let watcher = tokio::spawn(factory.build().run(watcher_stop.clone()));
        let outcome = hold(&leases, lease, &stop).await;
        // Cancelled before waiting, so the watcher publishes nothing more once the lease is gone.
        watcher_stop.cancel();
        if let Err(err) = watcher.await {
            tracing::error!(error = %err, "Watcher task failed");
        }
        metrics.lease_held.set(0);

        match outcome {
            HoldOutcome::Stopped(lease) => {
                release(&leases, lease).await;
                tracing::info!("Lease released");
                return;
            }
            HoldOutcome::Lost => {
                tracing::warn!("Lease lost, watcher stopped");
                if sleep_or_stop(RENEW_INTERVAL, &stop).await {
                    return;
                }
            }
        }
    }
}

/// Tries to acquire the lease `key` every [`RENEW_INTERVAL`] until it succeeds or `stop` is
/// cancelled.
async fn acquire(leases: &LeaseBucket, key: &str, stop: &CancellationToken) -> Option<Lease> {
    loop {
        let attempt = tokio::select! {
            biased;
            _ = stop.cancelled() => return None,
            attempt = leases.try_acquire(key) => attempt,
        };
        match attempt {
            Ok(Some(lease)) => return Some(lease),
            Ok(None) => tracing::debug!(key = %key, "Lease held by another replica"),
            Err(err) => tracing::warn!(error = %err, "Acquiring a lease failed, retrying"),
        }
        if sleep_or_stop(RENEW_INTERVAL, stop).await {
            return None;
        }
    }
}

/// Renews `lease` every [`RENEW_INTERVAL`] until `stop` is cancelled or the lease is lost. A
/// failed renewal is retried until the lease's local deadline, which counts as a loss.
async fn hold(leases: &LeaseBucket, mut lease: Lease, stop: &CancellationToken) -> HoldOutcome {
    loop {
        let deadline = lease.valid_until();
        tokio::select! {
            biased;
            _ = stop.cancelled() => return HoldOutcome::Stopped(lease),
            _ = tokio::time::sleep_until(deadline) => return HoldOutcome::Lost,
            _ = tokio::time::sleep(RENEW_INTERVAL) => {}
        }
        let renewed = tokio::select! {
            biased;
            _ = stop.cancelled() => None,
            _ = tokio::time::sleep_until(deadline) => return HoldOutcome::Lost,
            renewed = leases.renew(&mut lease) => Some(renewed),
        };
        let Some(renewed) = renewed else {
            return HoldOutcome::Stopped(lease);
        };
        match renewed {
            Ok(()) => {}
            Err(err @ LeaseError::Lost { .. }) => {
                tracing::warn!(error = %err, "Lease renewal rejected");
                return HoldOutcome::Lost;
            }
            Err(err) => tracing::warn!(error = %err, "Renewing a lease failed, retrying"),
        }
    }
}

async fn release(leases: &LeaseBucket, lease: Lease) {
    if let Err(err) = leases.release(lease).await {
        tracing::warn!(error = %err, "Releasing a lease failed, it expires by itself");
    }
}

/// Sleeps for `delay`, and returns whether `stop` was cancelled meanwhile.
async fn sleep_or_stop(delay: std::time::Duration, stop: &CancellationToken) -> bool {
    tokio::select! {
        biased;
        _ = stop.cancelled() => true,
        _ = tokio::time::sleep(delay) => false,
    }
}

async fn stop_and_wait(url: &str, watcher: RunningWatcher) {
    watcher.stop.cancel();
    if let Err(err) = watcher.task.await {
        tracing::error!(url = %url, error = %err, "Watcher task failed");
    }
}
