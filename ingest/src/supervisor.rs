//! The set of running watchers, one per followed log, keyed by log URL. Applying a new log list
//! starts watchers for added logs and stops those of removed logs.
//!
//! This module does not load lists or save cursors, because the crate root does both.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use certstream_shared::Bus;

use crate::cursor::CursorStore;
use crate::log_client::LogClient;
use crate::log_list::FollowedLog;
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
        let watcher = Watcher::new(
            log.source.clone(),
            client,
            self.context.bus.clone(),
            Arc::clone(&self.context.cursors),
            self.context.config,
        );
        let task = tokio::spawn(watcher.run(stop.clone()));
        self.watchers
            .insert(log.source.url, RunningWatcher { stop, task });
    }
}

async fn stop_and_wait(url: &str, watcher: RunningWatcher) {
    watcher.stop.cancel();
    if let Err(err) = watcher.task.await {
        tracing::error!(url = %url, error = %err, "Watcher task failed");
    }
}
