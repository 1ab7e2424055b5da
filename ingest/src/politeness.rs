//! Limits on the requests ingest sends to CT logs, beyond each watcher's own backoff. Each log
//! operator has a request budget that all of its logs share. A cap on the entry fetches in
//! flight across all logs bounds the load while they catch up.
//!
//! The circuit breaker of each log lives in [`crate::backoff`].

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

use certstream_shared::Settings;

/// A token bucket that refills at `rate` tokens per second up to one second's worth, so an
/// operator gets at most `rate` requests in any second after a quiet period.
#[derive(Debug)]
pub struct TokenBucket {
    rate: f64,
    state: Mutex<BucketState>,
}

#[derive(Debug)]
struct BucketState {
    /// Tokens available now. Negative when requests are waiting for tokens that have not been
    /// added yet.
    tokens: f64,
    updated: Instant,
}

impl TokenBucket {
    /// Creates a full bucket.
    pub fn new(rate: NonZeroU32) -> Self {
        let rate = f64::from(rate.get());
        TokenBucket {
            rate,
            state: Mutex::new(BucketState {
                tokens: rate,
                updated: Instant::now(),
            }),
        }
    }

    /// Takes one token and returns how long the caller must wait before sending its request.
    /// Callers are served in the order they call, because a token taken in advance is never
    /// given back.
    pub fn reserve(&self) -> Duration {
        let mut state = self
            .state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let now = Instant::now();
        let elapsed = now.saturating_duration_since(state.updated).as_secs_f64();
        state.tokens = (state.tokens + elapsed * self.rate).min(self.rate);
        state.updated = now;
        state.tokens -= 1.0;
        if state.tokens >= 0.0 {
            Duration::ZERO
        } else {
            Duration::from_secs_f64(-state.tokens / self.rate)
        }
    }

    /// Waits until the caller may send one request.
    pub async fn acquire(&self) {
        let wait = self.reserve();
        if !wait.is_zero() {
            tokio::time::sleep(wait).await;
        }
    }
}

/// The shared limits, handed to each watcher as a [`Politeness`].
#[derive(Debug)]
pub struct PolitenessLimits {
    operator_rate: NonZeroU32,
    /// Budget per operator name, lowercased, because a merged log list can name one operator
    /// in two entries.
    budgets: Mutex<HashMap<String, Arc<TokenBucket>>>,
    fetch_slots: Arc<Semaphore>,
}

impl PolitenessLimits {
    /// Reads `ct_log_operator_requests_per_sec` and `ct_log_max_concurrent_fetches`.
    pub fn from_settings(settings: &Settings) -> Self {
        PolitenessLimits::new(
            settings.ct_log_operator_requests_per_sec,
            settings.ct_log_max_concurrent_fetches,
        )
    }

    pub fn new(operator_rate: NonZeroU32, max_concurrent_fetches: NonZeroU32) -> Self {
        let permits = usize::try_from(max_concurrent_fetches.get()).unwrap_or(usize::MAX);
        PolitenessLimits {
            operator_rate,
            budgets: Mutex::new(HashMap::new()),
            fetch_slots: Arc::new(Semaphore::new(permits.min(Semaphore::MAX_PERMITS))),
        }
    }

    /// Returns the limits of a log run by `operator`.
    pub fn for_operator(&self, operator: &str) -> Politeness {
        let mut budgets = self
            .budgets
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let budget = budgets
            .entry(operator.to_lowercase())
            .or_insert_with(|| Arc::new(TokenBucket::new(self.operator_rate)))
            .clone();
        Politeness {
            budget: Some(budget),
            fetch_slots: Some(Arc::clone(&self.fetch_slots)),
        }
    }
}

/// The limits one watcher obeys. The default has none.
#[derive(Debug, Clone, Default)]
pub struct Politeness {
    budget: Option<Arc<TokenBucket>>,
    fetch_slots: Option<Arc<Semaphore>>,
}

impl Politeness {
    /// Waits for the operator's budget before one request.
    pub async fn before_request(&self) {
        if let Some(budget) = &self.budget {
            budget.acquire().await;
        }
    }

    /// Waits for the operator's budget and a free entry fetch slot. The slot is held until the
    /// returned permit drops.
    pub async fn before_fetch(&self) -> Option<OwnedSemaphorePermit> {
        // NOTE: one token covers one entry fetch. A Static CT fetch that also downloads missing
        // issuer certificates sends more than one request for that token.
        self.before_request().await;
        match &self.fetch_slots {
            // Nothing closes the semaphore, so acquiring cannot fail.
            Some(slots) => Arc::clone(slots).acquire_owned().await.ok(),
            None => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rate(value: u32) -> NonZeroU32 {
        NonZeroU32::new(value).unwrap()
    }

    #[test]
    fn bucket_allows_burst_then_spaces_requests() {
        let bucket = TokenBucket::new(rate(10));
        for _ in 0..10 {
            assert_eq!(bucket.reserve(), Duration::ZERO);
        }
        let eleventh = bucket.reserve();
        assert!(eleventh > Duration::from_millis(80), "{eleventh:?}");
        assert!(eleventh <= Duration::from_millis(100), "{eleventh:?}");
        let twelfth = bucket.reserve();
        assert!(twelfth > Duration::from_millis(180), "{twelfth:?}");
        assert!(twelfth <= Duration::from_millis(200), "{twelfth:?}");
    }

    #[test]
    fn operators_share_budget_by_name() {
        let limits = PolitenessLimits::new(rate(1), rate(4));
        let first = limits.for_operator("Google");
        let second = limits.for_operator("google");
        let other = limits.for_operator("Cloudflare");
        let first_budget = first.budget.unwrap();
        assert!(Arc::ptr_eq(&first_budget, &second.budget.unwrap()));
        assert!(!Arc::ptr_eq(&first_budget, &other.budget.unwrap()));
    }

    #[tokio::test]
    async fn fetch_slots_cap_concurrency() {
        let limits = PolitenessLimits::new(rate(1000), rate(2));
        let politeness = limits.for_operator("Test");
        let first = politeness.before_fetch().await;
        let second = politeness.before_fetch().await;
        assert!(first.is_some());
        assert!(second.is_some());
        let third =
            tokio::time::timeout(Duration::from_millis(50), politeness.before_fetch()).await;
        assert!(
            third.is_err(),
            "a third fetch started while two were in flight"
        );
        drop(first);
        let third = tokio::time::timeout(Duration::from_secs(1), politeness.before_fetch()).await;
        assert!(third.is_ok(), "a freed slot was not handed on");
    }

    #[tokio::test]
    async fn default_politeness_never_waits() {
        let politeness = Politeness::default();
        for _ in 0..100 {
            politeness.before_request().await;
        }
        assert!(politeness.before_fetch().await.is_none());
    }
}
