//! One OpenAI-compatible endpoint for every model server: `/v1/*` requests go to the service that declares
//! the body's `model` (JSON or multipart), started on demand; nothing else is rewritten, and answers stream
//! through as the proxy passes them. `GET /v1/models` lists every declared model. Errors come in OpenAI's
//! shape, which clients of those servers already read.

use std::time::{SystemTime, UNIX_EPOCH};

use axum::body::{to_bytes, Bytes};
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};

use super::ApiError;
use crate::containers::{lifecycle, proxy, Containers};
use crate::session::Sessions;

/// Audio uploads for transcription are the largest bodies (OpenAI's own limit is 25 MB).
const BODY_LIMIT: usize = 64 * 1024 * 1024;

pub fn router() -> Router<Sessions> {
    let routed = post(route);
    Router::new()
        .route("/v1/models", get(models))
        .route("/v1/chat/completions", routed.clone())
        .route("/v1/completions", routed.clone())
        .route("/v1/embeddings", routed.clone())
        .route("/v1/responses", routed.clone())
        .route("/v1/rerank", routed.clone())
        .route("/v1/audio/{*rest}", routed.clone())
        .route("/v1/images/{*rest}", routed)
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
}

/// An error as OpenAI's API writes it: `{"error": {"message", "type", "param", "code"}}`.
pub struct OpenAiError(ApiError);

impl From<ApiError> for OpenAiError {
    fn from(error: ApiError) -> OpenAiError {
        OpenAiError(error)
    }
}

impl IntoResponse for OpenAiError {
    fn into_response(self) -> Response {
        let error = self.0;
        let kind = match error.status {
            StatusCode::UNAUTHORIZED => "authentication_error",
            StatusCode::TOO_MANY_REQUESTS => "rate_limit_error",
            s if s.is_client_error() => "invalid_request_error",
            _ => "server_error",
        };
        let param = matches!(error.code, "model_not_found" | "model_missing").then_some("model");
        let body = json!({"error": {
            "message": error.message,
            "type": kind,
            "param": param,
            "code": error.code,
        }});
        let mut response = (error.status, Json(body)).into_response();
        if let Some(seconds) = error.retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}

fn containers(sessions: &Sessions) -> Result<&Containers, OpenAiError> {
    sessions.containers().ok_or_else(|| {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "model_not_found",
            "no model services are configured",
        )
        .into()
    })
}

async fn models(State(sessions): State<Sessions>) -> Json<Value> {
    let created = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let services = sessions
        .containers()
        .map(|c| c.list().services)
        .unwrap_or_default();
    let data: Vec<Value> = services
        .iter()
        .flat_map(|service| {
            service.models.iter().map(move |model| {
                json!({
                    "id": model,
                    "object": "model",
                    "created": created,
                    "owned_by": "tsuzuki",
                    "service": service.id,
                    "state": lifecycle::word(service.state),
                })
            })
        })
        .collect();
    Json(json!({"object": "list", "data": data}))
}

async fn route(
    State(sessions): State<Sessions>,
    request: Request,
) -> Result<Response, OpenAiError> {
    let containers = containers(&sessions)?;
    let (parts, body) = request.into_parts();
    let bytes = to_bytes(body, BODY_LIMIT).await.map_err(|e| {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "body_too_large",
            format!("the request body could not be read: {e}"),
        )
    })?;
    let content_type = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let model = model_of(content_type, &bytes)
        .await
        .map_err(|message| ApiError::new(StatusCode::BAD_REQUEST, "invalid_body", message))?
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "model_missing",
                "you must provide a model parameter",
            )
        })?;
    let id = containers.service_for_model(&model).ok_or_else(|| {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "model_not_found",
            format!("the model `{model}` does not exist here (GET /v1/models lists them)"),
        )
    })?;
    let path = parts.uri.path().trim_start_matches('/').to_string();
    let token = sessions.config().http.api_token.as_deref();
    // Held whole: the model had to be read from it, and it can be sent again after an out-of-memory.
    let payload = proxy::Payload::Held(bytes);
    proxy::forward(containers, &id, &path, parts, payload, token)
        .await
        .map_err(|e| ApiError::from(e).into())
}

/// The `model` a request names: the JSON body's field, or the multipart form's part. `Err` for a body that
/// cannot be read as what its content type says.
async fn model_of(content_type: &str, body: &Bytes) -> Result<Option<String>, String> {
    if content_type.starts_with("multipart/form-data") {
        let boundary = multer::parse_boundary(content_type)
            .map_err(|e| format!("the multipart body has no usable boundary: {e}"))?;
        let chunk = Ok::<Bytes, std::io::Error>(body.clone());
        let mut form = multer::Multipart::new(futures::stream::once(async { chunk }), boundary);
        while let Some(field) = form
            .next_field()
            .await
            .map_err(|e| format!("the multipart body is malformed: {e}"))?
        {
            if field.name() == Some("model") {
                let text = field.text().await.map_err(|e| e.to_string())?;
                return Ok(Some(text.trim().to_string()).filter(|m| !m.is_empty()));
            }
        }
        return Ok(None);
    }
    let value: Value =
        serde_json::from_slice(body).map_err(|e| format!("the body is not valid JSON: {e}"))?;
    Ok(value
        .get("model")
        .and_then(Value::as_str)
        .map(str::to_string)
        .filter(|m| !m.is_empty()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_model_is_read_from_json_or_a_multipart_form() {
        let json = Bytes::from_static(br#"{"model": "qwen", "messages": []}"#);
        assert_eq!(
            model_of("application/json", &json).await,
            Ok(Some("qwen".into()))
        );
        let none = Bytes::from_static(br#"{"messages": []}"#);
        assert_eq!(model_of("application/json", &none).await, Ok(None));
        assert!(model_of("application/json", &Bytes::from_static(b"{"))
            .await
            .is_err());
        let form = Bytes::from_static(
            b"--XX\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.wav\"\r\n\r\nRIFF\r\n\
              --XX\r\nContent-Disposition: form-data; name=\"model\"\r\n\r\nwhisper\r\n--XX--\r\n",
        );
        assert_eq!(
            model_of("multipart/form-data; boundary=XX", &form).await,
            Ok(Some("whisper".into()))
        );
    }
}
