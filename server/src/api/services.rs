//! The model services over HTTP: list, start, stop, inspect their containers, proxy to them, and `/metrics`.

use app::api::{ContainerInfo, ServiceInfo, ServicesResponse};
use axum::extract::{Path, Request, State};
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use axum::{Json, Router};

use super::ApiError;
use crate::containers::{proxy, Containers, ServiceError};
use crate::session::Sessions;

pub fn router() -> Router<Sessions> {
    Router::new()
        .route("/api/v1/services", get(list))
        .route("/api/v1/service/{id}/start", post(start))
        .route("/api/v1/service/{id}/stop", post(stop))
        .route("/api/v1/container/{id}", get(container))
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
    Ok(proxy::forward(containers(sessions, id)?, id, path, request, token).await?)
}

async fn metrics(State(sessions): State<Sessions>) -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
        )],
        sessions.metrics().render(),
    )
}
