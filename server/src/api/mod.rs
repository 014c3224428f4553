//! The JSON API: session control and status, segment downloads, health; the model services, their proxy
//! and metrics.

mod auth;
mod body;
mod download;
mod error;
mod openai;
mod services;

use std::sync::Arc;
use std::time::Duration;

use app::api::{
    FocusModulation, FocusRequest, PromptRequest, PromptResponse, StartRequest, Status,
};
use axum::extract::{DefaultBodyLimit, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::{Json, Router};
use tower_http::timeout::TimeoutLayer;

use crate::session::Sessions;
pub use body::BODY_LIMIT;
use body::{prompt, Body};
pub use error::ApiError;

/// The API routes, with their state applied.
pub fn router(sessions: Sessions) -> Router {
    let token: Option<Arc<str>> = sessions.config().http.api_token.as_deref().map(Arc::from);
    // Service starts can take minutes (the first one downloads models): no timeout there.
    // Starting a session starts the managed GPU container: then only the token's holders may control it.
    let control_token = token.clone().filter(|_| sessions.is_managed());
    // OpenAI clients send their API key as a bearer token: the server's token serves as that key.
    let guarded = services::router()
        .merge(openai::router())
        .layer(axum::middleware::from_fn_with_state(token, auth::require));
    let control = Router::new()
        .route("/session/start", post(start))
        .route("/session/prompt", post(set_prompt))
        .route("/session/focus", post(set_focus))
        .route("/session/stop", post(stop))
        .layer(axum::middleware::from_fn_with_state(
            control_token,
            auth::require,
        ))
        .route("/session/status", get(status))
        .route("/health", get(health))
        .route("/api/v1/config/schema", get(schema))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            Duration::from_secs(30),
        ));
    Router::new()
        .merge(control)
        // Downloads may be slow on a poor network; they get no timeout.
        .route("/audio/{file}", get(download::audio))
        .merge(guarded)
        .method_not_allowed_fallback(|| async {
            ApiError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                "method not allowed here",
            )
        })
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(axum::middleware::from_fn(crate::telemetry::request_span))
        .with_state(sessions)
}

async fn start(
    State(sessions): State<Sessions>,
    Body(request): Body<StartRequest>,
) -> Result<Json<Status>, ApiError> {
    let prompt = prompt(request.prompt.as_deref())?;
    let focus = request.focus_modulation.unwrap_or_default();
    Ok(Json(sessions.start(Some(prompt), focus).await?))
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

/// Like [`MaybePrompt`]: an empty body names no setting, so it is refused.
#[derive(serde::Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct MaybeFocus {
    focus_modulation: Option<FocusModulation>,
}

/// Changes the focus modulation from the next segment made; the reply is the setting now in force.
async fn set_focus(
    State(sessions): State<Sessions>,
    Body(request): Body<MaybeFocus>,
) -> Result<Json<FocusRequest>, ApiError> {
    let Some(focus_modulation) = request.focus_modulation else {
        return Err(ApiError::invalid(
            "focus_modulation: missing field `focus_modulation` (off, low, medium or high)",
        ));
    };
    let focus_modulation = sessions.set_focus(focus_modulation)?;
    Ok(Json(FocusRequest { focus_modulation }))
}

async fn stop(State(sessions): State<Sessions>) -> Json<Status> {
    Json(sessions.stop().await)
}

async fn status(State(sessions): State<Sessions>) -> Json<Status> {
    Json(sessions.status())
}

/// The config file's JSON Schema (for editors: YAML's `# yaml-language-server: $schema=…`).
async fn schema() -> Json<serde_json::Value> {
    Json(crate::config::Config::schema())
}

async fn health(State(sessions): State<Sessions>) -> impl IntoResponse {
    Json(sessions.health().await)
}
