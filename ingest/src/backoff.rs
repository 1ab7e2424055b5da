//! Retry delays of log requests and publishes: exponential with jitter, capped, and a circuit
//! breaker. After `ct_log_retry_max_attempts` failed attempts in a row the circuit opens for a
//! longer pause, then one trial request is sent (half-open): its failure opens the circuit again
//! at once, and a success closes it. A watcher never gives up but waits longer.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::time::Duration;

use certstream_shared::Settings;

/// Delay after the first failed attempt, doubled after each further failure.
const INITIAL_DELAY: Duration = Duration::from_millis(500);
/// Cap of the exponential delay.
const MAX_DELAY: Duration = Duration::from_secs(30);
/// Wait after `max_attempts` failures in a row, so a log that is down gets about one request
/// a minute.
const PAUSE: Duration = Duration::from_secs(60);
/// Cap of a log's `Retry-After`, so a bogus value cannot stop a watcher for days.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(600);

/// Retry schedule of one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts of one request before the longer pause.
    pub max_attempts: u32,
    pub initial_delay: Duration,
    pub max_delay: Duration,
    /// Wait after `max_attempts` failed attempts in a row.
    pub pause: Duration,
}

impl RetryPolicy {
    pub fn from_settings(settings: &Settings) -> Self {
        RetryPolicy {
            max_attempts: settings.ct_log_retry_max_attempts.get(),
            initial_delay: INITIAL_DELAY,
            max_delay: MAX_DELAY,
            pause: PAUSE,
        }
    }
}

/// The wait before the next attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryDelay {
    pub delay: Duration,
    /// Failed attempts of the current request, from 1.
    pub attempt: u32,
    /// Whether this is the longer pause after `max_attempts` failures.
    pub paused: bool,
}

/// Failure count of the current request.
#[derive(Debug)]
pub struct Backoff {
    policy: RetryPolicy,
    failures: u32,
    /// Whether the last delay was the pause, so the next attempt is the half-open trial.
    half_open: bool,
}

impl Backoff {
    pub fn new(policy: RetryPolicy) -> Self {
        Backoff {
            policy,
            failures: 0,
            half_open: false,
        }
    }

    /// Starts counting anew after a success.
    pub fn reset(&mut self) {
        self.failures = 0;
        self.half_open = false;
    }

    /// Whether the circuit is open or half-open: the last failure led to the pause, and no
    /// attempt has succeeded since.
    pub fn is_circuit_open(&self) -> bool {
        self.half_open
    }

    /// Records a failed attempt and returns the wait before the next one. A `retry_after` from
    /// the log raises the wait, up to ten minutes.
    pub fn next_delay(&mut self, retry_after: Option<Duration>) -> RetryDelay {
        self.failures += 1;
        let attempt = self.failures;
        let paused = self.half_open || attempt >= self.policy.max_attempts.max(1);
        let base = if paused {
            self.failures = 0;
            self.half_open = true;
            self.policy.pause
        } else {
            let doublings = (attempt - 1).min(16);
            self.policy
                .initial_delay
                .saturating_mul(1 << doublings)
                .min(self.policy.max_delay)
        };
        let mut delay = with_jitter(base);
        if let Some(requested) = retry_after {
            delay = delay.max(requested.min(MAX_RETRY_AFTER));
        }
        RetryDelay {
            delay,
            attempt,
            paused,
        }
    }
}

/// Returns a random duration between half of `base` and `base`, so watchers that failed
/// together do not retry together.
fn with_jitter(base: Duration) -> Duration {
    let half = base / 2;
    let spread = u64::try_from(half.as_micros()).unwrap_or(u64::MAX);
    if spread == 0 {
        return base;
    }
    half + Duration::from_micros(random_u64() % spread)
}

/// Returns a random number taken from the standard library's random hash seed, which is good
/// enough for jitter and needs no extra crate.
fn random_u64() -> u64 {
    let mut hasher = RandomState::new().build_hasher();
    hasher.write_u64(0);
    hasher.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> RetryPolicy {
        RetryPolicy {
            max_attempts: 3,
            initial_delay: Duration::from_millis(100),
            max_delay: Duration::from_millis(300),
            pause: Duration::from_secs(10),
        }
    }

    fn assert_between(delay: Duration, base: Duration) {
        assert!(delay >= base / 2, "{delay:?} below half of {base:?}");
        assert!(delay <= base, "{delay:?} above {base:?}");
    }

    #[test]
    fn delays_grow_then_pause() {
        let mut backoff = Backoff::new(policy());
        let first = backoff.next_delay(None);
        assert_eq!(first.attempt, 1);
        assert!(!first.paused);
        assert_between(first.delay, Duration::from_millis(100));

        let second = backoff.next_delay(None);
        assert_eq!(second.attempt, 2);
        assert_between(second.delay, Duration::from_millis(200));

        let third = backoff.next_delay(None);
        assert_eq!(third.attempt, 3);
        assert!(third.paused);
        assert_between(third.delay, Duration::from_secs(10));

        let failed_trial = backoff.next_delay(None);
        assert_eq!(failed_trial.attempt, 1);
        assert!(
            failed_trial.paused,
            "a failed half-open trial opens the circuit again"
        );
        assert_between(failed_trial.delay, Duration::from_secs(10));
    }

    #[test]
    fn success_after_pause_closes_circuit() {
        let mut backoff = Backoff::new(policy());
        for _ in 0..3 {
            backoff.next_delay(None);
        }
        assert!(backoff.is_circuit_open());
        backoff.reset();
        assert!(!backoff.is_circuit_open());
        let next = backoff.next_delay(None);
        assert_eq!(next.attempt, 1);
        assert!(!next.paused);
        assert_between(next.delay, Duration::from_millis(100));
    }

    #[test]
    fn delay_is_capped() {
        let mut backoff = Backoff::new(RetryPolicy {
            max_attempts: 40,
            ..policy()
        });
        for _ in 0..30 {
            let delay = backoff.next_delay(None);
            assert!(delay.delay <= Duration::from_millis(300), "{delay:?}");
        }
    }

    #[test]
    fn reset_restarts_count() {
        let mut backoff = Backoff::new(policy());
        backoff.next_delay(None);
        backoff.next_delay(None);
        backoff.reset();
        assert_eq!(backoff.next_delay(None).attempt, 1);
    }

    #[test]
    fn retry_after_raises_delay() {
        let mut backoff = Backoff::new(policy());
        let delay = backoff.next_delay(Some(Duration::from_secs(5)));
        assert_eq!(delay.delay, Duration::from_secs(5));
        let capped = backoff.next_delay(Some(Duration::from_secs(86_400)));
        assert_eq!(capped.delay, MAX_RETRY_AFTER);
    }

    #[test]
    fn single_attempt_pauses_at_once() {
        let mut backoff = Backoff::new(RetryPolicy {
            max_attempts: 1,
            ..policy()
        });
        assert!(backoff.next_delay(None).paused);
    }
}
