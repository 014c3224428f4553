//! What a window of time adds up to for one service: counts, bytes, busy time, tokens, and the latency
//! histograms; and the last hour as sixty one-minute tallies, so old minutes fall away without a scan of
//! every request.

use std::collections::VecDeque;
use std::time::Duration;

use app::api::{Quantiles, UsageTally};

use super::histogram::Histogram;

/// One proxied request, as the proxy saw it.
#[derive(Clone, Debug, Default)]
pub struct Call {
    pub bytes_in: u64,
    pub bytes_out: u64,
    /// The service answered 5xx, or the request to it failed.
    pub error: bool,
    /// The request had to wait for the service to start.
    pub cold_start: bool,
    /// From the request sent to the service until its first body byte, and until its last.
    pub first_byte: Option<Duration>,
    pub took: Option<Duration>,
    /// `usage.prompt_tokens` and `usage.completion_tokens` when the answer reported them.
    pub tokens: Option<(u64, u64)>,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub(super) struct Tally {
    requests: u64,
    errors: u64,
    bytes_in: u64,
    bytes_out: u64,
    busy: Duration,
    cold_starts: u64,
    prompt_tokens: u64,
    completion_tokens: u64,
    latency: Histogram,
    first_byte: Histogram,
}

impl Tally {
    pub fn add(&mut self, call: &Call) {
        self.requests += 1;
        self.errors += u64::from(call.error);
        self.bytes_in += call.bytes_in;
        self.bytes_out += call.bytes_out;
        self.cold_starts += u64::from(call.cold_start);
        if let Some((prompt, completion)) = call.tokens {
            self.prompt_tokens += prompt;
            self.completion_tokens += completion;
        }
        if let Some(took) = call.took {
            self.latency.record(took);
        }
        if let Some(first) = call.first_byte {
            self.first_byte.record(first);
        }
    }

    pub fn add_busy(&mut self, busy: Duration) {
        self.busy += busy;
    }

    pub fn merge(&mut self, other: &Tally) {
        self.requests += other.requests;
        self.errors += other.errors;
        self.bytes_in += other.bytes_in;
        self.bytes_out += other.bytes_out;
        self.busy += other.busy;
        self.cold_starts += other.cold_starts;
        self.prompt_tokens += other.prompt_tokens;
        self.completion_tokens += other.completion_tokens;
        self.latency.merge(&other.latency);
        self.first_byte.merge(&other.first_byte);
    }

    pub fn view(&self) -> UsageTally {
        let quantiles = |h: &Histogram| Quantiles {
            p50: h.quantile(0.5),
            p95: h.quantile(0.95),
        };
        UsageTally {
            requests: self.requests,
            errors: self.errors,
            bytes_in: self.bytes_in,
            bytes_out: self.bytes_out,
            busy_seconds: self.busy.as_secs_f64(),
            cold_starts: self.cold_starts,
            prompt_tokens: self.prompt_tokens,
            completion_tokens: self.completion_tokens,
            latency_seconds: quantiles(&self.latency),
            time_to_first_byte_seconds: quantiles(&self.first_byte),
        }
    }
}

/// The last sixty minutes, one tally per minute (numbered from the server's start).
#[derive(Clone, Debug, Default)]
pub(super) struct LastHour {
    minutes: VecDeque<(u64, Tally)>,
}

impl LastHour {
    /// The tally of minute `minute`, made if needed; minutes older than an hour are dropped.
    pub fn at(&mut self, minute: u64) -> &mut Tally {
        while self.minutes.front().is_some_and(|(m, _)| *m + 60 <= minute) {
            self.minutes.pop_front();
        }
        if self.minutes.back().is_none_or(|(m, _)| *m != minute) {
            self.minutes.push_back((minute, Tally::default()));
        }
        &mut self.minutes.back_mut().expect("just pushed").1
    }

    /// Everything in the sixty minutes up to and including `minute`.
    pub fn sum(&self, minute: u64) -> Tally {
        let mut sum = Tally::default();
        for (_, tally) in self.minutes.iter().filter(|(m, _)| *m + 60 > minute) {
            sum.merge(tally);
        }
        sum
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(ms: u64) -> Call {
        Call {
            bytes_in: 10,
            bytes_out: 100,
            took: Some(Duration::from_millis(ms)),
            first_byte: Some(Duration::from_millis(ms / 2)),
            tokens: Some((3, 7)),
            ..Call::default()
        }
    }

    #[test]
    fn a_tally_counts_what_its_calls_carried() {
        let mut t = Tally::default();
        t.add(&call(100));
        t.add(&Call {
            error: true,
            cold_start: true,
            ..Call::default()
        });
        t.add_busy(Duration::from_millis(1500));
        let v = t.view();
        assert_eq!((v.requests, v.errors, v.cold_starts), (2, 1, 1));
        assert_eq!((v.bytes_in, v.bytes_out), (10, 100));
        assert_eq!((v.prompt_tokens, v.completion_tokens), (3, 7));
        assert_eq!(v.busy_seconds, 1.5);
        let p50 = v.latency_seconds.p50.unwrap();
        assert!((p50 - 0.1).abs() < 0.005, "{p50}");
    }

    #[test]
    fn the_last_hour_forgets_older_minutes() {
        let mut hour = LastHour::default();
        hour.at(0).add(&call(10));
        hour.at(30).add(&call(10));
        hour.at(30).add(&call(10));
        assert_eq!(hour.sum(30).view().requests, 3);
        assert_eq!(
            hour.sum(60).view().requests,
            2,
            "minute 0 is over an hour old"
        );
        hour.at(95).add(&call(10));
        assert_eq!(hour.sum(95).view().requests, 1);
        assert_eq!(hour.minutes.len(), 1);
    }
}
