//! One stdout line per request, such as `request POST /v1/chat/completions model=foo stream=true`, printed
//! before it is handled (so a stream shows up at once), for container tests that follow the log. The model
//! and stream flag are read from a buffered copy of the body, JSON or multipart alike; a W3C `traceparent`
//! the caller sent is shown too, for tests of trace propagation.

use axum::body::{to_bytes, Body, Bytes};
use axum::extract::{FromRequest, Multipart, Request};
use axum::http::header::CONTENT_TYPE;
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use crate::console::say;
use crate::errors::ApiError;

/// The largest body accepted: room for a few minutes of uncompressed audio.
const BODY_LIMIT: usize = 64 << 20;

pub(crate) async fn log(request: Request, next: Next) -> Response {
    let (parts, body) = request.into_parts();
    let line = format!("request {} {}", parts.method, parts.uri.path());
    let Ok(bytes) = to_bytes(body, BODY_LIMIT).await else {
        say(&line);
        return ApiError::invalid(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("the body is unreadable or larger than {BODY_LIMIT} bytes"),
        )
        .into_response();
    };
    let multipart = parts
        .headers
        .get(CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.starts_with("multipart/form-data"));
    let (model, stream) = if multipart {
        (form_model(&parts, bytes.clone()).await, None)
    } else {
        json_fields(&bytes)
    };
    let model = model.map(|model| format!(" model={model}"));
    let stream = stream.map(|stream| format!(" stream={stream}"));
    let trace = parts
        .headers
        .get("traceparent")
        .and_then(|value| value.to_str().ok())
        .map(|value| format!(" traceparent={value}"));
    say(&format!(
        "{line}{}{}{}",
        model.unwrap_or_default(),
        stream.unwrap_or_default(),
        trace.unwrap_or_default()
    ));
    next.run(Request::from_parts(parts, Body::from(bytes)))
        .await
}

/// `model` and `stream` from a JSON body, where present.
fn json_fields(bytes: &Bytes) -> (Option<String>, Option<bool>) {
    let Ok(body) = serde_json::from_slice::<Value>(bytes) else {
        return (None, None);
    };
    (
        body["model"].as_str().map(str::to_string),
        body["stream"].as_bool(),
    )
}

/// The `model` field of a multipart form, read from a copy of the request.
async fn form_model(parts: &Parts, bytes: Bytes) -> Option<String> {
    let mut copy = Request::new(Body::from(bytes));
    *copy.headers_mut() = parts.headers.clone();
    // The extensions carry the lifted body limit; without it the parser would stop at axum's 2 MB.
    *copy.extensions_mut() = parts.extensions.clone();
    let mut form = Multipart::from_request(copy, &()).await.ok()?;
    while let Ok(Some(field)) = form.next_field().await {
        if field.name() == Some("model") {
            return field.text().await.ok();
        }
    }
    None
}
