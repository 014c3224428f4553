//! The JSON API: session control and status, segment downloads, health; the model services, their proxy
//! and metrics.

mod auth;
mod body;
mod error;
mod services;

use std::sync::Arc;
use std::time::{Duration, Instant};

use app::api::{
    PromptRequest, PromptResponse, StartRequest, Status, JOIN_CORRELATED_HEADER,
    JOIN_CORRELATION_HEADER, SEGMENT_INDEX_HEADER,
};
use axum::body::Body as HttpBody;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use futures::{Stream, StreamExt};
use tokio_util::io::ReaderStream;
use tower_http::timeout::TimeoutLayer;

use crate::metrics::{Metrics, Served};
use crate::session::{Sessions, Which};
pub use body::BODY_LIMIT;
use body::{prompt, Body};
pub use error::ApiError;

/// The API routes, with their state applied.
pub fn router(sessions: Sessions) -> Router {
    let token: Option<Arc<str>> = sessions.config().http.api_token.as_deref().map(Arc::from);
    // Service starts can take minutes (the first one downloads models): no timeout there.
    // Starting a session starts the managed GPU container: then only the token's holders may control it.
    let control_token = token.clone().filter(|_| sessions.is_managed());
    let guarded =
        services::router().layer(axum::middleware::from_fn_with_state(token, auth::require));
    let control = Router::new()
        .route("/session/start", post(start))
        .route("/session/prompt", post(set_prompt))
        .route("/session/stop", post(stop))
        .layer(axum::middleware::from_fn_with_state(
            control_token,
            auth::require,
        ))
        .route("/session/status", get(status))
        .route("/health", get(health))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            Duration::from_secs(30),
        ));
    Router::new()
        .merge(control)
        // Downloads may be slow on a poor network; they get no timeout.
        .route("/audio/{file}", get(audio))
        .merge(guarded)
        .method_not_allowed_fallback(|| async {
            ApiError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                "method not allowed here",
            )
        })
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .with_state(sessions)
}

async fn start(
    State(sessions): State<Sessions>,
    Body(request): Body<StartRequest>,
) -> Result<Json<Status>, ApiError> {
    let prompt = prompt(request.prompt.as_deref())?;
    Ok(Json(sessions.start(Some(prompt)).await?))
}

/// A prompt body has no sensible default, so an empty one is refused like a missing field.
#[derive(serde::Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct MaybePrompt {
    prompt: Option<String>,
}

async fn set_prompt(
    State(sessions): State<Sessions>,
    Body(request): Body<MaybePrompt>,
) -> Result<Json<PromptResponse>, ApiError> {
    let Some(raw) = request.prompt else {
        return Err(ApiError::invalid("prompt: missing field `prompt`"));
    };
    let request = PromptRequest {
        prompt: prompt(Some(&raw))?,
    };
    Ok(Json(sessions.set_prompt(request.prompt)?))
}

async fn stop(State(sessions): State<Sessions>) -> Json<Status> {
    Json(sessions.stop().await)
}

async fn status(State(sessions): State<Sessions>) -> Json<Status> {
    Json(sessions.status())
}

async fn health(State(sessions): State<Sessions>) -> impl IntoResponse {
    Json(sessions.health().await)
}

/// `GET /audio/current.wav` or `GET /audio/{n}.wav`, streamed from disk. When the last byte has been handed
/// to the connection, the session hears of the download (that is what lets generation move on).
async fn audio(
    State(sessions): State<Sessions>,
    Path(file): Path<String>,
) -> Result<Response, ApiError> {
    let which = match file.strip_suffix(".wav") {
        Some("current") => Which::Current,
        Some(n) if !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) => {
            Which::Index(n.parse().map_err(|_| {
                ApiError::new(StatusCode::NOT_FOUND, "no_such_segment", "no such segment")
            })?)
        }
        _ => {
            return Err(ApiError::new(
                StatusCode::NOT_FOUND,
                "no_such_segment",
                "segments are named current.wav or <number>.wav",
            ))
        }
    };
    let started = Instant::now();
    let segment = sessions.open(which)?;
    let (session_id, index, bytes) = (segment.session_id, segment.index, segment.bytes);
    let join = segment.join;
    let file = ReaderStream::with_capacity(tokio::fs::File::from_std(segment.file), 64 * 1024);
    let body = Counted {
        file,
        sent: 0,
        total: bytes,
        metrics: sessions.metrics().clone(),
        done: Some(Box::new(move || {
            sessions.downloaded(&session_id, index, started.elapsed(), bytes)
        })),
    };
    let mut response = HttpBody::from_stream(body).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("audio/wav"));
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(bytes));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(SEGMENT_INDEX_HEADER, HeaderValue::from(index));
    let correlated = join.is_some_and(|j| j.correlated);
    headers.insert(
        JOIN_CORRELATED_HEADER,
        HeaderValue::from_static(if correlated { "true" } else { "false" }),
    );
    let correlation = join.map_or(0.0, |j| j.correlation);
    if let Ok(value) = HeaderValue::from_str(&format!("{correlation:.3}")) {
        headers.insert(JOIN_CORRELATION_HEADER, value);
    }
    headers.insert(
        header::ACCESS_CONTROL_EXPOSE_HEADERS,
        HeaderValue::from_static("x-segment-index, x-join-correlated, x-join-correlation"),
    );
    Ok(response)
}

/// A segment's body that reports when every byte has been handed to the connection. It reports on drop,
/// because with a known Content-Length hyper stops polling once the last byte is out.
struct Counted {
    file: ReaderStream<tokio::fs::File>,
    sent: u64,
    total: u64,
    metrics: Arc<Metrics>,
    done: Option<Box<dyn FnOnce() + Send>>,
}

impl Stream for Counted {
    type Item = std::io::Result<bytes::Bytes>;

    fn poll_next(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Self::Item>> {
        let next = self.file.poll_next_unpin(cx);
        if let std::task::Poll::Ready(Some(Ok(chunk))) = &next {
            self.sent += chunk.len() as u64;
            self.metrics.served(Served::Audio, chunk.len() as u64);
        }
        next
    }
}

impl Drop for Counted {
    fn drop(&mut self) {
        if self.sent == self.total {
            if let Some(done) = self.done.take() {
                done();
            }
        }
    }
}
