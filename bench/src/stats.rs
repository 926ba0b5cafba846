//! Latency histograms with bounded memory and percentiles.
//!
//! Values are microseconds. Below 64 µs each value has its own bucket;
//! above, every power of two is split into 64 buckets, so a reported
//! percentile is within 1.6 % of the true sample (the maximum is exact).
//! Histograms of different clients merge by adding counts.

use serde::Serialize;

/// Sub-buckets per power of two (and the exact range below it).
const SUB: u64 = 64;
/// log2 of [`SUB`].
const SUB_BITS: u32 = 6;

/// A mergeable latency histogram.
#[derive(Debug, Clone, Default)]
pub struct Histogram {
    /// Counts per bucket; grown on demand.
    counts: Vec<u64>,
    /// Number of samples.
    total: u64,
    /// Largest sample.
    max: u64,
    /// Sum of samples, for the mean.
    sum: u128,
}

/// Percentiles of a histogram, in milliseconds, for reports.
#[derive(Debug, Clone, Copy, Default, Serialize, PartialEq)]
pub struct Summary {
    /// Number of samples.
    pub count: u64,
    /// Mean.
    pub mean_ms: f64,
    /// Median.
    pub p50_ms: f64,
    /// 90th percentile.
    pub p90_ms: f64,
    /// 99th percentile.
    pub p99_ms: f64,
    /// Largest sample.
    pub max_ms: f64,
}

fn bucket_of(v: u64) -> usize {
    if v < SUB {
        return v as usize;
    }
    let e = 63 - v.leading_zeros(); // >= SUB_BITS
    let m = (v >> (e - SUB_BITS)) - SUB; // 0..SUB
    (SUB + u64::from(e - SUB_BITS) * SUB + m) as usize
}

/// The largest value that falls into bucket `i` (percentiles round up,
/// so they never understate a latency).
fn bucket_high(i: usize) -> u64 {
    let i = i as u64;
    if i < SUB {
        return i;
    }
    let e = (i - SUB) / SUB + u64::from(SUB_BITS);
    let m = (i - SUB) % SUB;
    let low = (SUB + m) << (e - u64::from(SUB_BITS));
    low + (1u64 << (e - u64::from(SUB_BITS))) - 1
}

impl Histogram {
    /// An empty histogram.
    pub fn new() -> Histogram {
        Histogram::default()
    }

    /// Records one sample (microseconds).
    pub fn record(&mut self, micros: u64) {
        let i = bucket_of(micros);
        if i >= self.counts.len() {
            self.counts.resize(i + 1, 0);
        }
        self.counts[i] += 1;
        self.total += 1;
        self.max = self.max.max(micros);
        self.sum += u128::from(micros);
    }

    /// Records a duration.
    pub fn record_duration(&mut self, d: std::time::Duration) {
        self.record(u64::try_from(d.as_micros()).unwrap_or(u64::MAX));
    }

    /// Adds another histogram's samples.
    pub fn merge(&mut self, other: &Histogram) {
        if other.counts.len() > self.counts.len() {
            self.counts.resize(other.counts.len(), 0);
        }
        for (a, b) in self.counts.iter_mut().zip(&other.counts) {
            *a += b;
        }
        self.total += other.total;
        self.max = self.max.max(other.max);
        self.sum += other.sum;
    }

    /// The `p`-th percentile (0 < p ≤ 100) in microseconds: the smallest
    /// bucket bound with at least `p` % of the samples at or below it,
    /// capped at the exact maximum. 0 when empty.
    pub fn percentile(&self, p: f64) -> u64 {
        if self.total == 0 {
            return 0;
        }
        let rank = ((p / 100.0) * self.total as f64).ceil().max(1.0) as u64;
        let mut seen = 0;
        for (i, c) in self.counts.iter().enumerate() {
            seen += c;
            if seen >= rank {
                return bucket_high(i).min(self.max);
            }
        }
        self.max
    }

    /// Mean, p50, p90, p99 and max, in milliseconds.
    pub fn summary(&self) -> Summary {
        let ms = |us: u64| us as f64 / 1000.0;
        Summary {
            count: self.total,
            mean_ms: if self.total == 0 {
                0.0
            } else {
                self.sum as f64 / self.total as f64 / 1000.0
            },
            p50_ms: ms(self.percentile(50.0)),
            p90_ms: ms(self.percentile(90.0)),
            p99_ms: ms(self.percentile(99.0)),
            max_ms: ms(self.max),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_monotonic_and_tight() {
        let mut last = 0;
        for v in (0..200_000u64).chain([1 << 30, u64::MAX / 2]) {
            let i = bucket_of(v);
            assert!(i >= last, "bucket order at {v}");
            last = i;
            let high = bucket_high(i);
            assert!(high >= v, "{v} above its bucket bound {high}");
            assert!(
                (high - v) as f64 <= v as f64 / 60.0 + 1.0,
                "bucket of {v} too wide"
            );
        }
    }

    #[test]
    fn percentiles_of_a_uniform_sample() {
        let mut h = Histogram::new();
        for v in 1..=1000 {
            h.record(v);
        }
        assert_eq!(h.summary().count, 1000);
        let p50 = h.percentile(50.0);
        assert!((500..=510).contains(&p50), "p50 {p50}");
        let p99 = h.percentile(99.0);
        assert!((990..=1000).contains(&p99), "p99 {p99}");
        assert_eq!(h.percentile(100.0), 1000);
        assert_eq!(h.summary().max_ms, 1.0);
    }

    #[test]
    fn merging_adds_samples() {
        let mut a = Histogram::new();
        let mut b = Histogram::new();
        a.record(10);
        b.record(100_000);
        a.merge(&b);
        assert_eq!(a.summary().count, 2);
        assert_eq!(a.percentile(100.0), 100_000);
        assert_eq!(a.percentile(50.0), 10);
        assert_eq!(Histogram::new().percentile(99.0), 0);
    }
}
