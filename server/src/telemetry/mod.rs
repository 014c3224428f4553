//! What the server tells about itself: log lines on the terminal always; with an OTLP endpoint also traces,
//! metrics and logs to an OpenTelemetry collector (OTLP/HTTP, protobuf). Without one, no OpenTelemetry layer
//! is installed: spans cost what they cost any subscriber, nothing is buffered or sent.
//!
//! The trace of a Play: the request's span (`POST /session/start`), under it the session, its segments,
//! their attempts and each call to the model; proxied calls under the request that made them. Container
//! starts and stops are traces of their own: one start serves every request that waits for it.

mod client;
mod context;
mod instruments;
mod request;

use std::sync::Arc;

use opentelemetry::global;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry::KeyValue;
use opentelemetry_appender_tracing::layer::OpenTelemetryTracingBridge;
use opentelemetry_otlp::{
    LogExporter, MetricExporter, Protocol, SpanExporter, WithExportConfig, WithHttpConfig,
};
use opentelemetry_sdk::logs::SdkLoggerProvider;
use opentelemetry_sdk::metrics::SdkMeterProvider;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use opentelemetry_sdk::Resource;
use tracing_subscriber::filter::{filter_fn, EnvFilter};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::Layer;

use crate::config::TelemetryConfig;
use crate::containers::Containers;
use crate::metrics::Metrics;
use client::RuntimeClient;
pub(crate) use context::{follow, send_in};
pub use request::span as request_span;

/// What is logged when `RUST_LOG` says nothing.
const DEFAULT_FILTER: &str = "info,tower_http=warn";

/// The installed exporters; [`Telemetry::shutdown`] sends what they still hold.
pub struct Telemetry {
    export: Option<Export>,
}

struct Export {
    traces: SdkTracerProvider,
    metrics: SdkMeterProvider,
    logs: SdkLoggerProvider,
}

/// Installs the global subscriber: the terminal, and the collector when `config` names one. Call once,
/// inside the tokio runtime: the exporters send their batches on it.
pub fn init(config: &TelemetryConfig) -> Result<Telemetry, String> {
    let export = match &config.otlp_endpoint {
        Some(endpoint) => Some(Export::new(endpoint)?),
        None => None,
    };
    let collector = export.as_ref().map(|export| {
        let traces = tracing_opentelemetry::layer().with_tracer(export.traces.tracer("tsuzuki"));
        // The exporters' own warnings go to the terminal only: exported, a failing export would feed itself.
        let logs = OpenTelemetryTracingBridge::new(&export.logs).with_filter(filter_fn(|meta| {
            !["opentelemetry", "hyper", "reqwest", "h2"]
                .iter()
                .any(|quiet| meta.target().starts_with(quiet))
        }));
        traces.and_then(logs)
    });
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| DEFAULT_FILTER.into());
    tracing_subscriber::registry()
        .with(filter)
        .with(tracing_subscriber::fmt::layer())
        .with(collector)
        .try_init()
        .map_err(|e| format!("cannot install the log subscriber: {e}"))?;
    if let Some(endpoint) = &config.otlp_endpoint {
        tracing::info!(
            endpoint,
            "sending traces, metrics and logs to the OpenTelemetry collector"
        );
    }
    Ok(Telemetry { export })
}

impl Telemetry {
    /// Exports the server's metrics from now on (a no-op without a collector).
    pub fn observe(&self, metrics: Arc<Metrics>, containers: Option<Containers>) {
        if let Some(export) = &self.export {
            let meter = opentelemetry::metrics::MeterProvider::meter(&export.metrics, "tsuzuki");
            instruments::register(&meter, metrics, containers);
        }
    }

    /// Sends what is still buffered, then stops the exporters.
    pub async fn shutdown(self) {
        if let Some(export) = self.export {
            // Flushing blocks until the batches are sent, and they are sent on this runtime.
            let _ = tokio::task::spawn_blocking(move || export.shutdown()).await;
        }
    }
}

impl Export {
    fn new(endpoint: &str) -> Result<Export, String> {
        let failed =
            |signal: &str, e: &dyn std::fmt::Display| format!("OpenTelemetry {signal}: {e}");
        let client = RuntimeClient::here(reqwest::Client::new())
            .ok_or_else(|| failed("export", &"needs the tokio runtime"))?;
        let resource = Resource::builder()
            .with_service_name("tsuzuki")
            .with_attribute(KeyValue::new("service.version", env!("CARGO_PKG_VERSION")))
            .build();
        let spans = SpanExporter::builder()
            .with_http()
            .with_http_client(client.clone())
            .with_protocol(Protocol::HttpBinary)
            .with_endpoint(format!("{endpoint}/v1/traces"))
            .build()
            .map_err(|e| failed("traces", &e))?;
        let measures = MetricExporter::builder()
            .with_http()
            .with_http_client(client.clone())
            .with_protocol(Protocol::HttpBinary)
            .with_endpoint(format!("{endpoint}/v1/metrics"))
            .build()
            .map_err(|e| failed("metrics", &e))?;
        let records = LogExporter::builder()
            .with_http()
            .with_http_client(client)
            .with_protocol(Protocol::HttpBinary)
            .with_endpoint(format!("{endpoint}/v1/logs"))
            .build()
            .map_err(|e| failed("logs", &e))?;
        let traces = SdkTracerProvider::builder()
            .with_batch_exporter(spans)
            .with_resource(resource.clone())
            .build();
        let metrics = SdkMeterProvider::builder()
            .with_periodic_exporter(measures)
            .with_resource(resource.clone())
            .build();
        let logs = SdkLoggerProvider::builder()
            .with_batch_exporter(records)
            .with_resource(resource)
            .build();
        global::set_text_map_propagator(TraceContextPropagator::new());
        Ok(Export {
            traces,
            metrics,
            logs,
        })
    }

    fn shutdown(self) {
        for (signal, result) in [
            ("traces", self.traces.shutdown()),
            ("metrics", self.metrics.shutdown()),
            ("logs", self.logs.shutdown()),
        ] {
            if let Err(e) = result {
                eprintln!("tsuzuki: OpenTelemetry {signal} were not all sent: {e}");
            }
        }
    }
}
