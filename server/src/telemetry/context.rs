//! W3C trace context on HTTP: a request that arrives with a `traceparent` continues its caller's trace, and
//! the calls we make carry ours, so a model server that traces too nests its spans under the proxied call.

use opentelemetry::global;
use opentelemetry_http::{HeaderExtractor, HeaderInjector};
use tracing::Instrument;
use tracing_opentelemetry::OpenTelemetrySpanExt;

/// Makes `span` a child of the trace `headers` name, if they name one.
pub(super) fn continue_from(span: &tracing::Span, headers: &http::HeaderMap) {
    let parent = global::get_text_map_propagator(|p| p.extract(&HeaderExtractor(headers)));
    // Fails only when the span is not recorded for OpenTelemetry: then there is nothing to continue.
    let _ = span.set_parent(parent);
}

/// Puts `span` in `parent`'s trace as its child, for OpenTelemetry only: a task that outlives the request
/// that began it keeps its own line in the terminal.
pub(crate) fn follow(span: &tracing::Span, parent: &tracing::Span) {
    let _ = span.set_parent(parent.context());
}

/// Sends `request` as the call `span` stands for (a client span that declares `otel.status_code` and
/// `http.response.status_code`), carrying its trace context in place of any the request had, and records
/// how it went.
pub(crate) async fn send_in(
    span: &tracing::Span,
    request: reqwest::RequestBuilder,
) -> reqwest::Result<reqwest::Response> {
    let reply = span
        .in_scope(|| propagate(request))
        .send()
        .instrument(span.clone())
        .await;
    match &reply {
        Ok(reply) => span.record("http.response.status_code", reply.status().as_u16()),
        Err(_) => span.record("otel.status_code", "ERROR"),
    };
    reply
}

/// `request` with the current span's trace context in its headers.
fn propagate(request: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
    let context = tracing::Span::current().context();
    let mut headers = http::HeaderMap::new();
    global::get_text_map_propagator(|p| {
        p.inject_context(&context, &mut HeaderInjector(&mut headers))
    });
    if headers.is_empty() {
        return request;
    }
    request.headers(headers)
}
