//! One span per HTTP request, named as OpenTelemetry names HTTP server spans (`GET /audio/{file}`: the
//! route, not the path, so names stay few), with the status it was answered with.

use axum::extract::{MatchedPath, Request};
use axum::middleware::Next;
use axum::response::Response;
use tracing::field::Empty;
use tracing::Instrument;

/// Middleware: runs the rest of the request inside its span.
pub async fn span(request: Request, next: Next) -> Response {
    let method = request.method().clone();
    let name = match request.extensions().get::<MatchedPath>() {
        Some(route) => format!("{method} {}", route.as_str()),
        None => method.to_string(),
    };
    let span = tracing::info_span!(
        "http",
        otel.name = name,
        otel.kind = "server",
        otel.status_code = Empty,
        http.request.method = %method,
        url.path = request.uri().path(),
        http.response.status_code = Empty,
    );
    super::context::continue_from(&span, request.headers());
    let response = next.run(request).instrument(span.clone()).await;
    let status = response.status();
    span.record("http.response.status_code", status.as_u16());
    if status.is_server_error() {
        span.record("otel.status_code", "ERROR");
    }
    response
}
