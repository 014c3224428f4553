//! The pretend model load: the port is open from the start, but until the startup delay has passed every
//! endpoint answers 503, as llama-server does while its weights load. With `out_of_memory_answers`, the
//! model endpoints then fail as a server whose GPU filled up does.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

use crate::console::say;
use crate::errors::ApiError;
use crate::Server;

/// Waits out `delay`, printing progress about every 100 ms, then marks the server ready.
pub(crate) async fn load(server: Arc<Server>, delay: Duration) {
    let steps = delay.as_millis().div_ceil(100).min(u128::from(u32::MAX)) as u32;
    for step in 1..=steps {
        tokio::time::sleep(delay / steps).await;
        say(&format!("loading model: {}%", step * 100 / steps));
    }
    server.ready.store(true, Ordering::Release);
    say("model loaded");
}

/// Refuses every request with llama-server's 503 until the load is over.
pub(crate) async fn gate(
    State(server): State<Arc<Server>>,
    request: Request,
    next: Next,
) -> Response {
    if !server.ready.load(Ordering::Acquire) {
        return ApiError::loading().into_response();
    }
    let path = request.uri().path();
    if server.out_of_memory_answers && path.starts_with("/v1/") && path != "/v1/models" {
        return ApiError::out_of_memory().into_response();
    }
    next.run(request).await
}

/// `GET /health` once loaded (the gate answers before).
pub(crate) async fn health() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}
