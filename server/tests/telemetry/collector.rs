//! An OpenTelemetry collector inside the test: it takes OTLP/HTTP protobuf at the standard paths and keeps
//! what it decodes with the protocol's own message types.

use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::routing::post;
use axum::Router;
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, KeyValue};
use opentelemetry_proto::tonic::trace::v1::Span;
use prost::Message;

#[derive(Default)]
pub struct Received {
    pub spans: Vec<Span>,
    /// The `service.name` of every resource that sent anything.
    pub services: Vec<String>,
    pub metrics: Vec<String>,
    pub logs: Vec<String>,
}

pub struct Collector {
    pub base: String,
    received: Arc<Mutex<Received>>,
}

type Shared = State<Arc<Mutex<Received>>>;

impl Collector {
    pub async fn start() -> Collector {
        let received = Arc::new(Mutex::new(Received::default()));
        let app = Router::new()
            .route("/v1/traces", post(traces))
            .route("/v1/metrics", post(metrics))
            .route("/v1/logs", post(logs))
            .with_state(received.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        Collector { base, received }
    }

    pub fn received(&self) -> std::sync::MutexGuard<'_, Received> {
        self.received.lock().unwrap()
    }
}

/// An empty message is a full success in OTLP.
fn accepted() -> (StatusCode, [(header::HeaderName, &'static str); 1], Vec<u8>) {
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/x-protobuf")],
        Vec::new(),
    )
}

fn service_name(attributes: &[KeyValue]) -> String {
    attributes
        .iter()
        .find(|a| a.key == "service.name")
        .map(|a| text(a.value.as_ref()))
        .unwrap_or_default()
}

pub fn text(value: Option<&AnyValue>) -> String {
    match value.and_then(|v| v.value.as_ref()) {
        Some(any_value::Value::StringValue(s)) => s.clone(),
        Some(any_value::Value::IntValue(i)) => i.to_string(),
        Some(other) => format!("{other:?}"),
        None => String::new(),
    }
}

async fn traces(State(received): Shared, body: Bytes) -> impl axum::response::IntoResponse {
    let request = ExportTraceServiceRequest::decode(body).expect("an OTLP trace export");
    let mut received = received.lock().unwrap();
    for resource in request.resource_spans {
        let attributes = resource.resource.map(|r| r.attributes).unwrap_or_default();
        received.services.push(service_name(&attributes));
        for scope in resource.scope_spans {
            received.spans.extend(scope.spans);
        }
    }
    accepted()
}

async fn metrics(State(received): Shared, body: Bytes) -> impl axum::response::IntoResponse {
    let request = ExportMetricsServiceRequest::decode(body).expect("an OTLP metrics export");
    let mut received = received.lock().unwrap();
    for resource in request.resource_metrics {
        for scope in resource.scope_metrics {
            received
                .metrics
                .extend(scope.metrics.into_iter().map(|m| m.name));
        }
    }
    accepted()
}

async fn logs(State(received): Shared, body: Bytes) -> impl axum::response::IntoResponse {
    let request = ExportLogsServiceRequest::decode(body).expect("an OTLP logs export");
    let mut received = received.lock().unwrap();
    for resource in request.resource_logs {
        for scope in resource.scope_logs {
            received.logs.extend(
                scope
                    .log_records
                    .into_iter()
                    .map(|record| text(record.body.as_ref())),
            );
        }
    }
    accepted()
}
