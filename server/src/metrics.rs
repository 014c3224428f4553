//! Counters for `GET /metrics`, in Prometheus' text format. Written by hand on purpose: the `prometheus` and
//! `metrics-exporter-prometheus` crates bring registries, macros, an HTTP listener and dozens of dependencies
//! for what is here a dozen atomics and one `format!` per line.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::usage::Usage;

pub struct Metrics {
    segments_generated: AtomicU64,
    generation_micros: AtomicU64,
    backend_failures: AtomicU64,
    audio_bytes: AtomicU64,
    proxy_bytes: AtomicU64,
    /// The latest join's gain and residual in dB, as `f64` bits (no join yet: NaN).
    join_gain_db: AtomicU64,
    join_residual_db: AtomicU64,
    services: Mutex<BTreeMap<String, ServiceCounters>>,
    usage: Arc<Usage>,
}

#[derive(Clone, Default)]
struct ServiceCounters {
    starts: u64,
    stops: u64,
    start_failures: u64,
    cold_start_micros: u64,
}

/// The counters of segments and bytes, read together.
pub struct Totals {
    pub segments_generated: u64,
    pub generation_seconds: f64,
    pub backend_failures: u64,
    pub audio_bytes: u64,
    pub proxy_bytes: u64,
}

/// What a byte count was served as.
#[derive(Clone, Copy)]
pub enum Served {
    Audio,
    Proxy,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics {
            segments_generated: AtomicU64::default(),
            generation_micros: AtomicU64::default(),
            backend_failures: AtomicU64::default(),
            audio_bytes: AtomicU64::default(),
            proxy_bytes: AtomicU64::default(),
            join_gain_db: AtomicU64::new(f64::NAN.to_bits()),
            join_residual_db: AtomicU64::new(f64::NAN.to_bits()),
            services: Mutex::default(),
            usage: Arc::default(),
        }
    }
}

impl Metrics {
    /// Lists `services` with zero counts, so every configured service appears before its first start.
    pub fn register_services<'a>(&self, services: impl IntoIterator<Item = &'a str>) {
        let mut map = self.services();
        for id in services {
            map.entry(id.to_string()).or_default();
            self.usage.register([id]);
        }
    }

    /// The session counters, for OpenTelemetry's metrics.
    pub fn totals(&self) -> Totals {
        let load = |c: &AtomicU64| c.load(Ordering::Relaxed);
        Totals {
            segments_generated: load(&self.segments_generated),
            generation_seconds: load(&self.generation_micros) as f64 / 1e6,
            backend_failures: load(&self.backend_failures),
            audio_bytes: load(&self.audio_bytes),
            proxy_bytes: load(&self.proxy_bytes),
        }
    }

    /// How the services are used through the proxy.
    pub fn usage(&self) -> &Arc<Usage> {
        &self.usage
    }

    fn services(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, ServiceCounters>> {
        self.services.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A segment was made; `took` counts every attempt.
    pub fn segment_generated(&self, took: Duration) {
        self.segments_generated.fetch_add(1, Ordering::Relaxed);
        self.generation_micros
            .fetch_add(took.as_micros() as u64, Ordering::Relaxed);
    }

    /// A segment was joined to its predecessor at `gain_db`, leaving `residual_db`.
    pub fn joined(&self, gain_db: f64, residual_db: f64) {
        self.join_gain_db
            .store(gain_db.to_bits(), Ordering::Relaxed);
        self.join_residual_db
            .store(residual_db.to_bits(), Ordering::Relaxed);
    }

    /// One generation attempt failed.
    pub fn backend_failure(&self) {
        self.backend_failures.fetch_add(1, Ordering::Relaxed);
    }

    pub fn served(&self, kind: Served, bytes: u64) {
        let counter = match kind {
            Served::Audio => &self.audio_bytes,
            Served::Proxy => &self.proxy_bytes,
        };
        counter.fetch_add(bytes, Ordering::Relaxed);
    }

    /// A container became ready `cold_start` after the start was asked for.
    pub fn container_started(&self, service: &str, cold_start: Duration) {
        let mut map = self.services();
        let counters = map.entry(service.to_string()).or_default();
        counters.starts += 1;
        counters.cold_start_micros += cold_start.as_micros() as u64;
    }

    pub fn container_start_failed(&self, service: &str) {
        self.services()
            .entry(service.to_string())
            .or_default()
            .start_failures += 1;
    }

    pub fn container_stopped(&self, service: &str) {
        self.services()
            .entry(service.to_string())
            .or_default()
            .stops += 1;
    }

    /// The exposition text (version 0.0.4). Service ids are limited to `[a-z0-9_-]`, so labels need no escaping.
    pub fn render(&self) -> String {
        let mut out = String::new();
        self.render_sessions(&mut out);
        self.render_services(&mut out);
        self.usage.render(&mut out);
        out
    }

    fn render_sessions(&self, out: &mut String) {
        let load = |c: &AtomicU64| c.load(Ordering::Relaxed).to_string();
        family(
            out,
            "tsuzuki_segments_generated_total",
            "counter",
            "Segments generated.",
            &[(String::new(), load(&self.segments_generated))],
        );
        family(
            out,
            "tsuzuki_generation_seconds",
            "summary",
            "Time to generate a segment, all attempts included.",
            &[
                (
                    "_sum".into(),
                    seconds(self.generation_micros.load(Ordering::Relaxed)),
                ),
                ("_count".into(), load(&self.segments_generated)),
            ],
        );
        family(
            out,
            "tsuzuki_backend_failures_total",
            "counter",
            "Failed generation attempts.",
            &[(String::new(), load(&self.backend_failures))],
        );
        let gauge = |c: &AtomicU64| f64::from_bits(c.load(Ordering::Relaxed)).to_string();
        family(
            out,
            "tsuzuki_join_gain_db",
            "gauge",
            "Gain that matched the latest segment's overlap to what was heard, in dB (NaN before the first join).",
            &[(String::new(), gauge(&self.join_gain_db))],
        );
        family(
            out,
            "tsuzuki_join_residual_db",
            "gauge",
            "How much the model changed the latest overlap beyond a gain, in dB relative to it.",
            &[(String::new(), gauge(&self.join_residual_db))],
        );
        family(
            out,
            "tsuzuki_bytes_served_total",
            "counter",
            "Response body bytes sent: segment downloads and proxied service replies.",
            &[
                ("{kind=\"audio\"}".into(), load(&self.audio_bytes)),
                ("{kind=\"proxy\"}".into(), load(&self.proxy_bytes)),
            ],
        );
    }

    fn render_services(&self, out: &mut String) {
        let services = self.services().clone();
        let per_service = |f: &dyn Fn(&ServiceCounters) -> String, suffix: &str| {
            services
                .iter()
                .map(|(id, c)| (format!("{suffix}{{service=\"{id}\"}}"), f(c)))
                .collect::<Vec<_>>()
        };
        family(
            out,
            "tsuzuki_container_starts_total",
            "counter",
            "Model containers started and found healthy.",
            &per_service(&|c| c.starts.to_string(), ""),
        );
        family(
            out,
            "tsuzuki_container_start_failures_total",
            "counter",
            "Model container starts that failed.",
            &per_service(&|c| c.start_failures.to_string(), ""),
        );
        family(
            out,
            "tsuzuki_container_stops_total",
            "counter",
            "Model containers stopped and removed.",
            &per_service(&|c| c.stops.to_string(), ""),
        );
        let mut cold = per_service(&|c| seconds(c.cold_start_micros), "_sum");
        cold.extend(per_service(&|c| c.starts.to_string(), "_count"));
        family(
            out,
            "tsuzuki_cold_start_seconds",
            "summary",
            "From asking for a stopped service to its first healthy answer.",
            &cold,
        );
    }
}

/// Microseconds as Prometheus seconds.
fn seconds(micros: u64) -> String {
    (micros as f64 / 1e6).to_string()
}

/// One metric family: its help and type lines, then its samples (suffix and labels, value).
fn family(out: &mut String, name: &str, kind: &str, help: &str, samples: &[(String, String)]) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
    for (suffix_and_labels, value) in samples {
        let _ = writeln!(out, "{name}{suffix_and_labels} {value}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_exposition_lists_every_family_with_its_values() {
        let metrics = Metrics::default();
        metrics.register_services(["acestep", "idle"]);
        metrics.segment_generated(Duration::from_millis(1500));
        metrics.segment_generated(Duration::from_millis(500));
        metrics.backend_failure();
        metrics.served(Served::Audio, 100);
        metrics.served(Served::Proxy, 7);
        metrics.container_started("acestep", Duration::from_millis(250));
        metrics.container_stopped("acestep");
        assert!(metrics
            .render()
            .lines()
            .any(|l| l == "tsuzuki_join_gain_db NaN"));
        metrics.joined(-2.5, -90.0);
        let text = metrics.render();
        for line in [
            "# TYPE tsuzuki_segments_generated_total counter",
            "tsuzuki_segments_generated_total 2",
            "tsuzuki_generation_seconds_sum 2",
            "tsuzuki_generation_seconds_count 2",
            "tsuzuki_backend_failures_total 1",
            "tsuzuki_join_gain_db -2.5",
            "tsuzuki_join_residual_db -90",
            "tsuzuki_bytes_served_total{kind=\"audio\"} 100",
            "tsuzuki_bytes_served_total{kind=\"proxy\"} 7",
            "tsuzuki_container_starts_total{service=\"acestep\"} 1",
            "tsuzuki_container_starts_total{service=\"idle\"} 0",
            "tsuzuki_container_stops_total{service=\"acestep\"} 1",
            "tsuzuki_cold_start_seconds_sum{service=\"acestep\"} 0.25",
            "tsuzuki_cold_start_seconds_count{service=\"acestep\"} 1",
        ] {
            assert!(
                text.lines().any(|l| l == line),
                "missing {line:?} in\n{text}"
            );
        }
    }
}
