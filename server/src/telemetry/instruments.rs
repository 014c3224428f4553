//! The OpenTelemetry metrics: the same figures as `/metrics`, read when the exporter collects them (no
//! second set of counters to keep in step).

use std::sync::Arc;

use app::api::UsageTally;
use opentelemetry::metrics::Meter;
use opentelemetry::KeyValue;

use crate::containers::Containers;
use crate::metrics::Metrics;

/// Registers the observable instruments on `meter`; the meter provider keeps them for its life.
pub(super) fn register(meter: &Meter, metrics: Arc<Metrics>, containers: Option<Containers>) {
    sessions(meter, &metrics);
    services(meter, metrics);
    if let Some(containers) = containers {
        gpus(meter, containers);
    }
}

fn sessions(meter: &Meter, metrics: &Arc<Metrics>) {
    let m = metrics.clone();
    meter
        .u64_observable_counter("tsuzuki.segments.generated")
        .with_description("Segments made, by the model or the synthesizer")
        .with_callback(move |o| o.observe(m.totals().segments_generated, &[]))
        .build();
    let m = metrics.clone();
    meter
        .f64_observable_counter("tsuzuki.generation.duration")
        .with_unit("s")
        .with_description("Time spent making segments, every attempt included")
        .with_callback(move |o| o.observe(m.totals().generation_seconds, &[]))
        .build();
    let m = metrics.clone();
    meter
        .u64_observable_counter("tsuzuki.backend.failures")
        .with_description("Failed generation attempts")
        .with_callback(move |o| o.observe(m.totals().backend_failures, &[]))
        .build();
    let m = metrics.clone();
    meter
        .u64_observable_counter("tsuzuki.served")
        .with_unit("By")
        .with_description("Bytes served: segments to listeners, answers through the proxy")
        .with_callback(move |o| {
            let totals = m.totals();
            o.observe(totals.audio_bytes, &[KeyValue::new("kind", "audio")]);
            o.observe(totals.proxy_bytes, &[KeyValue::new("kind", "proxy")]);
        })
        .build();
}

/// Reads one figure of a service's use.
type Read = fn(&UsageTally) -> u64;

/// Per service, since start: the statistics of `GET /api/v1/stats`.
fn services(meter: &Meter, metrics: Arc<Metrics>) {
    let each = move |read: Read| {
        let metrics = metrics.clone();
        move |o: &dyn opentelemetry::metrics::AsyncInstrument<u64>| {
            for service in metrics.usage().stats().services {
                let id = [KeyValue::new("service", service.id)];
                o.observe(read(&service.since_start), &id);
            }
        }
    };
    let counters: [(&str, &str, Read); 6] = [
        (
            "tsuzuki.service.requests",
            "Requests sent to the service",
            |t| t.requests,
        ),
        (
            "tsuzuki.service.errors",
            "Requests answered 5xx or failed on the way",
            |t| t.errors,
        ),
        (
            "tsuzuki.service.cold_starts",
            "Requests that waited for the service to start",
            |t| t.cold_starts,
        ),
        (
            "tsuzuki.service.bytes_in",
            "Request bytes sent to the service",
            |t| t.bytes_in,
        ),
        (
            "tsuzuki.service.prompt_tokens",
            "Prompt tokens the service reported",
            |t| t.prompt_tokens,
        ),
        (
            "tsuzuki.service.completion_tokens",
            "Completion tokens the service reported",
            |t| t.completion_tokens,
        ),
    ];
    for (name, description, read) in counters {
        meter
            .u64_observable_counter(name)
            .with_description(description)
            .with_callback(each(read))
            .build();
    }
}

/// Measured GPU memory and utilisation, where NVML is present.
fn gpus(meter: &Meter, containers: Containers) {
    let c = containers.clone();
    meter
        .f64_observable_gauge("tsuzuki.gpu.memory.used")
        .with_unit("GBy")
        .with_description("GPU memory in use, as NVML reads it")
        .with_callback(move |o| {
            for gpu in c.gpus().devices {
                let at = [KeyValue::new("gpu", i64::from(gpu.index))];
                o.observe(gpu.memory_used_gb, &at);
            }
        })
        .build();
    let c = containers.clone();
    meter
        .f64_observable_gauge("tsuzuki.gpu.memory.free")
        .with_unit("GBy")
        .with_description("GPU memory free, as NVML reads it")
        .with_callback(move |o| {
            for gpu in c.gpus().devices {
                let at = [KeyValue::new("gpu", i64::from(gpu.index))];
                o.observe(gpu.memory_free_gb, &at);
            }
        })
        .build();
    meter
        .u64_observable_gauge("tsuzuki.gpu.utilization")
        .with_unit("%")
        .with_description("GPU utilisation, as NVML reads it")
        .with_callback(move |o| {
            for gpu in containers.gpus().devices {
                if let Some(percent) = gpu.utilization_percent {
                    o.observe(
                        u64::from(percent),
                        &[KeyValue::new("gpu", i64::from(gpu.index))],
                    );
                }
            }
        })
        .build();
}
