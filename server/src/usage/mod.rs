//! How each model service is used through the proxy: requests, errors, bytes each way, busy time, cold
//! starts, latency and time to first byte (p50, p95), and the tokens OpenAI-compatible answers report; since
//! the server started and over the last hour. Read as JSON at `GET /api/v1/stats` and as Prometheus series
//! in `/metrics`.
//!
//! - `tally.rs`: what a window adds up to, and the last hour as one-minute tallies.
//! - `histogram.rs`: latencies in logarithmic buckets, for quantiles in fixed memory.
//! - `tokens.rs`: the `usage` of an answer, read as it streams past.

mod histogram;
mod tally;
mod tokens;

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime};

use app::api::{ServiceStats, StatsResponse};

pub use tally::Call;
use tally::{LastHour, Tally};
pub(crate) use tokens::TokenCounter;

pub struct Usage {
    started: Instant,
    started_at: SystemTime,
    services: Mutex<BTreeMap<String, ServiceUsage>>,
}

#[derive(Default)]
struct ServiceUsage {
    total: Tally,
    hour: LastHour,
    in_flight: u32,
    /// Since when at least one request has been in flight.
    busy_since: Option<Instant>,
}

impl Default for Usage {
    fn default() -> Usage {
        Usage {
            started: Instant::now(),
            started_at: SystemTime::now(),
            services: Mutex::default(),
        }
    }
}

/// Held while a request to the service is in flight; the service is busy while any is held.
pub struct InFlight {
    usage: Arc<Usage>,
    service: String,
}

impl Drop for InFlight {
    fn drop(&mut self) {
        let now = Instant::now();
        let minute = self.usage.minute(now);
        let mut services = self.usage.services();
        let Some(s) = services.get_mut(&self.service) else {
            return;
        };
        s.in_flight = s.in_flight.saturating_sub(1);
        if s.in_flight == 0 {
            if let Some(since) = s.busy_since.take() {
                let busy = now - since;
                s.total.add_busy(busy);
                s.hour.at(minute).add_busy(busy);
            }
        }
    }
}

impl Usage {
    fn services(&self) -> MutexGuard<'_, BTreeMap<String, ServiceUsage>> {
        self.services.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn minute(&self, at: Instant) -> u64 {
        at.saturating_duration_since(self.started).as_secs() / 60
    }

    /// Lists `ids` with nothing counted yet, so every declared service shows from the start.
    pub fn register<'a>(&self, ids: impl IntoIterator<Item = &'a str>) {
        let mut services = self.services();
        for id in ids {
            services.entry(id.to_string()).or_default();
        }
    }

    /// A request to `service` begins.
    pub fn begin(self: &Arc<Self>, service: &str) -> InFlight {
        let mut services = self.services();
        let s = services.entry(service.to_string()).or_default();
        s.in_flight += 1;
        s.busy_since.get_or_insert_with(Instant::now);
        InFlight {
            usage: self.clone(),
            service: service.to_string(),
        }
    }

    /// A request to `service` ended, carrying `call`.
    pub fn record(&self, service: &str, call: &Call) {
        let minute = self.minute(Instant::now());
        let mut services = self.services();
        let s = services.entry(service.to_string()).or_default();
        s.total.add(call);
        s.hour.at(minute).add(call);
    }

    /// Every service's use since the start and in the last hour, the busy time in progress included.
    pub fn stats(&self) -> StatsResponse {
        let now = Instant::now();
        let minute = self.minute(now);
        let services = self.services();
        let stats = services
            .iter()
            .map(|(id, s)| {
                let ongoing = s.busy_since.map_or(Duration::ZERO, |t| now - t);
                let mut total = s.total.clone();
                total.add_busy(ongoing);
                let mut hour = s.hour.sum(minute);
                hour.add_busy(ongoing.min(Duration::from_secs(3600)));
                ServiceStats {
                    id: id.clone(),
                    since_start: total.view(),
                    last_hour: hour.view(),
                }
            })
            .collect();
        StatsResponse {
            since: humantime::format_rfc3339_seconds(self.started_at).to_string(),
            uptime_seconds: now.duration_since(self.started).as_secs_f64(),
            services: stats,
        }
    }

    /// The same since the start, as Prometheus series.
    pub fn render(&self, out: &mut String) {
        let stats = self.stats();
        let mut series =
            |name: &str, kind: &str, help: &str, value: &dyn Fn(&ServiceStats) -> String| {
                let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
                for s in &stats.services {
                    let _ = writeln!(out, "{name}{{service=\"{}\"}} {}", s.id, value(s));
                }
            };
        series(
            "tsuzuki_proxy_requests_total",
            "counter",
            "Requests proxied to the service.",
            &|s| s.since_start.requests.to_string(),
        );
        series(
            "tsuzuki_proxy_errors_total",
            "counter",
            "Proxied requests the service answered with 5xx, or that failed.",
            &|s| s.since_start.errors.to_string(),
        );
        series(
            "tsuzuki_proxy_busy_seconds_total",
            "counter",
            "Seconds with at least one request to the service in flight.",
            &|s| s.since_start.busy_seconds.to_string(),
        );
        series(
            "tsuzuki_proxy_cold_starts_total",
            "counter",
            "Proxied requests that waited for the service to start.",
            &|s| s.since_start.cold_starts.to_string(),
        );
        render_pairs(out, &stats);
    }
}

/// The series with a second label: bytes by direction, tokens by kind, latencies by quantile.
fn render_pairs(out: &mut String, stats: &StatsResponse) {
    type Value = (&'static str, fn(&ServiceStats) -> Option<f64>);
    let families: [(&str, &str, &str, &str, [Value; 2]); 4] = [
        (
            "tsuzuki_proxy_bytes_total",
            "counter",
            "Body bytes to (in) and from (out) the service.",
            "direction",
            [
                ("in", |s| Some(s.since_start.bytes_in as f64)),
                ("out", |s| Some(s.since_start.bytes_out as f64)),
            ],
        ),
        (
            "tsuzuki_tokens_total",
            "counter",
            "Tokens the service reported in OpenAI-compatible answers.",
            "kind",
            [
                ("prompt", |s| Some(s.since_start.prompt_tokens as f64)),
                ("completion", |s| {
                    Some(s.since_start.completion_tokens as f64)
                }),
            ],
        ),
        (
            "tsuzuki_upstream_latency_seconds",
            "gauge",
            "From sending a request to the service to its answer's last byte, since start.",
            "quantile",
            [
                ("0.5", |s| s.since_start.latency_seconds.p50),
                ("0.95", |s| s.since_start.latency_seconds.p95),
            ],
        ),
        (
            "tsuzuki_time_to_first_byte_seconds",
            "gauge",
            "From sending a request to the service to its answer's first body byte, since start.",
            "quantile",
            [
                ("0.5", |s| s.since_start.time_to_first_byte_seconds.p50),
                ("0.95", |s| s.since_start.time_to_first_byte_seconds.p95),
            ],
        ),
    ];
    for (name, kind, help, label, values) in families {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
        for s in &stats.services {
            for (word, value) in &values {
                let value = value(s).map_or("NaN".to_string(), |v| v.to_string());
                let _ = writeln!(
                    out,
                    "{name}{{service=\"{}\",{label}=\"{word}\"}} {value}",
                    s.id
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn busy_time_counts_overlapping_requests_once() {
        let usage = Arc::new(Usage::default());
        let a = usage.begin("s");
        std::thread::sleep(Duration::from_millis(30));
        let b = usage.begin("s");
        drop(a);
        std::thread::sleep(Duration::from_millis(30));
        drop(b);
        let busy = usage.stats().services[0].since_start.busy_seconds;
        assert!((0.055..0.5).contains(&busy), "{busy}");
    }

    #[test]
    fn the_exposition_has_a_line_per_service_and_label() {
        let usage = Arc::new(Usage::default());
        usage.register(["idle"]);
        usage.record(
            "chat",
            &Call {
                bytes_in: 5,
                bytes_out: 50,
                tokens: Some((4, 2)),
                took: Some(Duration::from_millis(20)),
                first_byte: Some(Duration::from_millis(5)),
                ..Call::default()
            },
        );
        let mut text = String::new();
        usage.render(&mut text);
        for line in [
            "tsuzuki_proxy_requests_total{service=\"chat\"} 1",
            "tsuzuki_proxy_requests_total{service=\"idle\"} 0",
            "tsuzuki_proxy_bytes_total{service=\"chat\",direction=\"out\"} 50",
            "tsuzuki_tokens_total{service=\"chat\",kind=\"prompt\"} 4",
            "tsuzuki_upstream_latency_seconds{service=\"idle\",quantile=\"0.5\"} NaN",
        ] {
            assert!(text.lines().any(|l| l == line), "{line} not in\n{text}");
        }
    }
}
