//! The model services over HTTP: list, start, stop, restart, inspect their containers and logs, proxy to
//! them, reload the config, and `/metrics`.

use std::convert::Infallible;

use app::api::{
    ContainerInfo, GpuReport, LogsResponse, ReloadResponse, ServiceInfo, ServicesResponse,
    StatsResponse,
};
use axum::extract::{Path, Query, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use axum::{Json, Router};
use futures::StreamExt;
use serde::Deserialize;

use super::ApiError;
use crate::containers::{proxy, Containers, ReloadError, ServiceError};
use crate::session::Sessions;

pub fn router() -> Router<Sessions> {
    Router::new()
        .route("/api/v1/services", get(list))
        .route("/api/v1/service/{id}/start", post(start))
        .route("/api/v1/service/{id}/stop", post(stop))
        .route("/api/v1/service/{id}/restart", post(restart))
        .route("/api/v1/service/{id}/logs", get(logs))
        .route("/api/v1/container/{id}", get(container))
        .route("/api/v1/config/reload", post(reload))
        .route("/api/v1/stats", get(stats))
        .route("/service/{id}/", any(forward_root))
        .route("/service/{id}/{*path}", any(forward))
        .route("/metrics", get(metrics))
}

fn containers<'a>(sessions: &'a Sessions, id: &str) -> Result<&'a Containers, ApiError> {
    sessions
        .containers()
        .ok_or_else(|| ServiceError::UnknownService(id.to_string()).into())
}

async fn list(State(sessions): State<Sessions>) -> Json<ServicesResponse> {
    Json(match sessions.containers() {
        Some(containers) => containers.list(),
        None => ServicesResponse {
            services: Vec::new(),
            gpu_memory_budget_gb: sessions.config().containers.gpu_memory_budget_gb,
            gpu_memory_claimed_gb: 0.0,
            gpus: GpuReport {
                source: "declared".into(),
                reason: Some("no model services are configured".into()),
                devices: Vec::new(),
            },
        },
    })
}

async fn start(
    State(sessions): State<Sessions>,
    Path(id): Path<String>,
) -> Result<Json<ServiceInfo>, ApiError> {
    Ok(Json(containers(&sessions, &id)?.start(&id).await?))
}

async fn stop(
    State(sessions): State<Sessions>,
    Path(id): Path<String>,
) -> Result<Json<ServiceInfo>, ApiError> {
    Ok(Json(containers(&sessions, &id)?.stop(&id).await?))
}

async fn restart(
    State(sessions): State<Sessions>,
    Path(id): Path<String>,
) -> Result<Json<ServiceInfo>, ApiError> {
    Ok(Json(containers(&sessions, &id)?.restart(&id).await?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LogsQuery {
    tail: Option<usize>,
    #[serde(default)]
    follow: bool,
}

/// The container's last lines as JSON, or with `follow=true` as server-sent events (one `data:` per line)
/// until the container stops, then an `end` event.
async fn logs(
    State(sessions): State<Sessions>,
    Path(id): Path<String>,
    query: Result<Query<LogsQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(query) = query
        .map_err(|e| ApiError::invalid(format!("{} (use ?tail=N&follow=true)", e.body_text())))?;
    let tail = query.tail.unwrap_or(100).min(10_000);
    let containers = containers(&sessions, &id)?;
    if !query.follow {
        let (container_id, lines) = containers.logs(&id, tail).await?;
        let reply = LogsResponse {
            service: id,
            container_id,
            lines,
        };
        return Ok(Json(reply).into_response());
    }
    let (_, lines) = containers.follow_logs(&id, tail).await?;
    let events = lines
        .map(|line| Event::default().data(line))
        .chain(futures::stream::once(async {
            Event::default().event("end").data("the container stopped")
        }))
        .map(Ok::<_, Infallible>);
    let mut response = Sse::new(events)
        .keep_alive(KeepAlive::default())
        .into_response();
    response
        .headers_mut()
        .insert("x-accel-buffering", HeaderValue::from_static("no"));
    Ok(response)
}

/// How each service was used through the proxy, since the start and in the last hour.
async fn stats(State(sessions): State<Sessions>) -> Json<StatsResponse> {
    Json(sessions.metrics().usage().stats())
}

/// Reads the config file again; the reply says what changed. An invalid file changes nothing.
async fn reload(State(sessions): State<Sessions>) -> Result<Json<ReloadResponse>, ApiError> {
    let Some(containers) = sessions.containers() else {
        return Err(ReloadError::NoConfigFile.into());
    };
    Ok(Json(containers.reload().await?))
}

impl From<ReloadError> for ApiError {
    fn from(error: ReloadError) -> ApiError {
        let (status, code) = match &error {
            ReloadError::NoConfigFile => (StatusCode::CONFLICT, "no_config_file"),
            ReloadError::Invalid(_) => (StatusCode::UNPROCESSABLE_ENTITY, "invalid_config"),
        };
        ApiError::new(status, code, error.to_string())
    }
}

async fn container(
    State(sessions): State<Sessions>,
    Path(id): Path<String>,
) -> Result<Json<ContainerInfo>, ApiError> {
    Ok(Json(containers(&sessions, &id)?.container(&id).await?))
}

async fn forward_root(
    State(sessions): State<Sessions>,
    Path(id): Path<String>,
    request: Request,
) -> Result<Response, ApiError> {
    forward_to(&sessions, &id, "", request).await
}

async fn forward(
    State(sessions): State<Sessions>,
    Path((id, path)): Path<(String, String)>,
    request: Request,
) -> Result<Response, ApiError> {
    forward_to(&sessions, &id, &path, request).await
}

async fn forward_to(
    sessions: &Sessions,
    id: &str,
    path: &str,
    request: Request,
) -> Result<Response, ApiError> {
    let token = sessions.config().http.api_token.as_deref();
    let (parts, body) = request.into_parts();
    let payload = proxy::Payload::Stream(body);
    Ok(proxy::forward(containers(sessions, id)?, id, path, parts, payload, token).await?)
}

async fn metrics(State(sessions): State<Sessions>) -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
        )],
        {
            let mut text = sessions.metrics().render();
            if let Some(containers) = sessions.containers() {
                crate::gpu::render(&containers.gpus(), &mut text);
            }
            text
        },
    )
}
