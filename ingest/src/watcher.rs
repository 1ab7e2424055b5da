//! The watcher of one log, RFC 6962 or Static CT: a small state machine that polls the tree
//! head, fetches the new entries page by page (or tile by tile), publishes each page to the bus
//! and only then advances the log's cursor.
//!
//! Errors never stop a watcher, which retries with [`Backoff`] until shutdown. A tree head smaller
//! than the highest one seen is ignored, so entries are never streamed twice because of it.

use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use certstream_shared::raw::{unix_now, LogSource, RawBatch, RawEntry};
use certstream_shared::{Bus, Settings};

use crate::backoff::{Backoff, RetryPolicy};
use crate::cursor::{start_index, Cursor, CursorStore};
use crate::fetch::FetchError;
use crate::log_client::LogClient;
use crate::metrics::{ErrorKind, WatcherMetrics};
use crate::politeness::Politeness;

/// Timing and paging of a watcher.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WatcherConfig {
    /// Pause between two `get-sth` requests once the watcher has caught up.
    pub poll_interval: Duration,
    /// Maximum entries requested per `get-entries` call. Static CT logs are read one data tile
    /// (up to 256 entries) at a time instead.
    pub batch_size: u64,
    /// Entries before the head at which a log without a saved cursor starts.
    pub backfill_entries: u64,
    pub retry: RetryPolicy,
}

impl WatcherConfig {
    pub fn from_settings(settings: &Settings) -> Self {
        WatcherConfig {
            poll_interval: Duration::from_millis(settings.ct_log_poll_interval_ms.get()),
            batch_size: settings.ct_log_batch_size.get(),
            backfill_entries: settings.ct_log_backfill_entries,
            retry: RetryPolicy::from_settings(settings),
        }
    }
}

/// Polls one log and publishes its entries.
pub struct Watcher {
    log: LogSource,
    client: LogClient,
    bus: Bus,
    cursors: Arc<CursorStore>,
    config: WatcherConfig,
    metrics: WatcherMetrics,
    politeness: Politeness,
    backoff: Backoff,
    /// `None` until the first tree head of a log without a saved cursor.
    cursor: Option<Cursor>,
    /// Next index when this watcher started or first placed its cursor, the base of the coverage
    /// ratio.
    start_index: Option<u64>,
    /// The last smaller tree size reported, so a log stuck on an old head logs one warning
    /// instead of one per poll.
    last_rollback: Option<u64>,
}

/// Next step of a watcher.
enum State {
    /// Request the signed tree head.
    PollHead,
    /// Request the next page of entries below the highest tree size seen.
    FetchEntries,
    /// Publish a received page. The cursor moves once the bus has stored it.
    Publish(RawBatch),
    /// Write the cursor to the key-value bucket after a publish, before fetching more.
    PersistCursor,
    /// Sleep, then continue with `then`.
    Wait { delay: Duration, then: Box<State> },
}

impl Watcher {
    /// Creates the watcher of `log`, read through `client`, resuming from its cursor in
    /// `cursors` if there is one.
    pub fn new(
        log: LogSource,
        client: LogClient,
        bus: Bus,
        cursors: Arc<CursorStore>,
        config: WatcherConfig,
    ) -> Self {
        let metrics = WatcherMetrics::for_log(&log.id);
        let cursor = cursors.get(&log.url);
        let start_index = cursor.map(|cursor| cursor.next_index);
        if let Some(cursor) = cursor {
            metrics.record_position(cursor.next_index, cursor.tree_size, cursor.next_index);
        }
        Watcher {
            log,
            client,
            bus,
            cursors,
            config,
            metrics,
            politeness: Politeness::default(),
            backoff: Backoff::new(config.retry),
            cursor,
            start_index,
            last_rollback: None,
        }
    }

    /// Makes the watcher obey the request budget of its operator and the shared cap on entry
    /// fetches.
    pub fn with_politeness(mut self, politeness: Politeness) -> Self {
        self.politeness = politeness;
        self
    }

    /// Runs until `shutdown` is cancelled. A request or publish in flight is abandoned then, and
    /// the cursor keeps covering only what the bus has stored.
    pub async fn run(self, shutdown: CancellationToken) {
        let span = tracing::info_span!("watcher", log_id = %self.log.id, url = %self.log.url);
        self.run_loop(shutdown).instrument(span).await;
    }

    async fn run_loop(mut self, shutdown: CancellationToken) {
        tracing::info!(next_index = ?self.cursor.map(|c| c.next_index), "Watcher started");
        let mut state = State::PollHead;
        loop {
            state = tokio::select! {
                biased;
                _ = shutdown.cancelled() => break,
                next = self.step(state) => next,
            };
        }
        tracing::info!(next_index = ?self.cursor.map(|c| c.next_index), "Watcher stopped");
    }

    async fn step(&mut self, state: State) -> State {
        match state {
            State::PollHead => self.poll_head().await,
            State::FetchEntries => self.fetch_entries().await,
            State::Publish(batch) => self.publish(batch).await,
            State::PersistCursor => self.persist_cursor().await,
            State::Wait { delay, then } => {
                tokio::time::sleep(delay).await;
                *then
            }
        }
    }

    async fn poll_head(&mut self) -> State {
        self.politeness.before_request().await;
        match self.client.tree_size().await {
            Ok(tree_size) => {
                self.close_circuit();
                self.observe_tree_size(tree_size);
                self.next_after_progress()
            }
            Err(err) => self.retry_after_fetch_error(State::PollHead, &err),
        }
    }

    async fn fetch_entries(&mut self) -> State {
        let Some(cursor) = self.cursor else {
            return State::PollHead;
        };
        if cursor.next_index >= cursor.tree_size {
            return self.next_after_progress();
        }
        let start = cursor.next_index;
        let slot = self.politeness.before_fetch().await;
        let fetched = self
            .client
            .entries(start, cursor.tree_size, self.config.batch_size)
            .await;
        drop(slot);
        match fetched {
            Ok(entries) if entries.is_empty() => {
                let wait = self.backoff.next_delay(None);
                tracing::warn!(
                    start,
                    tree_size = cursor.tree_size,
                    attempt = wait.attempt,
                    delay_ms = wait.delay.as_millis(),
                    "Log returned no entries, retrying"
                );
                wait_then(wait.delay, State::FetchEntries)
            }
            Ok(entries) => {
                self.close_circuit();
                tracing::debug!(start, received = entries.len(), "Entries received");
                State::Publish(self.batch(entries))
            }
            Err(err) => self.retry_after_fetch_error(State::FetchEntries, &err),
        }
    }

    async fn publish(&mut self, batch: RawBatch) -> State {
        match self.bus.publish_raw(batch.clone()).await {
            Ok(()) => {
                self.backoff.reset();
                self.advance_past(&batch);
                if self.cursors.has_bucket() {
                    State::PersistCursor
                } else {
                    self.next_after_progress()
                }
            }
            Err(err) => {
                self.metrics.error(ErrorKind::Publish).inc();
                let wait = self.backoff.next_delay(None);
                tracing::warn!(
                    first_index = batch.first_index(),
                    last_index = batch.last_index(),
                    attempt = wait.attempt,
                    delay_ms = wait.delay.as_millis(),
                    error = %err,
                    "Publishing batch failed, retrying the same batch"
                );
                wait_then(wait.delay, State::Publish(batch))
            }
        }
    }

    /// Writes the cursor to the bucket, so a restart after a crash repeats at most the last
    /// batch. A failed write is retried, and no new entries are fetched until it succeeds.
    async fn persist_cursor(&mut self) -> State {
        let Some(cursor) = self.cursor else {
            return self.next_after_progress();
        };
        match self.cursors.persist(&self.log.url, cursor).await {
            Ok(()) => self.next_after_progress(),
            Err(err) => {
                self.metrics.error(ErrorKind::CursorSave).inc();
                let wait = self.backoff.next_delay(None);
                tracing::warn!(
                    next_index = cursor.next_index,
                    attempt = wait.attempt,
                    delay_ms = wait.delay.as_millis(),
                    error = %err,
                    "Saving the cursor failed, retrying"
                );
                wait_then(wait.delay, State::PersistCursor)
            }
        }
    }

    /// Records a tree head: a first head sets the start position of a log without a cursor, a
    /// larger one raises the target, and a smaller one is counted and ignored.
    fn observe_tree_size(&mut self, tree_size: u64) {
        let Some(mut cursor) = self.cursor else {
            let next_index = start_index(tree_size, self.config.backfill_entries);
            tracing::info!(
                tree_size,
                next_index,
                "No saved cursor, starting near the head"
            );
            self.save_cursor(Cursor {
                next_index,
                tree_size,
            });
            return;
        };
        if tree_size < cursor.tree_size {
            self.record_rollback(tree_size, cursor.tree_size);
            return;
        }
        self.last_rollback = None;
        if tree_size > cursor.tree_size {
            cursor.tree_size = tree_size;
            self.save_cursor(cursor);
        }
    }

    fn record_rollback(&mut self, tree_size: u64, highest: u64) {
        self.metrics.error(ErrorKind::Rollback).inc();
        if self.last_rollback == Some(tree_size) {
            tracing::debug!(
                tree_size,
                highest,
                "Tree head still smaller than before, ignored"
            );
        } else {
            tracing::warn!(
                tree_size,
                highest,
                "Tree head smaller than one seen before, ignored"
            );
        }
        self.last_rollback = Some(tree_size);
    }

    /// Moves the cursor past a batch the bus has stored.
    fn advance_past(&mut self, batch: &RawBatch) {
        let (Some(mut cursor), Some(last_index)) = (self.cursor, batch.last_index()) else {
            return;
        };
        cursor.next_index = last_index + 1;
        cursor.tree_size = cursor.tree_size.max(cursor.next_index);
        self.metrics
            .entries_published
            .inc_by(batch.entries.len() as u64);
        self.save_cursor(cursor);
    }

    fn save_cursor(&mut self, cursor: Cursor) {
        self.cursor = Some(cursor);
        self.cursors.set(&self.log.url, cursor);
        let start_index = *self.start_index.get_or_insert(cursor.next_index);
        self.metrics
            .record_position(cursor.next_index, cursor.tree_size, start_index);
    }

    /// Fetches more entries when the log is ahead, else waits for the next poll.
    fn next_after_progress(&self) -> State {
        match self.cursor {
            Some(cursor) if cursor.next_index < cursor.tree_size => State::FetchEntries,
            _ => wait_then(self.config.poll_interval, State::PollHead),
        }
    }

    fn retry_after_fetch_error(&mut self, then: State, err: &FetchError) -> State {
        self.metrics.error(err.kind()).inc();
        let wait = self.backoff.next_delay(err.retry_after());
        if wait.paused {
            self.metrics.circuit_open.set(1);
            tracing::warn!(
                attempt = wait.attempt,
                delay_ms = wait.delay.as_millis(),
                error = %err,
                "Log request failed repeatedly, circuit open, pausing"
            );
        } else {
            tracing::warn!(
                attempt = wait.attempt,
                delay_ms = wait.delay.as_millis(),
                error = %err,
                "Log request failed, retrying"
            );
        }
        wait_then(wait.delay, then)
    }

    /// Resets the backoff after a successful log request and closes the circuit if it was open.
    fn close_circuit(&mut self) {
        if self.backoff.is_circuit_open() {
            tracing::info!("Log request succeeded, circuit closed");
        }
        self.backoff.reset();
        self.metrics.circuit_open.set(0);
    }

    fn batch(&self, entries: Vec<RawEntry>) -> RawBatch {
        RawBatch {
            log: self.log.clone(),
            seen: unix_now(),
            entries,
        }
    }
}

fn wait_then(delay: Duration, then: State) -> State {
    State::Wait {
        delay,
        then: Box::new(then),
    }
}
