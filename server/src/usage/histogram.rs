//! Durations in logarithmic buckets, eight per doubling (each about 9 % wide), from 0.1 ms to about 2 h:
//! a fixed 200-odd counters per histogram whatever the traffic, merged by adding, with quantiles accurate
//! to half a bucket. Enough to tell a p95 of 80 ms from one of 120 ms, which is what a reader of the stats
//! asks.

use std::time::Duration;

const PER_DOUBLING: f64 = 8.0;
const SMALLEST: f64 = 1e-4;
const BUCKETS: usize = 210;

#[derive(Clone, Debug, PartialEq)]
pub(super) struct Histogram {
    counts: Vec<u64>,
    total: u64,
}

impl Default for Histogram {
    fn default() -> Histogram {
        Histogram {
            counts: vec![0; BUCKETS],
            total: 0,
        }
    }
}

impl Histogram {
    pub fn record(&mut self, value: Duration) {
        self.counts[bucket(value.as_secs_f64())] += 1;
        self.total += 1;
    }

    pub fn merge(&mut self, other: &Histogram) {
        for (mine, theirs) in self.counts.iter_mut().zip(&other.counts) {
            *mine += theirs;
        }
        self.total += other.total;
    }

    /// The `q` quantile in seconds (the middle of its bucket, geometrically); `None` with no samples.
    pub fn quantile(&self, q: f64) -> Option<f64> {
        if self.total == 0 {
            return None;
        }
        // The rank of the sample that is the quantile, 1-based, as "nearest rank" defines it.
        let rank = ((q * self.total as f64).ceil() as u64).clamp(1, self.total);
        let mut seen = 0;
        for (i, count) in self.counts.iter().enumerate() {
            seen += count;
            if seen >= rank {
                return Some(middle(i));
            }
        }
        None
    }
}

fn bucket(seconds: f64) -> usize {
    // NaN lands here too.
    if seconds.is_nan() || seconds <= SMALLEST {
        return 0;
    }
    let index = ((seconds / SMALLEST).log2() * PER_DOUBLING).floor() as usize + 1;
    index.min(BUCKETS - 1)
}

fn middle(index: usize) -> f64 {
    if index == 0 {
        return SMALLEST / 2.0;
    }
    SMALLEST * ((index as f64 - 0.5) / PER_DOUBLING).exp2()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(v: f64) -> Duration {
        Duration::from_secs_f64(v / 1000.0)
    }

    #[test]
    fn quantiles_are_within_half_a_bucket() {
        let mut h = Histogram::default();
        for i in 1..=100 {
            h.record(ms(f64::from(i)));
        }
        let p50 = h.quantile(0.5).unwrap() * 1000.0;
        let p95 = h.quantile(0.95).unwrap() * 1000.0;
        assert!((p50 / 50.0 - 1.0).abs() < 0.05, "{p50}");
        assert!((p95 / 95.0 - 1.0).abs() < 0.05, "{p95}");
        assert_eq!(Histogram::default().quantile(0.5), None);
    }

    #[test]
    fn merging_adds_and_extremes_land_in_the_end_buckets() {
        let (mut a, mut b) = (Histogram::default(), Histogram::default());
        a.record(ms(10.0));
        b.record(ms(1000.0));
        b.record(Duration::ZERO);
        b.record(Duration::from_secs(1_000_000));
        a.merge(&b);
        assert_eq!(a.total, 4);
        assert!(a.quantile(0.0).unwrap() < 1e-4);
        assert!(a.quantile(1.0).unwrap() > 3600.0);
    }
}
