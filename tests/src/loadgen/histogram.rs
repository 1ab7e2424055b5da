//! A latency histogram that many client tasks record into at once without a lock.
//!
//! Buckets are log-linear: values below 128 get one bucket each, and every power of two above
//! that is split into 128 equal buckets, so a reported percentile is at most 1/128 (0.8 %) above
//! the true value. Values are microseconds; anything above 2^41 µs (about 25 days) lands in the
//! last bucket.

use std::sync::atomic::{AtomicU64, Ordering};

/// Bits of a value kept below its leading one bit.
const SUB_BUCKET_BITS: u32 = 7;
const SUB_BUCKETS: u64 = 1 << SUB_BUCKET_BITS;
/// Largest recorded value; larger values are clamped to it.
const MAX_VALUE: u64 = (1 << 41) - 1;

/// Counts of recorded values per bucket, plus the exact maximum.
pub struct Histogram {
    buckets: Vec<AtomicU64>,
    count: AtomicU64,
    max: AtomicU64,
}

impl Default for Histogram {
    fn default() -> Self {
        Self::new()
    }
}

impl Histogram {
    pub fn new() -> Self {
        let bucket_count = bucket_index(MAX_VALUE) + 1;
        Histogram {
            buckets: (0..bucket_count).map(|_| AtomicU64::new(0)).collect(),
            count: AtomicU64::new(0),
            max: AtomicU64::new(0),
        }
    }

    /// Records one value.
    pub fn record(&self, value: u64) {
        let value = value.min(MAX_VALUE);
        self.buckets[bucket_index(value)].fetch_add(1, Ordering::Relaxed);
        self.count.fetch_add(1, Ordering::Relaxed);
        self.max.fetch_max(value, Ordering::Relaxed);
    }

    /// Number of recorded values.
    pub fn count(&self) -> u64 {
        self.count.load(Ordering::Relaxed)
    }

    /// Exact largest recorded value, 0 when empty.
    pub fn max(&self) -> u64 {
        self.max.load(Ordering::Relaxed)
    }

    /// Returns the upper bound of the bucket that contains the value at `quantile` (0.0 to 1.0),
    /// capped at the exact maximum. Returns `None` when nothing was recorded.
    pub fn value_at_quantile(&self, quantile: f64) -> Option<u64> {
        let count = self.count();
        if count == 0 {
            return None;
        }
        let rank = ((quantile.clamp(0.0, 1.0) * count as f64).ceil() as u64).max(1);
        let mut cumulative = 0;
        for (index, bucket) in self.buckets.iter().enumerate() {
            cumulative += bucket.load(Ordering::Relaxed);
            if cumulative >= rank {
                return Some(bucket_upper_bound(index).min(self.max()));
            }
        }
        Some(self.max())
    }
}

fn bucket_index(value: u64) -> usize {
    if value < SUB_BUCKETS {
        return value as usize;
    }
    let exponent = 63 - value.leading_zeros();
    let shift = exponent - SUB_BUCKET_BITS;
    let mantissa = (value >> shift) - SUB_BUCKETS;
    (SUB_BUCKETS * (u64::from(shift) + 1) + mantissa) as usize
}

fn bucket_upper_bound(index: usize) -> u64 {
    let index = index as u64;
    if index < SUB_BUCKETS {
        return index;
    }
    let shift = index / SUB_BUCKETS - 1;
    let mantissa = index % SUB_BUCKETS;
    let lower = (SUB_BUCKETS + mantissa) << shift;
    lower + (1 << shift) - 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_bounds_contain_their_values() {
        for value in (0..5000).chain([MAX_VALUE - 1, MAX_VALUE]) {
            let index = bucket_index(value);
            let upper = bucket_upper_bound(index);
            assert!(upper >= value, "value {value}: upper bound {upper}");
            assert!(
                upper - value <= value / SUB_BUCKETS,
                "value {value}: upper bound {upper} is more than 1/128 above"
            );
            if index > 0 {
                assert!(
                    bucket_upper_bound(index - 1) < value,
                    "value {value} also fits bucket {}",
                    index - 1
                );
            }
        }
    }

    #[test]
    fn quantiles_of_uniform_values() {
        let histogram = Histogram::new();
        for value in 1..=1000 {
            histogram.record(value);
        }

        assert_eq!(histogram.count(), 1000);
        assert_eq!(histogram.max(), 1000);
        let p50 = histogram.value_at_quantile(0.5).unwrap();
        assert!((500..=504).contains(&p50), "p50 {p50}");
        let p99 = histogram.value_at_quantile(0.99).unwrap();
        assert!((990..=997).contains(&p99), "p99 {p99}");
        assert_eq!(histogram.value_at_quantile(1.0), Some(1000));
    }

    #[test]
    fn empty_histogram_has_no_quantiles() {
        let histogram = Histogram::new();

        assert_eq!(histogram.value_at_quantile(0.5), None);
        assert_eq!(histogram.max(), 0);
    }

    #[test]
    fn oversized_values_are_clamped() {
        let histogram = Histogram::new();
        histogram.record(u64::MAX);

        assert_eq!(histogram.max(), MAX_VALUE);
        assert_eq!(histogram.value_at_quantile(0.5), Some(MAX_VALUE));
    }
}
