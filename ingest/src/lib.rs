//! Ingest: loads the CT log list, runs one watcher per followed log, publishes the logs' raw
//! entries to the bus and persists a cursor per log.
//!
//! - [`log_list`]: the list of logs and which of them to follow.
//! - [`rfc6962`] and [`static_ct`]: clients of the two read APIs, joined in [`log_client`];
//!   [`fetch`]: their HTTP requests. [`watcher`]: the per-log state machine.
//! - [`cursor`]: next index and highest tree size per log, in memory and in the state file.
//! - [`lease`]: which replica polls a log when several run on NATS.
//! - [`backoff`]: retry delays and the circuit breaker. [`politeness`]: request budgets per
//!   operator and the cap on concurrent entry fetches. [`metrics`]: Prometheus metrics. [`supervisor`]: the watcher set.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use certstream_shared::{Bus, Settings};

pub mod backoff;
pub mod cursor;
pub mod fetch;
pub mod lease;
pub mod log_client;
pub mod log_list;
pub mod metrics;
pub mod politeness;
pub mod rfc6962;
pub mod static_ct;
pub mod supervisor;
pub mod tree_head;
pub mod watcher;

use cursor::kv::KvCursors;
use cursor::{CursorError, CursorStore};
use lease::LeaseBucket;
use log_list::signature::{ListVerifier, SignatureError};
use log_list::{FollowedLog, LogList, LogListError, LogListSource, GOOGLE_LOG_LIST_URL};
use static_ct::issuers::IssuerCache;
use supervisor::{Supervisor, WatcherContext};

/// How often changed cursors are written to the state file while running.
const CURSOR_SAVE_INTERVAL: Duration = Duration::from_secs(1);

/// How often the bundled log list is replaced by a fresh download from Google.
const LOG_LIST_REFRESH_INTERVAL: Duration = Duration::from_secs(24 * 60 * 60);

/// Sources of the log list, the key of its signature, and the URL of a newer copy downloaded
/// while running.
#[derive(Debug, Clone)]
pub struct LogListPlan {
    pub source: LogListSource,
    /// A second list whose logs are added unless their `log_id` is already in `source`. It is
    /// loaded again at each refresh.
    pub extra: Option<LogListSource>,
    /// Key that the signature next to `source` and to each refreshed copy must verify with.
    pub verifier: Option<ListVerifier>,
    /// URL downloaded first right after startup and then every `refresh_interval`. A
    /// successful download replaces the list, and a failed one keeps the current list.
    pub refresh_url: Option<String>,
    pub refresh_interval: Duration,
}

impl LogListPlan {
    /// Builds the plan of the `log_list`, `log_list_extra` and `log_list_public_key` settings.
    /// Only the bundled list is refreshed, from Google's URL, and both are verified with
    /// Google's key by default. Fails when the key file is missing or invalid.
    pub fn from_settings(settings: &Settings) -> Result<Self, SignatureError> {
        let source = LogListSource::from_setting(settings.log_list.as_deref());
        let refresh_url = match source {
            LogListSource::Bundled => Some(GOOGLE_LOG_LIST_URL.to_string()),
            LogListSource::File(_) | LogListSource::Url(_) => None,
        };
        let extra = match settings.log_list_extra.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(text) => Some(LogListSource::from_setting(Some(text))),
        };
        // Google's own list (bundled, and refreshed from Google) is checked with Google's key
        // unless another key is configured.
        let verifier = match (&settings.log_list_public_key, &source) {
            (Some(path), _) => Some(ListVerifier::from_file(path)?),
            (None, LogListSource::Bundled) => Some(ListVerifier::google()),
            (None, _) => None,
        };
        Ok(LogListPlan {
            source,
            extra,
            verifier,
            refresh_url,
            refresh_interval: LOG_LIST_REFRESH_INTERVAL,
        })
    }

    /// Loads `source`, checks its signature and merges `extra` into it.
    async fn load(
        &self,
        source: &LogListSource,
        http: &reqwest::Client,
    ) -> Result<LogList, LogListError> {
        let mut list = source.load_verified(http, self.verifier.as_ref()).await?;
        if let Some(extra) = &self.extra {
            list.merge(extra.load(http).await?);
        }
        Ok(list)
    }
}

/// Runs ingest until `shutdown` is cancelled, then returns once every watcher has stopped and
/// the cursors are saved.
pub async fn run(settings: Settings, bus: Bus, shutdown: CancellationToken) -> anyhow::Result<()> {
    let plan = LogListPlan::from_settings(&settings)?;
    run_with_log_list(settings, bus, shutdown, plan).await
}

/// [`run`] with an explicit log list plan.
pub async fn run_with_log_list(
    settings: Settings,
    bus: Bus,
    shutdown: CancellationToken,
    plan: LogListPlan,
) -> anyhow::Result<()> {
    let timeout = Duration::from_secs(settings.ct_log_request_timeout_secs.get());
    let http = rfc6962::http_client(timeout).context("failed to build the HTTP client")?;
    let logs = load_followed_logs(&plan, &http).await?;
    let cursors = Arc::new(open_cursors(&settings, &bus).await?);
    let leases = open_leases(&settings, &bus).await?;
    tracing::info!(
        logs = logs.len(),
        log_list = %plan.source,
        log_list_extra = plan.extra.as_ref().map(ToString::to_string),
        log_list_signature_checked = plan.verifier.is_some(),
        state_file = ?cursors.path(),
        saved_cursors = cursors.len(),
        replica = leases.as_ref().map(LeaseBucket::replica_id),
        "Ingest started"
    );

    let context = WatcherContext {
        http: http.clone(),
        bus,
        cursors: Arc::clone(&cursors),
        config: watcher::WatcherConfig::from_settings(&settings),
        issuers: Arc::new(IssuerCache::new()),
        leases,
        politeness: Arc::new(politeness::PolitenessLimits::from_settings(&settings)),
    };
    let mut supervisor = Supervisor::new(context, shutdown.clone());
    supervisor.apply(logs).await;

    let saver = tokio::spawn(save_cursors_periodically(
        Arc::clone(&cursors),
        shutdown.clone(),
    ));
    let (mut refreshes, refresher) = match plan.refresh_url.clone() {
        Some(url) => {
            let (task, receiver) = spawn_log_list_refresh(http, url, plan, shutdown.clone());
            (Some(receiver), Some(task))
        }
        None => (None, None),
    };

    loop {
        tokio::select! {
            biased;
            _ = shutdown.cancelled() => break,
            logs = next_refreshed_list(&mut refreshes) => supervisor.apply(logs).await,
        }
    }

    tracing::info!("Ingest stopping");
    supervisor.stop_all().await;
    if let Some(refresher) = refresher {
        let _ = refresher.await;
    }
    let _ = saver.await;
    save_cursors(&cursors)
        .await
        .context("failed to save cursors at shutdown")?;
    tracing::info!(saved_cursors = cursors.len(), "Ingest stopped");
    Ok(())
}

/// Opens the cursor bucket on NATS, named after the raw stream, or else the state file. On NATS
/// a set state file receives a copy of the cursors but is not read.
async fn open_cursors(settings: &Settings, bus: &Bus) -> anyhow::Result<CursorStore> {
    match bus {
        Bus::Nats(nats) => {
            let bucket = format!("{}_CURSORS", settings.nats_raw_stream);
            let kv = KvCursors::open(nats.client().clone(), &bucket).await?;
            let copy = settings.ct_log_state_file.clone();
            Ok(CursorStore::open_bucket(kv, copy).await?)
        }
        Bus::Memory(_) => Ok(CursorStore::from_setting(
            settings.ct_log_state_file.clone(),
        )?),
    }
}

/// Opens the lease bucket on NATS, named after the raw stream, so that replicas sharing that
/// stream split the logs. Without NATS there is one process and no lease.
async fn open_leases(settings: &Settings, bus: &Bus) -> anyhow::Result<Option<LeaseBucket>> {
    match bus {
        Bus::Nats(nats) => {
            let bucket = format!("{}_LEASES", settings.nats_raw_stream);
            let replica_id = match settings.ingest_replica_id.as_deref().map(str::trim) {
                Some(id) if !id.is_empty() => id.to_string(),
                _ => lease::replica_id(),
            };
            let leases = LeaseBucket::open(nats.client().clone(), &bucket, replica_id).await?;
            Ok(Some(leases))
        }
        Bus::Memory(_) => Ok(None),
    }
}

async fn load_followed_logs(
    plan: &LogListPlan,
    http: &reqwest::Client,
) -> anyhow::Result<Vec<FollowedLog>> {
    let list = plan.load(&plan.source, http).await?;
    let logs = list.followed();
    if logs.is_empty() {
        anyhow::bail!(
            "log list {} contains no log in state usable, qualified or readonly",
            plan.source
        );
    }
    Ok(logs)
}

// === Cursor saving ===

async fn save_cursors_periodically(cursors: Arc<CursorStore>, shutdown: CancellationToken) {
    let mut ticker = tokio::time::interval(CURSOR_SAVE_INTERVAL);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            biased;
            _ = shutdown.cancelled() => break,
            _ = ticker.tick() => {
                if let Err(err) = save_cursors(&cursors).await {
                    tracing::warn!(error = %err, "Saving cursors failed, retrying in a second");
                }
            }
        }
    }
}

/// Writes changed cursors to the state file on the blocking thread pool.
async fn save_cursors(cursors: &Arc<CursorStore>) -> Result<bool, CursorError> {
    let cursors = Arc::clone(cursors);
    let path = cursors.path().map(|path| path.to_path_buf());
    tokio::task::spawn_blocking(move || cursors.save_if_dirty())
        .await
        .unwrap_or_else(|err| {
            Err(CursorError::Write {
                path: path.unwrap_or_default(),
                source: std::io::Error::other(err),
            })
        })
}

// === Log list refresh ===

fn spawn_log_list_refresh(
    http: reqwest::Client,
    url: String,
    plan: LogListPlan,
    shutdown: CancellationToken,
) -> (JoinHandle<()>, mpsc::Receiver<Vec<FollowedLog>>) {
    let (sender, receiver) = mpsc::channel(1);
    let interval = plan.refresh_interval;
    let task = tokio::spawn(async move {
        loop {
            let refreshed = tokio::select! {
                biased;
                _ = shutdown.cancelled() => return,
                refreshed = refresh_log_list(&http, &url, &plan) => refreshed,
            };
            if let Some(logs) = refreshed {
                if sender.send(logs).await.is_err() {
                    return;
                }
            }
            tokio::select! {
                biased;
                _ = shutdown.cancelled() => return,
                _ = tokio::time::sleep(interval) => {}
            }
        }
    });
    (task, receiver)
}

/// Downloads the list at `url`, checks and merges it as `plan` says and returns its followed
/// logs, or `None` after logging why the current list stays.
async fn refresh_log_list(
    http: &reqwest::Client,
    url: &str,
    plan: &LogListPlan,
) -> Option<Vec<FollowedLog>> {
    match plan.load(&LogListSource::Url(url.to_string()), http).await {
        Ok(list) => {
            let logs = list.followed();
            if logs.is_empty() {
                tracing::warn!(url = %url, "Downloaded log list follows no log, keeping the current list");
                return None;
            }
            tracing::info!(url = %url, logs = logs.len(), "Log list refreshed");
            Some(logs)
        }
        Err(err) => {
            tracing::warn!(url = %url, error = %err, "Log list refresh failed, keeping the current list");
            None
        }
    }
}

/// Waits for the next refreshed list, forever when there is no refresh.
async fn next_refreshed_list(
    refreshes: &mut Option<mpsc::Receiver<Vec<FollowedLog>>>,
) -> Vec<FollowedLog> {
    if let Some(receiver) = refreshes {
        if let Some(logs) = receiver.recv().await {
            return logs;
        }
        *refreshes = None;
    }
    std::future::pending().await
}
